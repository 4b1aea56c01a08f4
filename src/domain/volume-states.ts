/**
 * The volume state machine: Cinder's vocabulary, with every transition named and
 * checked. Pure: the database applies a transition as a compare-and-set
 * (`UPDATE … WHERE status IN (from)`), so the table below is the single source of
 * which states an action starts from and where it ends.
 */
import { refusedTransition, type InvalidStateError } from './errors.js';

export const VOLUME_STATUSES = [
  'creating',
  'available',
  'reserved',
  'attaching',
  'in_use',
  'detaching',
  'extending',
  'retyping',
  'maintenance',
  'backing_up',
  'restoring_backup',
  'reverting',
  'deleting',
  'deleted',
  'error',
  'error_deleting',
  'error_extending',
  'error_restoring',
  'awaiting_transfer',
] as const;
export type VolumeStatus = (typeof VOLUME_STATUSES)[number];

/** States in which work is under way; a volume leaves them only through an outcome. */
export const TRANSITIONAL_STATUSES: readonly VolumeStatus[] = [
  'creating',
  'reserved',
  'attaching',
  'detaching',
  'extending',
  'retyping',
  'maintenance',
  'backing_up',
  'restoring_backup',
  'reverting',
  'deleting',
];

interface Transition {
  readonly from: readonly VolumeStatus[];
  /** Target state; `null` leaves the status as it is (metadata-only changes). */
  readonly to: VolumeStatus | null;
  /** How to say in an error message what the action is. */
  readonly verb: string;
}

const DELETABLE: readonly VolumeStatus[] = ['available', 'error', 'error_deleting', 'error_extending', 'error_restoring'];

/** Actions a user (or admin) asks for through the API. */
export const VOLUME_ACTIONS = {
  delete: { from: DELETABLE, to: 'deleting', verb: 'deleted' },
  /** An attached (IN_USE) volume may grow too: its exports are refreshed, then its status is IN_USE again. */
  extend: { from: ['available', 'in_use'], to: 'extending', verb: 'extended' },
  /** Taking a snapshot leaves the volume's status as it is (Cinder's way); it must be AVAILABLE. */
  snapshot: { from: ['available'], to: null, verb: 'snapshotted' },
  /** With `force`, an attached (IN_USE) volume too, as Cinder allows: the snapshot is crash-consistent, like pulling the plug. */
  snapshotInUse: { from: ['in_use'], to: null, verb: 'snapshotted while attached' },
  /** Reverting to its latest snapshot (Cinder's revert-to-snapshot): only an AVAILABLE volume. */
  revert: { from: ['available'], to: 'reverting', verb: 'reverted to a snapshot' },
  /**
   * Moving its bytes to another pool (admins, Cinder's migrate): MAINTENANCE blocks every
   * other action until the migration ends, back in AVAILABLE (on the new pool or the old).
   * IN_USE volumes (Cinder's live migration) wait for attachments.
   */
  migrate: { from: ['available'], to: 'maintenance', verb: 'migrated' },
  /**
   * Changing its volume type; in place or by a migration. AVAILABLE only for now: retyping
   * an IN_USE volume comes with attachments (Cinder allows it, with the consumer's help).
   */
  retype: { from: ['available'], to: 'retyping', verb: 'retyped' },
  /** A backup reads an AVAILABLE volume (or one of its snapshots): BACKING_UP until the backup ends. */
  backup: { from: ['available'], to: 'backing_up', verb: 'backed up' },
  /** With `force`, an IN_USE volume is backed up from a temporary snapshot and keeps its status. */
  backupInUse: { from: ['in_use'], to: null, verb: 'backed up while attached' },
  /** Restoring a backup overwrites an AVAILABLE volume: RESTORING_BACKUP until it ends. */
  restore: { from: ['available'], to: 'restoring_backup', verb: 'restored from a backup' },
  /** Offering it to another project (`createVolumeTransfer`): AWAITING_TRANSFER until accepted, cancelled or expired. */
  transfer: { from: ['available'], to: 'awaiting_transfer', verb: 'transferred' },
  /** Not in MAINTENANCE either (Cinder refuses updates of a volume under maintenance). */
  update: {
    from: VOLUME_STATUSES.filter((s) => s !== 'deleting' && s !== 'deleted' && s !== 'maintenance'),
    to: null,
    verb: 'updated',
  },
} as const satisfies Record<string, Transition>;
export type VolumeAction = keyof typeof VOLUME_ACTIONS;

