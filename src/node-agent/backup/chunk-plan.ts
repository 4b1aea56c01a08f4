import { createHash } from 'node:crypto';

/**
 * Pure planning for the backup engine: which fixed-size chunks to read from a volume's
 * allocated extents, which ranges of a restored volume are zeros, and what an incremental
 * backup can take from its parent. No I/O here.
 */

export interface Range {
  offset: number;
  length: number;
}

/** One chunk of the volume's fixed grid that holds allocated data. */
export interface PlannedChunk {
  /** Multiple of the chunk size. */
  offset: number;
  /** chunkSize, or less for the last chunk of the volume. */
  length: number;
  /** The allocated parts of the chunk, absolute offsets, ordered; the rest of the chunk reads as zeros. */
  reads: Range[];
}

/**
 * Cuts allocated extents on the fixed chunk grid (offsets k × chunkSize), so equal data at
 * the same place always makes the same chunk, whatever else changed: what lets an
 * incremental backup find its parent's chunks. Chunks with no allocated byte are left
 * out; a chunk is read only where allocated.
 * @param extents allocated extents, any order, may touch or overlap
 */
export function planChunks(extents: readonly Range[], sizeBytes: number, chunkSize: number): PlannedChunk[] {
  const merged = mergeRanges(extents.map((e) => clip(e, sizeBytes)).filter((e): e is Range => e !== null));
  const out: PlannedChunk[] = [];
  for (const e of merged) {
    let pos = e.offset;
    const end = e.offset + e.length;
    while (pos < end) {
      const chunkStart = Math.floor(pos / chunkSize) * chunkSize;
      const chunkEnd = Math.min(chunkStart + chunkSize, sizeBytes);
      const readEnd = Math.min(end, chunkEnd);
      const last = out[out.length - 1];
      const read = { offset: pos, length: readEnd - pos };
      if (last && last.offset === chunkStart) last.reads.push(read);
      else out.push({ offset: chunkStart, length: chunkEnd - chunkStart, reads: [read] });
      pos = readEnd;
    }
  }
  return out;
}

/** Ordered, non-overlapping, non-touching ranges covering the same bytes. */
export function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, r.offset + r.length - last.offset);
    } else out.push({ offset: r.offset, length: r.length });
  }
  return out;
}

function clip(r: Range, size: number): Range | null {
  const start = Math.max(0, r.offset);
  const end = Math.min(size, r.offset + r.length);
  return end > start ? { offset: start, length: end - start } : null;
}

/** The parts of [0, sizeBytes) no entry covers (entries ordered, non-overlapping), cut to at most `maxLength` each. */
export function zeroRanges(entries: readonly Range[], sizeBytes: number, maxLength = 1 << 30): Range[] {
  const out: Range[] = [];
  let pos = 0;
  const push = (from: number, to: number): void => {
    for (let p = from; p < to; p += maxLength) out.push({ offset: p, length: Math.min(maxLength, to - p) });
  };
  for (const e of entries) {
    if (e.offset > pos) push(pos, e.offset);
    pos = Math.max(pos, e.offset + e.length);
  }
  if (pos < sizeBytes) push(pos, sizeBytes);
  return out;
}

/** Sum of the lengths of `ranges`. */
export function totalLength(ranges: readonly Range[]): number {
  return ranges.reduce((n, r) => n + r.length, 0);
}

/** What an incremental backup can skip: the hashes its parent references. */
export function parentHashes(parent: { entries: readonly { hash: string }[] } | null): ReadonlySet<string> {
  return new Set(parent?.entries.map((e) => e.hash) ?? []);
}

/** How a new backup's entries compare with its parent's: chunks unchanged, changed (new), and bytes of each. */
export function diffAgainstParent(
  entries: readonly { offset: number; length: number; hash: string }[],
  parent: { entries: readonly { hash: string }[] } | null,
): { reused: number; added: number; reusedBytes: number; addedBytes: number } {
  const known = parentHashes(parent);
  let reused = 0;
  let added = 0;
  let reusedBytes = 0;
  let addedBytes = 0;
  for (const e of entries) {
    if (known.has(e.hash)) {
      reused++;
      reusedBytes += e.length;
    } else {
      added++;
      addedBytes += e.length;
    }
  }
  return { reused, added, reusedBytes, addedBytes };
}

const zeroHashes = new Map<number, Buffer>();

/** sha256 of `length` zero bytes (memoised: a volume has at most two chunk lengths). */
export function zeroChunkHash(length: number): Buffer {
  let h = zeroHashes.get(length);
  if (!h) {
    const hash = createHash('sha256');
    const block = Buffer.alloc(Math.min(length, 1 << 20));
    for (let left = length; left > 0; left -= block.length) hash.update(left >= block.length ? block : block.subarray(0, left));
    h = hash.digest();
    zeroHashes.set(length, h);
  }
  return h;
}

/**
 * The checksum of a whole virtual volume, zeros included, in time proportional to its
 * data rather than its size: the sha256 of the concatenated sha256 digests (32 bytes each)
 * of every piece of the fixed chunk grid (offsets 0, chunkSize, 2 × chunkSize, …; the last
 * piece shorter when the size is not a multiple). Any tool can recompute it from the
 * volume's bytes. A plain sha256 of a 64 GiB sparse volume would hash 64 GiB of zeros.
 * @param chunkHashes hex sha256 of the pieces that hold data, by offset; the others are zeros
 */
export function volumeChecksum(sizeBytes: number, chunkSize: number, chunkHashes: ReadonlyMap<number, string>): string {
  const outer = createHash('sha256');
  for (let offset = 0; offset < sizeBytes; offset += chunkSize) {
    const hex = chunkHashes.get(offset);
    outer.update(hex !== undefined ? Buffer.from(hex, 'hex') : zeroChunkHash(Math.min(chunkSize, sizeBytes - offset)));
  }
  return outer.digest('hex');
}
