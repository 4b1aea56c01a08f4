/**
 * Which progress reports belong to which operation (`Operation.progress`), pure. A backup's
 * reports name the backup and their phase (backup, restore, verify); a migration's name its
 * operation. Operations of other kinds have no progress.
 */
import type { OperationKind } from './operations.js';

export interface OperationProgress {
  bytesDone: number;
  bytesTotal: number;
  /** 0 to 100, one decimal. */
  percent: number;
}

/** What `progressKey` needs of an operation. */
export interface ProgressKeyed {
  id: string;
  kind: string;
  resourceId: string;
}

/** The backup phase each backup operation reports under. */
const BACKUP_PHASE: Partial<Record<OperationKind, string>> = { create_backup: 'backup', restore_backup: 'restore', verify_backup: 'verify' };
const MIGRATION_KINDS: readonly string[] = ['migrate_volume', 'retype_volume'];

/** The key of a backup's report in one phase. */
export const backupProgressKey = (backupId: string, phase: string): string => `backup:${backupId}:${phase}`;
/** The key of a migration's report. */
export const migrationProgressKey = (operationId: string): string => `migration:${operationId}`;

/** The reports an operation's progress comes from, or null when its kind has none. */
export function progressKey(op: ProgressKeyed): string | null {
  const phase = Object.hasOwn(BACKUP_PHASE, op.kind) ? BACKUP_PHASE[op.kind as OperationKind] : undefined;
  if (phase) return backupProgressKey(op.resourceId, phase);
  return MIGRATION_KINDS.includes(op.kind) ? migrationProgressKey(op.id) : null;
}
