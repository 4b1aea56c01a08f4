/**
 * What an operation (`Operation` rows, GraphQL `Operation`) can be: the closed list of kinds,
 * each the verb and the resource it acts on. A new mutation that records an operation adds
 * its kind here first; the type checker then finds every table keyed by kind.
 */

export const OPERATION_KINDS = [
  'create_volume',
  'update_volume',
  'delete_volume',
  'extend_volume',
  'revert_volume',
  'migrate_volume',
  'retype_volume',
  'migration_cleanup',
  'manage_volume',
  'unmanage_volume',
  'create_snapshot',
  'update_snapshot',
  'delete_snapshot',
  'create_backup',
  'restore_backup',
  'delete_backup',
  'verify_backup',
  'import_backup',
  'create_attachment',
  'update_attachment',
  'complete_attachment',
  'refresh_attachment',
  'delete_attachment',
  'force_detach',
] as const;

export type OperationKind = (typeof OPERATION_KINDS)[number];

/** Whether an operation's status is its last (SUCCEEDED or FAILED). */
export function operationEnded(status: string): boolean {
  return status === 'succeeded' || status === 'failed';
}

/** The resources operations act on. */
export type OperationResourceType = 'volume' | 'snapshot' | 'backup' | 'attachment';

/** A migration, or a retype that may migrate: the kinds whose failure puts the volume back on its old pool. */
export function isMigrationKind(kind: OperationKind): boolean {
  return kind === 'migrate_volume' || kind === 'retype_volume';
}