/** Outcomes reported by the scheduler and agents, applied by the event recorder. */
export const VOLUME_OUTCOMES = {
  'create.succeeded': { from: ['creating'], to: 'available', verb: 'marked created' },
  'create.failed': { from: ['creating'], to: 'error', verb: 'marked failed' },
  'delete.succeeded': { from: ['deleting'], to: 'deleted', verb: 'marked deleted' },
  'delete.failed': { from: ['deleting'], to: 'error_deleting', verb: 'marked failed to delete' },
  'extend.succeeded': { from: ['extending'], to: 'available', verb: 'marked extended' },
  /** The scheduler found no room for the new size: nothing was touched, the volume is usable. */
  'extend.rejected': { from: ['extending'], to: 'available', verb: 'marked not extended' },
  'extend.failed': { from: ['extending'], to: 'error_extending', verb: 'marked failed to extend' },
  'revert.succeeded': { from: ['reverting'], to: 'available', verb: 'marked reverted' },
  /** The driver may have written part of the snapshot back: the bytes are not to be trusted. */
  'revert.failed': { from: ['reverting'], to: 'error', verb: 'marked failed to revert' },
  /** The copy on the new pool was verified: the volume now lives there (a retype's migration too). */
  'migrate.succeeded': { from: ['maintenance', 'retyping'], to: 'available', verb: 'marked migrated' },
  /** Nothing was switched: the volume is usable on its old pool, with its old bytes. */
  'migrate.failed': { from: ['maintenance', 'retyping'], to: 'available', verb: 'marked not migrated' },
  /** The new type was set in place (the current pool satisfies it). */
  'retype.succeeded': { from: ['retyping'], to: 'available', verb: 'marked retyped' },
  /** No pool satisfies the new type (or the policy forbids moving): nothing changed. */
  'retype.rejected': { from: ['retyping'], to: 'available', verb: 'marked not retyped' },
  /** Whatever became of the backup (taken, failed, cancelled), reading the volume is over. */
  'backup.finished': { from: ['backing_up'], to: 'available', verb: 'marked backed up' },
  'restore.succeeded': { from: ['restoring_backup'], to: 'available', verb: 'marked restored' },
  /** Part of the backup may have been written: the bytes are not to be trusted. */
  'restore.failed': { from: ['restoring_backup'], to: 'error_restoring', verb: 'marked failed to restore' },
} as const satisfies Record<string, Transition & { to: VolumeStatus }>;
export type VolumeOutcome = keyof typeof VOLUME_OUTCOMES;

export function actionTransition(action: VolumeAction): Transition {
  return VOLUME_ACTIONS[action];
}

export function outcomeTransition(outcome: VolumeOutcome): Transition & { to: VolumeStatus } {
  return VOLUME_OUTCOMES[outcome];
}

/**
 * Checks that `action` may start from `current` and returns the target status
 * (`current` itself for actions that keep the status).
 * @throws InvalidStateError naming the current state and the allowed ones.
 */
export function assertCanStart(action: VolumeAction, current: VolumeStatus, volumeId?: string): VolumeStatus {
  const t = VOLUME_ACTIONS[action];
  if (!(t.from as readonly VolumeStatus[]).includes(current)) {
    throw invalidState(t, current, volumeId);
  }
  return t.to ?? current;
}

export function invalidState(t: Transition, current: VolumeStatus, volumeId?: string): InvalidStateError {
  return refusedTransition(volumeId ? `Volume ${volumeId}` : 'The volume', current, t.verb, t.from, stateHint(current));
}

/**
 * What to do about a volume in `current`: RESERVED and ATTACHING last until the consumer
 * acts (Cinder's attachment flow), so waiting alone may not end them; other transitional
 * states end by themselves (wait); settled states need no hint.
 */
export function stateHint(current: VolumeStatus): boolean | string {
  if (current === 'reserved') return 'An attachment holds it: give it a connector (updateAttachment) and complete it (completeAttachment), or delete it (deleteAttachment); then retry.';
  if (current === 'awaiting_transfer') return 'It is offered to another project: cancel the transfer (deleteVolumeTransfer) first, or wait until it is accepted or expires.';
  if (current === 'attaching') return 'An attachment is being made: complete it (completeAttachment) once the consumer is connected, or delete it (deleteAttachment); then retry.';
  return (TRANSITIONAL_STATUSES as readonly string[]).includes(current);
}

/** The GraphQL enum spells states in upper case. */
export function toApiStatus(s: VolumeStatus): string {
  return s.toUpperCase();
}

export function fromApiStatus(s: string): VolumeStatus | undefined {
  const lower = s.toLowerCase();
  return (VOLUME_STATUSES as readonly string[]).includes(lower) ? (lower as VolumeStatus) : undefined;
}

export function isFinal(s: VolumeStatus): boolean {
  return !(TRANSITIONAL_STATUSES as readonly string[]).includes(s);
}
