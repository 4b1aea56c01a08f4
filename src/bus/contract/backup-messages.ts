/**
 * Backup contracts (issue 5): the agent commands, their outcome events, the progress
 * reports and the live view, declared once with their validators.
 *
 * Subjects (named in subjects.ts):
 * - commands `flint.cmd.agent.<host>.{create,restore,delete,verify,import}_backup` (FLINT_CMD);
 * - outcomes `flint.evt.agent.<host>.backup.<id>` (FLINT_EVT, recorded by the gateways' recorder);
 * - progress `flint.progress.agent.<host>.backup.<id>` on **core NATS**, not JetStream: a report is
 *   worth nothing a second later, so none is stored or redelivered; the agent sends at
 *   most one a second while a backup or restore runs and every gateway relays them to
 *   `backupProgress` subscribers (a lost report is a missed tick, never a wrong state);
 * - live `flint.live.<project>.backup.<id>` (core NATS) when a backup row changes.
 */
import { z } from 'zod';
import { BACKUP_OUTCOME_NAMES, BACKUP_STATUSES } from '../../domain/backup-states.js';

const id = z.string().min(1).max(128);

/**
 * Back up volume `volumeId` on `pool`: its current bytes, or those of snapshot `snapshotId`;
 * with `temporarySnapshot` (an IN_USE volume, `force`) the agent takes a snapshot of its
 * own first and removes it after. `parentId`: the backup to compare with (incremental).
 */
export const agentCreateBackup = z.object({
  operationId: id,
  backupId: id,
  volumeId: id,
  pool: z.string(),
  snapshotId: id.optional(),
  parentId: id.optional(),
  temporarySnapshot: z.boolean().optional(),
});
export type AgentCreateBackup = z.infer<typeof agentCreateBackup>;

/** Write backup `backupId` into volume `volumeId` (on `pool` of this host), which is at least the backup's size. */
export const agentRestoreBackup = z.object({ operationId: id, backupId: id, volumeId: id, pool: z.string() });
export type AgentRestoreBackup = z.infer<typeof agentRestoreBackup>;

/** Remove backup `backupId` (cancelling it first if it is still being taken), then collect unreferenced chunks. */
export const agentDeleteBackup = z.object({ operationId: id, backupId: id, volumeId: id });
export type AgentDeleteBackup = z.infer<typeof agentDeleteBackup>;

/** Re-read every chunk of backup `backupId` and check its hash. */
export const agentVerifyBackup = z.object({ operationId: id, backupId: id, volumeId: id });
export type AgentVerifyBackup = z.infer<typeof agentVerifyBackup>;

/** Check that the repository holds backup `backupId` (its manifest and every chunk), for `importBackupRecord`. */
export const agentImportBackup = z.object({ operationId: id, backupId: id, volumeId: id });
export type AgentImportBackup = z.infer<typeof agentImportBackup>;

/** How a backup found what changed since its parent: read only a dirty bitmap's chunks, read everything and compare, or no parent. */
export const BACKUP_CHANGE_TRACKINGS = ['dirty-bitmap', 'rbd-diff', 'compare', 'full'] as const;

/** What a finished backup's manifest says, as the row records it. */
export const backupFigures = z.object({
  sizeBytes: z.number().int().nonnegative(),
  chunkSize: z.number().int().positive(),
  chunkCount: z.number().int().nonnegative(),
  sha256: z.string(),
  codec: z.string(),
  parentId: z.string().nullable(),
  dataBytes: z.number().nonnegative(),
  storedBytes: z.number().nonnegative(),
  dedupBytes: z.number().nonnegative(),
  durationMs: z.number().nonnegative(),
  /** How the backup found its changes (`dirty-bitmap`, `rbd-diff`, `compare`, `full`); absent from older agents. */
  changeTracking: z.enum(BACKUP_CHANGE_TRACKINGS).optional(),
  /** Bytes the agent read from the image; absent from older agents. */
  readBytes: z.number().nonnegative().optional(),
});
export type BackupFigures = z.infer<typeof backupFigures>;

