/**
 * What an admin may set a status to by hand (`resetVolumeStatus`, `resetSnapshotStatus`),
 * Cinder's reset-state made honest: a reset may only say what is true without any work
 * running. It may declare a resource usable (AVAILABLE, when it has storage behind it)
 * or broken (an ERROR state); it may never claim that work is under way, that something
 * is attached, or that a resource is gone. Pure.
 */
import type { SnapshotStatus } from './snapshot-states.js';
import { TRANSITIONAL_STATUSES, type VolumeStatus } from './volume-states.js';
import { chars, type Problems } from './volume-input.js';

/** Longest reason an admin may give for a status change. */
export const REASON_MAX = 1024;

/** States that speak of attachments, which Flint does not have yet. */
const ATTACHMENT_STATUSES: readonly string[] = ['reserved', 'attaching', 'in_use', 'detaching'];

const isErrorState = (s: string): boolean => s === 'error' || s.startsWith('error_');

/**
 * Why a volume cannot be reset to `target`, or null when it can. Allowed targets:
 * AVAILABLE for a volume placed on a pool (`host` set), and every ERROR state.
 */
export function volumeResetRefusal(target: VolumeStatus, volume: { host: string | null }): string | null {
  const name = target.toUpperCase();
  if (ATTACHMENT_STATUSES.includes(target)) {
    return `status cannot be reset to ${name}: Flint has no attachments yet, so no volume can be reserved, attaching, attached or detaching; reset to AVAILABLE or an ERROR state`;
  }
  if (target === 'deleted') {
    return 'status cannot be reset to DELETED: that would leave its image and capacity behind; use forceDeleteVolume, which removes them';
  }
  if ((TRANSITIONAL_STATUSES as readonly string[]).includes(target)) {
    return `status cannot be reset to ${name}: it is a transitional state and a reset starts no work, so nothing would ever finish it; reset to AVAILABLE or an ERROR state`;
  }
  if (target === 'available') {
    if (!volume.host) {
      return 'status cannot be reset to AVAILABLE: the volume never reached a pool, so it has no image; reset it to ERROR or delete it (forceDeleteVolume)';
    }
    return null;
  }
  if (isErrorState(target)) return null;
  return `status cannot be reset to ${name}; allowed: AVAILABLE (volumes placed on a pool) or an ERROR state`;
}

/** Why a snapshot cannot be reset to `target`, or null when it can: AVAILABLE, ERROR or ERROR_DELETING. */
export function snapshotResetRefusal(target: SnapshotStatus): string | null {
  if (target === 'deleted') {
    return 'status cannot be reset to DELETED: that would leave its data on the pool; use deleteSnapshot (reset it to ERROR first if it is stuck)';
  }
  if (target === 'available' || isErrorState(target)) return null;
  return `status cannot be reset to ${target.toUpperCase()}: it is a transitional state and a reset starts no work, so nothing would ever finish it; reset to AVAILABLE, ERROR or ERROR_DELETING`;
}

/** The reason an admin gives: required, 1 to 1024 characters, not only blanks. */
export function checkReason(p: Problems, reason: string | null | undefined): void {
  if (reason === undefined || reason === null || reason.trim().length === 0) {
    p.add(`reason is required: say why (1 to ${REASON_MAX} characters); it is kept in the status audit`);
    return;
  }
  if (chars(reason) > REASON_MAX) p.add(`reason must be at most ${REASON_MAX} characters (got ${chars(reason)})`);
}
