/**
 * Every message kind Flint sends, in one registry: the kind (the envelope's `kind`), the
 * family of subjects it travels on, and the schema its payload must match. A command's
 * name, the last token of its subject, is its kind after the family's prefix
 * (`agent.create_volume` goes to `flint.cmd.agent.<host>.create_volume`), so no name is
 * written twice. The tables the roles used before (`KIND`, `COMMAND`, `BACKUP_KIND`, …) are
 * views of this one (kinds.ts).
 */
import type { z } from 'zod';
import type { EventResource, ProgressResource, Sender } from './subjects.js';
import {
  agentCreate,
  agentCreateSnapshot,
  agentDelete,
  agentDeleteSnapshot,
  agentExtend,
  agentRevert,
  liveNotice,
  poolStats,
  reconcileReply,
  reconcileRequest,
  scheduleCreate,
  scheduleExtend,
  serviceHeartbeat,
  snapshotOutcome,
  volumeMissing,
  volumeOutcome,
  volumeScheduled,
} from './messages.js';
import { agentExportAttachment, agentRefreshAttachment, agentUnexportAttachment, attachmentOutcome } from './attachment-messages.js';
import {
  agentCreateBackup,
  agentDeleteBackup,
  agentImportBackup,
  agentRestoreBackup,
  agentVerifyBackup,
  backupOutcome,
  backupProgress,
  backupVerified,
} from './backup-messages.js';
import {
  migrationCleaned,
  migrationCleanup,
  migrationCopied,
  migrationExport,
  migrationExporting,
  migrationFailed,
  migrationImport,
  migrationProgress,
  retypeDecided,
  scheduleRetype,
} from './migration-messages.js';
import { agentManage, agentUnmanage, manageableReply, manageableRequest, manageOutcome } from './manage-messages.js';
import { tokenRevoked } from './token-messages.js';

/**
 * Where a kind travels (subjects.ts names each subject):
 * - `cmd.scheduler`: FLINT_CMD, `flint.cmd.scheduler.<command>`;
 * - `cmd.agent`: FLINT_CMD, `flint.cmd.agent.<host>.<command>`;
 * - `evt`: FLINT_EVT, `flint.evt.agent.<host>.<resource>.<id>` or `flint.evt.scheduler.<resource>.<id>`;
 * - `progress`: core NATS, `flint.progress.agent.<host>.<resource>.<id>` (lossy, at most one a second);
 * - `live`: core NATS, `flint.live.<project>.<resource>.<id>` (only which row changed);
 * - `kv`: the heartbeat buckets `flint-pools` and `flint-services`;
 * - `rpc`: core-NATS request and reply (`flint.rpc.…`);
 * - `gw`: core NATS from gateway to gateway, `flint.gw.>`.
 */
export type MessageFamily = 'cmd.scheduler' | 'cmd.agent' | 'evt' | 'progress' | 'live' | 'kv' | 'rpc' | 'gw';

/** An event: what it is about (the subject's `<resource>`, whose id is the payload's `idField`) and who may send it. */
export interface EventSpec {
  family: 'evt';
  schema: z.ZodType;
  resource: EventResource;
  /** The payload field holding the resource's id; `request.volumeId` for a reschedule, which carries the scheduler's request. */
  idField: 'volumeId' | 'snapshotId' | 'attachmentId' | 'backupId' | 'request.volumeId';
  /** The roles whose subjects may carry it. */
  from: ReadonlyArray<Sender['role']>;
}

export type MessageSpec =
  | EventSpec
  | { family: 'progress'; schema: z.ZodType; resource: ProgressResource }
  | { family: Exclude<MessageFamily, 'evt' | 'progress'>; schema: z.ZodType };

const volumeFromAgent = { family: 'evt', resource: 'volume', idField: 'volumeId', from: ['agent'] } as const;

