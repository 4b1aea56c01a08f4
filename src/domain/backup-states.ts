/**
 * The backup state machine (issue 5), in the style of snapshot-states.ts: each action and
 * outcome names the states it starts from; the database applies them as compare-and-set.
 * Also the pure checks of the backup mutations' input and the progress arithmetic the
 * `backupProgress` subscription reports.
 */
import { refusedTransition, type InvalidStateError } from './errors.js';
import { checkDescription, checkIdempotencyKey, checkName, Problems } from './volume-input.js';

export const BACKUP_STATUSES = ['creating', 'available', 'deleting', 'deleted', 'restoring', 'error', 'error_deleting'] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];

/** States in which an agent is working on the backup; it leaves them only through an outcome (or a deadline). */
export const BACKUP_TRANSITIONAL: readonly BackupStatus[] = ['creating', 'deleting', 'restoring'];

interface BackupTransition {
  readonly from: readonly BackupStatus[];
  readonly to: BackupStatus | null;
  readonly verb: string;
}

export const BACKUP_ACTIONS = {
  /** Deleting a CREATING backup cancels it: the agent aborts and removes what it wrote. */
  delete: { from: ['creating', 'available', 'error', 'error_deleting'], to: 'deleting', verb: 'deleted' },
  restore: { from: ['available'], to: 'restoring', verb: 'restored' },
  /** Verifying reads the repository only; the status stays (the backup must be AVAILABLE). */
  verify: { from: ['available'], to: null, verb: 'verified' },
  /** An incremental backup compares with its parent, which must stay readable meanwhile. */
  parent: { from: ['available'], to: null, verb: 'used as the parent of an incremental backup' },
  /** Exporting the record of a backup for another Flint with the same repository. */
  export: { from: ['available'], to: null, verb: 'exported' },
} as const satisfies Record<string, BackupTransition>;
export type BackupAction = keyof typeof BACKUP_ACTIONS;

export const BACKUP_OUTCOMES = {
  'create.succeeded': { from: ['creating'], to: 'available', verb: 'marked created' },
  'create.failed': { from: ['creating'], to: 'error', verb: 'marked failed' },
  /** A cancelled backup (deleted while CREATING) is already DELETING: the delete's outcome ends it. */
  'create.cancelled': { from: ['deleting'], to: 'deleting', verb: 'marked cancelled' },
  'delete.succeeded': { from: ['deleting'], to: 'deleted', verb: 'marked deleted' },
  'delete.failed': { from: ['deleting'], to: 'error_deleting', verb: 'marked failed to delete' },
  /** A restore leaves the backup as it was, whether the volume was restored or not. */
  'restore.succeeded': { from: ['restoring'], to: 'available', verb: 'marked restored' },
  'restore.failed': { from: ['restoring'], to: 'available', verb: 'marked restore failed' },
  /** An import ends like a create: the repository had the backup (AVAILABLE) or not (ERROR). */
  'import.succeeded': { from: ['creating'], to: 'available', verb: 'marked imported' },
  'import.failed': { from: ['creating'], to: 'error', verb: 'marked import failed' },
} as const satisfies Record<string, BackupTransition & { to: BackupStatus }>;
export type BackupOutcome = keyof typeof BACKUP_OUTCOMES;
export const BACKUP_OUTCOME_NAMES = Object.keys(BACKUP_OUTCOMES) as [BackupOutcome, ...BackupOutcome[]];

/** Checks that `action` may start from `current`; returns the target status. */
export function assertBackupCanStart(action: BackupAction, current: BackupStatus, backupId?: string): BackupStatus {
  const t: BackupTransition = BACKUP_ACTIONS[action];
  if (!t.from.includes(current)) throw backupInvalidState(t, current, backupId);
  return t.to ?? current;
}

export function backupInvalidState(t: BackupTransition, current: BackupStatus, backupId?: string): InvalidStateError {
  return refusedTransition(backupId ? `Backup ${backupId}` : 'The backup', current, t.verb, t.from, BACKUP_TRANSITIONAL.includes(current));
}

export function backupOutcome(outcome: BackupOutcome): BackupTransition & { to: BackupStatus } {
  return BACKUP_OUTCOMES[outcome];
}

/** Whether a backup has left the states `backupProgress` reports on. */
export function progressEnded(status: BackupStatus): boolean {
  return status !== 'creating' && status !== 'restoring';
}

export interface CreateBackupInputCheck {
  volumeId?: string | null;
  name?: string | null;
  description?: string | null;
  idempotencyKey?: string | null;
}

/** Every problem with a createBackup input, at once (BAD_USER_INPUT). */
export function checkCreateBackup(input: CreateBackupInputCheck): void {
  const p = new Problems();
  if (!input.volumeId) p.add('volumeId is required');
  checkName(p, 'name', input.name, false);
  checkDescription(p, input.description);
  checkIdempotencyKey(p, input.idempotencyKey);
  p.throwIfAny();
}

/** Every problem with a restoreBackup input, at once (BAD_USER_INPUT). */
export function checkRestoreBackup(input: { backupId?: string | null; volumeId?: string | null; name?: string | null }): void {
  const p = new Problems();
  if (!input.backupId) p.add('backupId is required');
  if (input.volumeId && input.name) p.add('name names the new volume a restore creates: give it only without volumeId');
  checkName(p, 'name', input.name, false);
  p.throwIfAny();
}

/** Whether a volume of `volumeGiB` can take a backup of `backupBytes`, as a problem to report or null. */
export function restoreTargetTooSmall(volumeGiB: number, backupBytes: number, volumeId: string): string | null {
  const need = Math.ceil(backupBytes / 2 ** 30);
  return volumeGiB * 2 ** 30 < backupBytes
    ? `volume ${volumeId} is ${volumeGiB} GiB, smaller than the backup (${need} GiB); extend it or restore into a new volume (omit volumeId)`
    : null;
}

/** The size in GiB a backup of `sizeBytes` reports (and a new volume for its restore gets). */
export function backupSizeGiB(sizeBytes: number): number {
  return Math.max(1, Math.ceil(sizeBytes / 2 ** 30));
}

export interface ProgressSample {
  doneBytes: number;
  totalBytes: number;
  /** Milliseconds since the epoch. */
  at: number;
}

/** Percent done (0 to 100, one decimal) and the rate since `start` in bytes per second. */
export function progressFigures(start: ProgressSample, now: ProgressSample): { percent: number; bytesPerSecond: number } {
  const percent = now.totalBytes > 0 ? Math.min(100, Math.round((now.doneBytes / now.totalBytes) * 1000) / 10) : 0;
  const seconds = (now.at - start.at) / 1000;
  const bytesPerSecond = seconds > 0 ? Math.max(0, Math.round((now.doneBytes - start.doneBytes) / seconds)) : 0;
  return { percent, bytesPerSecond };
}

/**
 * Limits progress reports to one per `intervalMs`: `due(now)` says whether one should go
 * now (the first always does). Pure; the agent calls it on every engine progress callback.
 */
export class ProgressThrottle {
  private last = -Infinity;
  constructor(private readonly intervalMs = 1000) {}
  due(now: number): boolean {
    if (now - this.last < this.intervalMs) return false;
    this.last = now;
    return true;
  }
}