export const backupOutcome = z.object({
  operationId: id,
  backupId: id,
  volumeId: id,
  outcome: z.enum(BACKUP_OUTCOME_NAMES),
  /** Set on `create.succeeded` and `import.succeeded`. */
  figures: backupFigures.optional(),
  /** The repository the agent used (`dir:/path` or `nats:<bucket>`). */
  repository: z.string().optional(),
  /** That repository's identity (src/node-agent/backup/repository-id.ts), when the agent knows it. */
  repositoryId: z.string().optional(),
  /** The volume restored into (restore outcomes). */
  targetVolumeId: id.optional(),
  /** Verify outcomes: chunks read, and the first bad one. */
  verify: z
    .object({
      chunks: z.number().int().nonnegative(),
      problem: z.object({ hash: z.string(), offset: z.number(), reason: z.string() }).optional(),
    })
    .optional(),
  /** On failure: a code from the public list and a message for the user. */
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type BackupOutcomeEvent = z.infer<typeof backupOutcome>;

/** Verification is not a state change of the backup: its outcome names are these. */
export const VERIFY_OUTCOMES = ['verify.succeeded', 'verify.failed'] as const;
export const backupVerified = z.object({
  operationId: id,
  backupId: id,
  outcome: z.enum(VERIFY_OUTCOMES),
  chunks: z.number().int().nonnegative(),
  problem: z.object({ hash: z.string(), offset: z.number(), reason: z.string() }).optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type BackupVerified = z.infer<typeof backupVerified>;

/** `verify` reports only move the verify operation's deadline; `backupProgress` shows backups and restores. */
export const BACKUP_PHASES = ['backup', 'restore', 'verify'] as const;
export const backupProgress = z.object({
  backupId: id,
  phase: z.enum(BACKUP_PHASES),
  doneBytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative(),
  /** When the agent measured it (ISO 8601) and when the work started, for the rate. */
  at: z.string(),
  startedAt: z.string(),
});
export type BackupProgressReport = z.infer<typeof backupProgress>;

/** The API's view of a backup, fanned out on `flint.live.<project>.backup.<id>`. */
export const backupView = z.object({
  id: id,
  projectId: id,
  volumeId: id,
  snapshotId: z.string().nullable(),
  name: z.string(),
  description: z.string().nullable(),
  status: z.enum(BACKUP_STATUSES),
  sizeGiB: z.number().int(),
  sizeBytes: z.number().nullable(),
  parentId: z.string().nullable(),
  incremental: z.boolean(),
  fullReason: z.string().nullable(),
  forced: z.boolean(),
  repository: z.string(),
  /** The repository's identity (optional: older records and gateways do not have it). */
  repositoryId: z.string().nullable().optional(),
  host: z.string().nullable(),
  pool: z.string().nullable(),
  sha256: z.string().nullable(),
  chunkSize: z.number().nullable(),
  chunkCount: z.number().nullable(),
  codec: z.string().nullable(),
  dataBytes: z.number().nullable(),
  storedBytes: z.number().nullable(),
  dedupBytes: z.number().nullable(),
  durationMs: z.number().nullable(),
  changeTracking: z.enum(BACKUP_CHANGE_TRACKINGS).nullable().optional(),
  readBytes: z.number().nullable().optional(),
  progressDoneBytes: z.number().nullable(),
  progressTotalBytes: z.number().nullable(),
  failReason: z.string().nullable(),
  restoreVolumeId: z.string().nullable(),
  version: z.number().int(),
  /** The seq of its latest change in its project's change feed (optional: older gateways did not send it). */
  changeSeq: z.number().int().optional(),
  /** The key it was created with (optional: older gateways and exported records do not have it). */
  idempotencyKey: z.string().nullable().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type BackupView = z.infer<typeof backupView>;
export const liveBackup = z.object({ type: z.enum(['CREATED', 'UPDATED', 'DELETED']), backup: backupView });
export type LiveBackup = z.infer<typeof liveBackup>;

/** Backups the DB has an agent working on, in the reconcile reply (optional: older gateways do not send it). */
export const reconcileBackups = z.array(
  z.object({ backupId: id, volumeId: id, status: z.enum(BACKUP_STATUSES), operationId: z.string().nullable(), restoreVolumeId: z.string().nullable() }),
);
export type ReconcileBackups = z.infer<typeof reconcileBackups>;