/** Every message kind, by the envelope's `kind`. */
export const MESSAGES = {
  // Volumes and snapshots.
  'scheduler.create_volume': { family: 'cmd.scheduler', schema: scheduleCreate },
  'scheduler.extend_volume': { family: 'cmd.scheduler', schema: scheduleExtend },
  'agent.create_volume': { family: 'cmd.agent', schema: agentCreate },
  'agent.delete_volume': { family: 'cmd.agent', schema: agentDelete },
  'agent.extend_volume': { family: 'cmd.agent', schema: agentExtend },
  'agent.create_snapshot': { family: 'cmd.agent', schema: agentCreateSnapshot },
  'agent.delete_snapshot': { family: 'cmd.agent', schema: agentDeleteSnapshot },
  'agent.revert_volume': { family: 'cmd.agent', schema: agentRevert },
  'volume.scheduled': { family: 'evt', schema: volumeScheduled, resource: 'volume', idField: 'volumeId', from: ['scheduler'] },
  // The scheduler fails creates and refuses extends it cannot place; agents report the rest.
  'volume.outcome': { family: 'evt', schema: volumeOutcome, resource: 'volume', idField: 'volumeId', from: ['scheduler', 'agent'] },
  /**
   * An agent failed a create that another pool may take (payload: `ScheduleCreate`). Agents may
   * not send scheduler commands: the gateways' recorder checks the sender against the database
   * and sends the request (as the database has it) back to the scheduler.
   */
  'volume.reschedule': { family: 'evt', schema: scheduleCreate, resource: 'volume', idField: 'request.volumeId', from: ['agent'] },
  'snapshot.outcome': { family: 'evt', schema: snapshotOutcome, resource: 'snapshot', idField: 'snapshotId', from: ['agent'] },
  // Heartbeats.
  'pool.stats': { family: 'kv', schema: poolStats },
  'service.heartbeat': { family: 'kv', schema: serviceHeartbeat },
  // Live notices (contract v2: only which row changed).
  'live.volume': { family: 'live', schema: liveNotice },
  'live.snapshot': { family: 'live', schema: liveNotice },
  'live.operation': { family: 'live', schema: liveNotice },
  'live.message': { family: 'live', schema: liveNotice },
  'live.attachment': { family: 'live', schema: liveNotice },
  'live.backup': { family: 'live', schema: liveNotice },
  // Recovery (issue 3): the agent's start-up reconciliation and what it reports.
  'rpc.reconcile.request': { family: 'rpc', schema: reconcileRequest },
  'rpc.reconcile.reply': { family: 'rpc', schema: reconcileReply },
  'volume.missing': { ...volumeFromAgent, schema: volumeMissing },
  // Attachments (issue 4).
  'agent.export_attachment': { family: 'cmd.agent', schema: agentExportAttachment },
  'agent.unexport_attachment': { family: 'cmd.agent', schema: agentUnexportAttachment },
  'agent.refresh_attachment': { family: 'cmd.agent', schema: agentRefreshAttachment },
  'attachment.outcome': { family: 'evt', schema: attachmentOutcome, resource: 'attachment', idField: 'attachmentId', from: ['agent'] },
  // Backups (issue 5).
  'agent.create_backup': { family: 'cmd.agent', schema: agentCreateBackup },
  'agent.restore_backup': { family: 'cmd.agent', schema: agentRestoreBackup },
  'agent.delete_backup': { family: 'cmd.agent', schema: agentDeleteBackup },
  'agent.verify_backup': { family: 'cmd.agent', schema: agentVerifyBackup },
  'agent.import_backup': { family: 'cmd.agent', schema: agentImportBackup },
  'backup.outcome': { family: 'evt', schema: backupOutcome, resource: 'backup', idField: 'backupId', from: ['agent'] },
  'backup.verified': { family: 'evt', schema: backupVerified, resource: 'backup', idField: 'backupId', from: ['agent'] },
  'backup.progress': { family: 'progress', schema: backupProgress, resource: 'backup' },
  // Migration, and the retype that may need one.
  'agent.migration_export': { family: 'cmd.agent', schema: migrationExport },
  'agent.migration_import': { family: 'cmd.agent', schema: migrationImport },
  'agent.migration_cleanup': { family: 'cmd.agent', schema: migrationCleanup },
  'migration.exporting': { ...volumeFromAgent, schema: migrationExporting },
  'migration.copied': { ...volumeFromAgent, schema: migrationCopied },
  'migration.failed': { ...volumeFromAgent, schema: migrationFailed },
  'migration.cleaned': { ...volumeFromAgent, schema: migrationCleaned },
  'migration.progress': { family: 'progress', schema: migrationProgress, resource: 'migration' },
  'scheduler.retype_volume': { family: 'cmd.scheduler', schema: scheduleRetype },
  'retype.decided': { family: 'evt', schema: retypeDecided, resource: 'volume', idField: 'volumeId', from: ['scheduler'] },
  // Manage and unmanage (admin).
  'agent.manage_volume': { family: 'cmd.agent', schema: agentManage },
  'agent.unmanage_volume': { family: 'cmd.agent', schema: agentUnmanage },
  'volume.manage_outcome': { ...volumeFromAgent, schema: manageOutcome },
  'rpc.manageable.request': { family: 'rpc', schema: manageableRequest },
  'rpc.manageable.reply': { family: 'rpc', schema: manageableReply },
  // Gateway to gateway.
  'gw.token.revoked': { family: 'gw', schema: tokenRevoked },
} as const satisfies Record<string, MessageSpec>;

export type Messages = typeof MESSAGES;
export type MessageKind = keyof Messages;
/** The payload type of a kind. */
export type PayloadOf<K extends MessageKind> = z.infer<Messages[K]['schema']>;
/** The kinds of one family. */
export type KindOf<F extends MessageFamily> = { [K in MessageKind]: Messages[K]['family'] extends F ? K : never }[MessageKind];
export type CommandKind = KindOf<'cmd.scheduler' | 'cmd.agent'>;
/** A command's name: the last token of its subject, its kind after the family's prefix. */
export type CommandName<K extends CommandKind> = K extends `${string}.${infer C}` ? C : never;

/** Whether `kind` is in the registry. */
export function isMessageKind(kind: string): kind is MessageKind {
  return Object.hasOwn(MESSAGES, kind);
}

/** `kind`, checked against the registry when compiled: for the views that name kinds. */
export function messageKind<K extends MessageKind>(kind: K): K {
  return kind;
}

/** The name of command `kind` (`agent.create_volume` → `create_volume`): the last token of its subject. */
export function commandOf<K extends CommandKind>(kind: K): CommandName<K> {
  return kind.slice(kind.indexOf('.') + 1) as CommandName<K>;
}

/** The kinds of `family`, in the registry's order. */
export function kindsOf<F extends MessageFamily>(family: F): Array<KindOf<F>> {
  return (Object.keys(MESSAGES) as MessageKind[]).filter((k): k is KindOf<F> => MESSAGES[k].family === family);
}
