/**
 * The names the roles give message kinds and commands, by area: views of the one registry
 * (registry.ts). Each kind is checked against it when compiled, and each command name is
 * taken from its kind, so a name the registry lacks cannot be sent.
 */
import { commandOf, messageKind as k } from './registry.js';

export const KIND = {
  scheduleCreate: k('scheduler.create_volume'),
  scheduleExtend: k('scheduler.extend_volume'),
  agentCreate: k('agent.create_volume'),
  agentDelete: k('agent.delete_volume'),
  agentExtend: k('agent.extend_volume'),
  agentCreateSnapshot: k('agent.create_snapshot'),
  agentDeleteSnapshot: k('agent.delete_snapshot'),
  agentRevert: k('agent.revert_volume'),
  snapshotOutcome: k('snapshot.outcome'),
  volumeScheduled: k('volume.scheduled'),
  volumeOutcome: k('volume.outcome'),
  volumeReschedule: k('volume.reschedule'),
  poolStats: k('pool.stats'),
  serviceHeartbeat: k('service.heartbeat'),
  liveVolume: k('live.volume'),
  liveSnapshot: k('live.snapshot'),
  liveOperation: k('live.operation'),
  liveMessage: k('live.message'),
} as const;

/** Command names: the last token of `flint.cmd.scheduler.<name>` / `flint.cmd.agent.<host>.<name>`. */
export const COMMAND = {
  createVolume: commandOf(KIND.agentCreate),
  extendVolume: commandOf(KIND.agentExtend),
  deleteVolume: commandOf(KIND.agentDelete),
  createSnapshot: commandOf(KIND.agentCreateSnapshot),
  deleteSnapshot: commandOf(KIND.agentDeleteSnapshot),
  revertVolume: commandOf(KIND.agentRevert),
} as const;

/** Recovery (issue 3): the agent's start-up reconciliation and what it reports. */
export const RECOVERY_KIND = {
  reconcileRequest: k('rpc.reconcile.request'),
  reconcileReply: k('rpc.reconcile.reply'),
  volumeMissing: k('volume.missing'),
} as const;

export const ATTACHMENT_KIND = {
  agentExport: k('agent.export_attachment'),
  agentUnexport: k('agent.unexport_attachment'),
  agentRefresh: k('agent.refresh_attachment'),
  attachmentOutcome: k('attachment.outcome'),
  liveAttachment: k('live.attachment'),
} as const;

export const ATTACHMENT_COMMAND = {
  exportAttachment: commandOf(ATTACHMENT_KIND.agentExport),
  unexportAttachment: commandOf(ATTACHMENT_KIND.agentUnexport),
  refreshAttachment: commandOf(ATTACHMENT_KIND.agentRefresh),
} as const;

export const BACKUP_KIND = {
  agentCreateBackup: k('agent.create_backup'),
  agentRestoreBackup: k('agent.restore_backup'),
  agentDeleteBackup: k('agent.delete_backup'),
  agentVerifyBackup: k('agent.verify_backup'),
  agentImportBackup: k('agent.import_backup'),
  backupOutcome: k('backup.outcome'),
  backupVerified: k('backup.verified'),
  backupProgress: k('backup.progress'),
  liveBackup: k('live.backup'),
} as const;

export const BACKUP_COMMAND = {
  createBackup: commandOf(BACKUP_KIND.agentCreateBackup),
  restoreBackup: commandOf(BACKUP_KIND.agentRestoreBackup),
  deleteBackup: commandOf(BACKUP_KIND.agentDeleteBackup),
  verifyBackup: commandOf(BACKUP_KIND.agentVerifyBackup),
  importBackup: commandOf(BACKUP_KIND.agentImportBackup),
} as const;

export const MIGRATION_KIND = {
  agentExport: k('agent.migration_export'),
  agentImport: k('agent.migration_import'),
  agentCleanup: k('agent.migration_cleanup'),
  exporting: k('migration.exporting'),
  copied: k('migration.copied'),
  failed: k('migration.failed'),
  cleaned: k('migration.cleaned'),
  progress: k('migration.progress'),
} as const;

/** Command names: the last token of `flint.cmd.agent.<host>.<name>`. */
export const MIGRATION_COMMAND = {
  export: commandOf(MIGRATION_KIND.agentExport),
  import: commandOf(MIGRATION_KIND.agentImport),
  cleanup: commandOf(MIGRATION_KIND.agentCleanup),
} as const;

/** Retype (`retypeVolume`): the scheduler decides in place, migrate, or refuse. */
export const RETYPE_KIND = { schedule: k('scheduler.retype_volume'), decided: k('retype.decided') } as const;
export const RETYPE_COMMAND = commandOf(RETYPE_KIND.schedule);

export const MANAGE_KIND = {
  agentManage: k('agent.manage_volume'),
  agentUnmanage: k('agent.unmanage_volume'),
  manageOutcome: k('volume.manage_outcome'),
  manageableRequest: k('rpc.manageable.request'),
  manageableReply: k('rpc.manageable.reply'),
} as const;

export const MANAGE_COMMAND = {
  manageVolume: commandOf(MANAGE_KIND.agentManage),
  unmanageVolume: commandOf(MANAGE_KIND.agentUnmanage),
} as const;

export const TOKEN_REVOKED_KIND = k('gw.token.revoked');
