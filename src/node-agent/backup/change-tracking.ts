/**
 * How a backup finds what changed since its parent (pure; the qemu-img calls are in
 * drivers/qcow2-bitmaps.ts and the sequence in bitmap-session.ts):
 *
 * - `dirty-bitmap`: the image holds the persistent bitmap its parent backup added right
 *   before it read the image, still consistent. Chunks with no dirty byte hold exactly the
 *   bytes the parent read, so the parent's manifest entry (or its absence: zeros) stands for
 *   them without reading; only dirty chunks are read. The manifest and the volume checksum
 *   come out identical to a full read's.
 * - `compare`: every allocated chunk is read and hashed; what the parent (or any backup)
 *   has already is not stored again.
 * - `full`: no parent; every allocated chunk is read.
 */
import { qcow2Bitmaps } from '../drivers/index.js';
import { mergeRanges, type PlannedChunk, type Range } from './chunk-plan.js';
import type { ManifestEntry } from './types.js';


/** What a parent manifest must say for its bitmap to be usable. */
export interface ParentFacts {
  backupId: string;
  volumeId: string;
  sizeBytes: number;
  chunkSize: number;
}

/** A persistent bitmap as `qemu-img info` lists it. */
export interface BitmapState {
  name: string;
  flags: readonly string[];
}

export type BitmapChoice = { use: string } | { use: null; reason: string };

/**
 * Whether this backup can read only what changed since `parent`, with the parent's bitmap,
 * and if not, why (for the agent's log).
 */
export function chooseParentBitmap(input: {
  parent: ParentFacts | null;
  volumeId: string;
  sizeBytes: number;
  chunkSize: number;
  bitmaps: readonly BitmapState[];
}): BitmapChoice {
  const { parent } = input;
  if (!parent) return { use: null, reason: 'no parent backup (a full backup)' };
  const name = qcow2Bitmaps.backupBitmapName(parent.backupId);
  const bitmap = input.bitmaps.find((b) => b.name === name);
  if (!bitmap) return { use: null, reason: `no bitmap for parent ${parent.backupId} in the image` };
  if (bitmap.flags.includes('in-use')) {
    return { use: null, reason: `the bitmap of parent ${parent.backupId} is marked in-use: a process that wrote the image stopped without closing it, so it may have missed writes` };
  }
  if (!bitmap.flags.includes('auto')) return { use: null, reason: `the bitmap of parent ${parent.backupId} is disabled, so it recorded nothing` };
  const mismatch = parentMismatch(parent, input);
  return mismatch === null ? { use: name } : { use: null, reason: mismatch };
}

/** Why the parent's manifest cannot stand for the unchanged chunks of this backup (another volume, size or chunk size); null when it can. */
export function parentMismatch(parent: ParentFacts, input: { volumeId: string; sizeBytes: number; chunkSize: number }): string | null {
  if (parent.volumeId !== input.volumeId) return `parent ${parent.backupId} is a backup of volume ${parent.volumeId}, not ${input.volumeId}`;
  if (parent.sizeBytes !== input.sizeBytes) return `the volume is ${input.sizeBytes} bytes and parent ${parent.backupId} was ${parent.sizeBytes} (it was extended since)`;
  if (parent.chunkSize !== input.chunkSize) return `parent ${parent.backupId} has ${parent.chunkSize}-byte chunks, this agent makes ${input.chunkSize}-byte ones`;
  return null;
}

/** Flint's bitmaps to remove before a tracked backup: all but the parent's one in use (crash leftovers, unusable ones). */
export function staleBitmaps(bitmaps: readonly BitmapState[], keep: string | null): string[] {
  return bitmaps.filter((b) => qcow2Bitmaps.isBackupBitmap(b.name) && b.name !== keep).map((b) => b.name);
}

/** Offsets (on the chunk grid) of the chunks that hold at least one byte of `ranges`. */
export function touchedChunks(ranges: readonly Range[], sizeBytes: number, chunkSize: number): Set<number> {
  const out = new Set<number>();
  for (const r of mergeRanges(ranges)) {
    const end = Math.min(sizeBytes, r.offset + r.length);
    for (let c = Math.floor(Math.max(0, r.offset) / chunkSize) * chunkSize; c < end; c += chunkSize) out.add(c);
  }
  return out;
}

export interface BitmapPlan {
  /** Dirty chunks that hold allocated data: read them. (Dirty chunks with none are zeros now.) */
  read: PlannedChunk[];
  /**
   * Clean chunks the parent has data for: its entry stands for them. `chunk` is what to read
   * instead should the repository have lost the entry's chunk meanwhile.
   */
  reuse: { entry: ManifestEntry; chunk: PlannedChunk }[];
}

/**
 * Which chunks a `dirty-bitmap` backup reads and which it takes from its parent.
 * @param allocated the allocated chunks now (planChunks over base:allocation)
 * @param dirty the bitmap's dirty extents (any order)
 * @param parentEntries the parent manifest's entries (same size and chunk size); one off the grid counts as dirty
 */
export function planFromBitmap(
  allocated: readonly PlannedChunk[],
  dirty: readonly Range[],
  parentEntries: readonly ManifestEntry[],
  sizeBytes: number,
  chunkSize: number,
): BitmapPlan {
  const offGrid = parentEntries.filter((e) => e.offset % chunkSize !== 0 || e.length !== Math.min(chunkSize, sizeBytes - e.offset));
  const dirtyChunks = touchedChunks([...dirty, ...offGrid], sizeBytes, chunkSize);
  const byOffset = new Map(allocated.map((c) => [c.offset, c]));
  const read = allocated.filter((c) => dirtyChunks.has(c.offset));
  const reuse = parentEntries
    .filter((e) => !dirtyChunks.has(e.offset))
    .map((entry) => ({ entry, chunk: byOffset.get(entry.offset) ?? { offset: entry.offset, length: entry.length, reads: [{ offset: entry.offset, length: entry.length }] } }));
  return { read, reuse };
}
