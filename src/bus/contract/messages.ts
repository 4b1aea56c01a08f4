/**
 * Payloads of the volume and snapshot commands and events, the heartbeats, the live views
 * and the start-up reconciliation, declared once with their validators (the other areas
 * have files of their own; registry.ts says which kind carries which). The scheduler, the
 * agents and the gateway import these; this module imports nothing of theirs.
 */
import { z } from 'zod';
import { VOLUME_OUTCOMES, VOLUME_STATUSES } from '../../domain/volume-states.js';
import { SNAPSHOT_STATUSES } from '../../domain/snapshot-states.js';
import { MIGRATION_STATUSES } from '../../domain/migration.js';
import { TARGET_KINDS } from '../../domain/attachment-states.js';
import { volumeEncryption } from './encryption-messages.js';
import { reconcileAttachment } from './attachment-messages.js';
import { reconcileBackups } from './backup-messages.js';

const id = z.string().min(1).max(128);
const gib = z.number().int().positive();

export const volumeTypeSpec = z.object({
  name: z.string(),
  extraSpecs: z.record(z.string(), z.string()),
});
export type VolumeTypeSpec = z.infer<typeof volumeTypeSpec>;


/** What the scheduler needs to place a volume; carried along so an agent can reschedule. */
export const placementRequest = z.object({
  volumeId: id,
  projectId: id,
  sizeGiB: gib,
  availabilityZone: z.string().nullable(),
  volumeType: volumeTypeSpec.nullable(),
  /**
   * `host@pool` the volume must land on: a copy of a snapshot or volume is made by the
   * source's driver, within its pool (checked by the SameBackendFilter).
   */
  sameBackendAs: z.string().optional(),
  /**
   * A restore into this new volume: only pools whose agent reaches the backup's repository
   * may take it (checked by the BackupRepositoryFilter). `repositoryId` is the repository's
   * identity as the backup recorded it; a backup recorded before identities existed has
   * none, and then the host that took it (`host`) is the one known to reach it.
   */
  nearBackupRepository: z
    .object({ backupId: id, repository: z.string(), repositoryId: z.string().nullable(), host: z.string().nullable() })
    .optional(),
  /** Set for an encrypted volume: the agent makes it encrypted with this key. */
  encryption: volumeEncryption.optional(),
});
export type PlacementRequest = z.infer<typeof placementRequest>;

export const scheduleCreate = z.object({
  operationId: id,
  request: placementRequest,
  /** 1 for the first try; an agent that fails a create sends the request back with attempt + 1. */
  attempt: z.number().int().min(1),
  /** Pools (`host@pool`) already tried and failed, with why. */
  excluded: z.array(z.object({ pool: z.string(), reason: z.string() })),
  /** For a copy (with `request.sameBackendAs`): what to copy, passed on to the agent (see `agentCreate`). */
  source: z.object({ volumeId: id, snapshotId: id.optional() }).optional(),
});
export type ScheduleCreate = z.infer<typeof scheduleCreate>;

export const scheduleExtend = z.object({
  operationId: id,
  volumeId: id,
  host: z.string(),
  pool: z.string(),
  oldSizeGiB: gib,
  newSizeGiB: gib,
  /** The volume's type, so a thick volume is checked as thick (optional: older gateways did not send it). */
  volumeType: volumeTypeSpec.nullable().optional(),
});
export type ScheduleExtend = z.infer<typeof scheduleExtend>;

export const agentCreate = z.object({
  operationId: id,
  volumeId: id,
  pool: z.string(),
  sizeGiB: gib,
  attempt: z.number().int().min(1),
  request: placementRequest,
  excluded: scheduleCreate.shape.excluded,
  /**
   * Make the volume a copy of this source on the same pool: of the snapshot `snapshotId`
   * of volume `volumeId` when given, else of the volume `volumeId` itself (a clone).
   */
  source: scheduleCreate.shape.source,
});
export type AgentCreate = z.infer<typeof agentCreate>;

export const agentDelete = z.object({ operationId: id, volumeId: id, pool: z.string() });
export type AgentDelete = z.infer<typeof agentDelete>;

export const agentExtend = z.object({ operationId: id, volumeId: id, pool: z.string(), newSizeGiB: gib });
export type AgentExtend = z.infer<typeof agentExtend>;

/** Snapshot commands go straight to the agent holding the volume (`host` is known). */
export const agentCreateSnapshot = z.object({ operationId: id, snapshotId: id, volumeId: id, pool: z.string() });
export type AgentCreateSnapshot = z.infer<typeof agentCreateSnapshot>;

export const agentDeleteSnapshot = z.object({ operationId: id, snapshotId: id, volumeId: id, pool: z.string() });
export type AgentDeleteSnapshot = z.infer<typeof agentDeleteSnapshot>;

/** Reverts the volume to its (latest) snapshot in place; the outcome goes to the volume's subject. */
export const agentRevert = z.object({ operationId: id, volumeId: id, snapshotId: id, pool: z.string() });
export type AgentRevert = z.infer<typeof agentRevert>;

