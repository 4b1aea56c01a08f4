/**
 * How a backup of an RBD image finds what changed since its parent (pure; the `rbd` calls
 * are in rbd-cli.ts and the sequence in rbd-session.ts).
 *
 * A tracked backup creates an rbd snapshot `backup-<backupId>` and reads that snapshot, so
 * what it reads is one point in time. The next backup lists the image's snapshots: when its
 * parent's snapshot is still there (and the parent's manifest has the same volume, size and
 * chunk size), `rbd diff --from-snap backup-<parent> IMAGE@backup-<new>` gives exactly the
 * extents written (or discarded) between the two, and only the chunks they touch are read
 * (`rbd-diff`); the other chunks take the parent's entry, as with a dirty bitmap
 * (`planFromBitmap` in change-tracking.ts). The manifest and checksum equal a full read's.
 */
import { parentMismatch, type ParentFacts } from './change-tracking.js';
import type { Range } from './chunk-plan.js';

/** Names of the snapshots Flint's backups create; others (the volume's own snapshots) are never touched. */
export const RBD_BACKUP_SNAPSHOT_PREFIX = 'backup-';

/** The snapshot a backup creates and reads; the next backup diffs against it. */
export function rbdBackupSnapshotName(backupId: string): string {
  return `${RBD_BACKUP_SNAPSHOT_PREFIX}${backupId}`;
}

export function isRbdBackupSnapshot(name: string): boolean {
  return name.startsWith(RBD_BACKUP_SNAPSHOT_PREFIX);
}

export type SnapshotChoice = { use: string } | { use: null; reason: string };

/** Whether this backup can diff against its parent's rbd snapshot, and if not, why (for the agent's log). */
export function chooseParentSnapshot(input: {
  parent: ParentFacts | null;
  volumeId: string;
  sizeBytes: number;
  chunkSize: number;
  snapshots: readonly string[];
}): SnapshotChoice {
  const { parent } = input;
  if (!parent) return { use: null, reason: 'no parent backup (a full backup)' };
  const name = rbdBackupSnapshotName(parent.backupId);
  if (!input.snapshots.includes(name)) return { use: null, reason: `no rbd snapshot ${name} of parent ${parent.backupId} on the image` };
  const mismatch = parentMismatch(parent, input);
  return mismatch === null ? { use: name } : { use: null, reason: mismatch };
}

/** Flint's backup snapshots to remove before a tracked backup: all but the parent's (crash leftovers, older ones). */
export function staleRbdSnapshots(snapshots: readonly string[], keep: string | null): string[] {
  return snapshots.filter((s) => isRbdBackupSnapshot(s) && s !== keep);
}

/** One extent of `rbd diff --format json`: `exists` is false where the range was discarded (reads as zeros). */
export interface RbdDiffExtent extends Range {
  exists: boolean;
}

/**
 * Parses `rbd diff --format json` output (`[{"offset":0,"length":4096,"exists":"true"}, …]`;
 * `exists` is a string in Pacific, a boolean in later releases).
 * @throws Error when the text is not such a list
 */
export function parseRbdDiff(text: string): RbdDiffExtent[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value)) throw new Error('rbd diff did not print a JSON list');
  return value.map((v: unknown, i) => {
    const e = v as { offset?: unknown; length?: unknown; exists?: unknown };
    if (typeof e?.offset !== 'number' || typeof e.length !== 'number') throw new Error(`rbd diff extent ${i} has no numeric offset and length`);
    return { offset: e.offset, length: e.length, exists: e.exists === true || e.exists === 'true' };
  });
}

/** The allocated extents of an image, from `rbd diff` without `--from-snap`. */
export function allocatedFromDiff(extents: readonly RbdDiffExtent[]): Range[] {
  return extents.filter((e) => e.exists).map(({ offset, length }) => ({ offset, length }));
}

