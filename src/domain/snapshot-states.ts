/**
 * The snapshot state machine, in the style of the volume's (src/domain/volume-states.ts):
 * each action and outcome names the states it starts from; the database applies them as
 * compare-and-set.
 */
import { refusedTransition, type InvalidStateError } from './errors.js';

export const SNAPSHOT_STATUSES = ['creating', 'available', 'deleting', 'deleted', 'error', 'error_deleting'] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];

interface SnapshotTransition {
  readonly from: readonly SnapshotStatus[];
  readonly to: SnapshotStatus | null;
  readonly verb: string;
}

export const SNAPSHOT_ACTIONS = {
  delete: { from: ['available', 'error', 'error_deleting'], to: 'deleting', verb: 'deleted' },
  update: { from: ['creating', 'available', 'error', 'error_deleting'], to: null, verb: 'updated' },
} as const satisfies Record<string, SnapshotTransition>;
export type SnapshotAction = keyof typeof SNAPSHOT_ACTIONS;

export const SNAPSHOT_OUTCOMES = {
  'create.succeeded': { from: ['creating'], to: 'available', verb: 'marked created' },
  'create.failed': { from: ['creating'], to: 'error', verb: 'marked failed' },
  'delete.succeeded': { from: ['deleting'], to: 'deleted', verb: 'marked deleted' },
  'delete.failed': { from: ['deleting'], to: 'error_deleting', verb: 'marked failed to delete' },
} as const satisfies Record<string, SnapshotTransition & { to: SnapshotStatus }>;
export type SnapshotOutcome = keyof typeof SNAPSHOT_OUTCOMES;

/** Checks that `action` may start from `current`; returns the target status. */
export function assertSnapshotCanStart(action: SnapshotAction, current: SnapshotStatus, snapshotId?: string): SnapshotStatus {
  const t: SnapshotTransition = SNAPSHOT_ACTIONS[action];
  if (!t.from.includes(current)) throw snapshotInvalidState(t, current, snapshotId);
  return t.to ?? current;
}

export function snapshotInvalidState(t: SnapshotTransition, current: SnapshotStatus, snapshotId?: string): InvalidStateError {
  const busy = current === 'creating' || current === 'deleting';
  return refusedTransition(snapshotId ? `Snapshot ${snapshotId}` : 'The snapshot', current, t.verb, t.from, busy);
}