export const SNAPSHOT_OUTCOME_NAMES = ['create.succeeded', 'create.failed', 'delete.succeeded', 'delete.failed'] as const;
export const snapshotOutcome = z.object({
  operationId: id,
  snapshotId: id,
  volumeId: id,
  outcome: z.enum(SNAPSHOT_OUTCOME_NAMES),
  /** On failure: a code from the public list and a message for the user. */
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type SnapshotOutcomeEvent = z.infer<typeof snapshotOutcome>;

export const volumeScheduled = z.object({
  operationId: id,
  volumeId: id,
  host: z.string(),
  pool: z.string(),
  availabilityZone: z.string(),
  attempt: z.number().int(),
});
export type VolumeScheduled = z.infer<typeof volumeScheduled>;

const outcomeNames = Object.keys(VOLUME_OUTCOMES) as [keyof typeof VOLUME_OUTCOMES, ...(keyof typeof VOLUME_OUTCOMES)[]];

export const volumeOutcome = z.object({
  operationId: id,
  volumeId: id,
  outcome: z.enum(outcomeNames),
  host: z.string().optional(),
  pool: z.string().optional(),
  sizeGiB: gib.optional(),
  /** On failure: a code from the public list and a message for the user (what failed, why, what to do). */
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type VolumeOutcomeEvent = z.infer<typeof volumeOutcome>;

/** Heartbeat of one pool, kept in the `flint-pools` KV bucket. Capacities in GiB. */
export const poolStats = z.object({
  host: z.string(),
  pool: z.string(),
  driver: z.string(),
  availabilityZone: z.string(),
  totalCapacityGiB: z.number().nonnegative(),
  freeCapacityGiB: z.number().nonnegative(),
  /** Sum of the virtual sizes of the pool's images, as the driver sees them. */
  provisionedCapacityGiB: z.number().nonnegative(),
  volumeCount: z.number().int().nonnegative(),
  maxOverSubscriptionRatio: z.number().min(1),
  reservedPercentage: z.number().min(0).max(100),
  thinProvisioningSupport: z.boolean(),
  thickProvisioningSupport: z.boolean(),
  imageFormat: z.enum(['raw', 'qcow2']),
  /** Export kinds the pool offers to attachments (its config's `targets`). Absent from older agents: read as both. */
  targets: z.array(z.enum(TARGET_KINDS)).optional(),
  /** The kind an attachment gets when it asks for none (its config's `defaultTarget`). Absent from older agents: read as iscsi. */
  defaultTarget: z.enum(TARGET_KINDS).optional(),
  capabilities: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  updatedAt: z.string(),
  /** The backup repository the pool's agent reaches (its spec) and that repository's identity (src/node-agent/backup/repository-id.ts); absent from older agents or when it could not be opened. */
  backupRepository: z.string().optional(),
  backupRepositoryId: z.string().optional(),
});
export type PoolStats = z.infer<typeof poolStats>;

export const SERVICE_ROLES = ['gateway', 'scheduler', 'agent'] as const;
export const serviceHeartbeat = z.object({
  host: z.string(),
  role: z.enum(SERVICE_ROLES),
  availabilityZone: z.string(),
  version: z.string(),
  startedAt: z.string(),
  heartbeatAt: z.string(),
  /** Seconds between heartbeats: a service silent for `MISSED_BEATS_DOWN` of them is DOWN (src/domain/liveness.ts). */
  intervalSeconds: z.number().positive(),
  /**
   * An agent's backend hosts: the virtual hosts of shared pools (a pool's `backendHost`) it
   * serves besides its own, whose attachments the gateway may send it. Absent from older
   * agents and from other roles: none.
   */
  backends: z.array(z.string()).optional(),
});
export type ServiceHeartbeat = z.infer<typeof serviceHeartbeat>;

/** The API's view of a volume, as fanned out to subscribers on `flint.live.>`. */
export const volumeView = z.object({
  id: id,
  projectId: id,
  name: z.string(),
  description: z.string().nullable(),
  sizeGiB: gib,
  status: z.enum(VOLUME_STATUSES),
  volumeType: z.string().nullable(),
  availabilityZone: z.string(),
  metadata: z.record(z.string(), z.string()),
  version: z.number().int(),
  /** The seq of its latest change in its project's change feed (optional: older gateways did not send it). */
  changeSeq: z.number().int().optional(),
  /** Changes to the fields its user sets (src/domain/generation.ts; optional: older gateways did not send it). */
  generation: z.number().int().optional(),
  /** The key it was created with (optional: older gateways did not send it). */
  idempotencyKey: z.string().nullable().optional(),
  host: z.string().nullable(),
  pool: z.string().nullable(),
  /** The snapshot it was created from (optional: older gateways did not send it). */
  snapshotId: z.string().nullable().optional(),
  /** The volume it was cloned from (optional: older gateways did not send it). */
  sourceVolumeId: z.string().nullable().optional(),
  /** Progress of its last migration (optional: older gateways did not send it). */
  migrationStatus: z.enum(MIGRATION_STATUSES).nullable().optional(),
  /** Whether it may be attached more than once at a time (optional: older gateways did not send it). */
  multiattach: z.boolean().optional(),
  /** Whether its bytes are encrypted at rest (optional: older gateways did not send it). */
  encrypted: z.boolean().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type VolumeView = z.infer<typeof volumeView>;

export const LIVE_EVENT_TYPES = ['CREATED', 'UPDATED', 'DELETED'] as const;
/**
 * What travels on `flint.live.<project>.<resource>.<id>` (contract v2): only which row changed
 * (and whether it was made). Each gateway reads the row from the database and hands that to
 * its subscribers, so a forged live message can at most make a gateway read the truth again.
 * `LiveVolume` and its siblings below are the in-process events built from that row.
 */
export const liveNotice = z.object({
  id: z.string().min(1).max(64),
  type: z.enum(LIVE_EVENT_TYPES).optional(),
  /** A volume or snapshot that moved to another project (a transfer): the project it left, told it is gone. */
  leftProject: z.string().min(1).max(64).optional(),
});
export type LiveNotice = z.infer<typeof liveNotice>;

export const liveVolume = z.object({ type: z.enum(LIVE_EVENT_TYPES), volume: volumeView });
export type LiveVolume = z.infer<typeof liveVolume>;

/** The API's view of a snapshot, fanned out on `flint.live.<project>.snapshot.<id>`. */
export const snapshotView = z.object({
  id: id,
  projectId: id,
  volumeId: id,
  name: z.string(),
  description: z.string().nullable(),
  /** Its user's key/value pairs (optional: older gateways did not send it). */
  metadata: z.record(z.string(), z.string()).optional(),
  sizeGiB: gib,
  status: z.enum(SNAPSHOT_STATUSES),
  version: z.number().int(),
  /** The seq of its latest change in its project's change feed (optional: older gateways did not send it). */
  changeSeq: z.number().int().optional(),
  /** Changes to its name, description and metadata (optional: older gateways did not send it). */
  generation: z.number().int().optional(),
  /** The key it was created with (optional: older gateways did not send it). */
  idempotencyKey: z.string().nullable().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SnapshotView = z.infer<typeof snapshotView>;
export const liveSnapshot = z.object({ type: z.enum(LIVE_EVENT_TYPES), snapshot: snapshotView });
export type LiveSnapshot = z.infer<typeof liveSnapshot>;

export const OPERATION_STATUSES = ['pending', 'running', 'succeeded', 'failed'] as const;

/** The API's view of an operation, fanned out on `flint.live.<project>.operation.<id>` when it is created or changes. */
export const operationView = z.object({
  id: id,
  projectId: id,
  kind: z.string(),
  resourceType: z.string(),
  resourceId: id,
  status: z.enum(OPERATION_STATUSES),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  /** When it is given up if still open (optional: older gateways did not send it). */
  deadlineAt: z.string().nullable().optional(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type OperationView = z.infer<typeof operationView>;
export const liveOperation = z.object({ operation: operationView });
export type LiveOperation = z.infer<typeof liveOperation>;

/** A user message as fanned out on `flint.live.<project>.message.<id>` when it is added. */
export const userMessageView = z.object({
  id: id,
  projectId: id,
  resourceType: z.string(),
  resourceId: id,
  event: z.string(),
  message: z.string(),
  level: z.enum(['ERROR', 'WARNING', 'INFO']),
  createdAt: z.string(),
  expiresAt: z.string(),
});
export type UserMessageView = z.infer<typeof userMessageView>;
export const liveMessage = z.object({ message: userMessageView });
export type LiveMessage = z.infer<typeof liveMessage>;

/**
 * Request on `flint.rpc.reconcile.<host>`: which volumes does the DB place on this host? The
 * gateway answers for the host of the subject (which NATS lets only that agent use), and
 * only when `host` names the same host.
 */
export const reconcileRequest = z.object({ host: z.string().min(1) });
export type ReconcileRequest = z.infer<typeof reconcileRequest>;

/** A gateway's answer from the DB: every volume on the host that is not DELETED, with its status and version. */
export const reconcileReply = z.object({
  host: z.string(),
  volumes: z.array(z.object({ volumeId: id, pool: z.string().nullable(), status: z.enum(VOLUME_STATUSES), version: z.number().int() })),
  /** The exports the host should have (attachments), with their CHAP secrets (optional: older gateways did not send it). */
  attachments: z.array(reconcileAttachment).optional(),
  /** Backups the DB has this host working on (issue 5; optional: older gateways do not send it). */
  backups: reconcileBackups.optional(),
});
export type ReconcileReply = z.infer<typeof reconcileReply>;

/** An agent did not find a volume's image on its pool (on `flint.evt.agent.<host>.volume.<id>`). */
export const volumeMissing = z.object({
  volumeId: id,
  host: z.string(),
  pool: z.string(),
  /** The status and version the DB had when the agent asked; the recorder changes the volume only if it still has them. */
  status: z.enum(VOLUME_STATUSES),
  version: z.number().int(),
  /** false when the host has no such pool configured. */
  poolConfigured: z.boolean(),
});
export type VolumeMissing = z.infer<typeof volumeMissing>;
