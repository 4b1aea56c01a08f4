/**
 * The storage primitives every backup repository offers (open-repository.ts picks one from
 * a spec). Two kinds of object: chunks (content-addressed by the sha256 of
 * their uncompressed bytes, immutable, written atomically) and small named records
 * (manifests, leases of running backups, markers of running garbage collections).
 *
 * Garbage collection is safe against concurrent backups by a lease/marker handshake:
 *  - a backup adds the hashes of its next chunks to its lease (a record under `lease`,
 *    one segment per batch) BEFORE it relies on any of them existing, then looks for GC
 *    markers; while one is present it waits for that collection to finish before it
 *    checks which chunks exist;
 *  - a collection writes its marker (under `gc`) BEFORE it reads the leases and manifests,
 *    and deletes only chunks neither references.
 * Of a backup's "flush lease, read markers" and a collection's "write marker, read
 * leases", one of the two sees the other's write, so a collection never deletes a chunk a
 * backup counts on. Leases are removed when the backup ends (manifest written, or
 * failed); a crashed backup's lease is ignored and removed once older than LEASE_STALE_MS,
 * a crashed collection's marker once older than GC_MARKER_STALE_MS.
 */
import { DriverError } from '../drivers/index.js';
import type { BackupRepository } from './types.js';

export type RecordKind = 'manifest' | 'lease' | 'gc';

export interface ChunkInfo {
  hash: string;
  /** Stored (encoded) bytes. */
  size: number;
  /** When it was written (ms since epoch). */
  mtimeMs: number;
}

/** The repository primitives the engine uses (every BackupRepository opened here is one). */
export interface RepoStore extends BackupRepository {
  hasChunk(hash: string): Promise<boolean>;
  /** Atomic and idempotent: the chunk appears whole under its name or not at all. */
  putChunk(hash: string, data: Uint8Array): Promise<void>;
  getChunk(hash: string): Promise<Uint8Array | null>;
  /** Returns the bytes freed (0 when it was already gone). */
  deleteChunk(hash: string): Promise<number>;
  listChunks(): Promise<ChunkInfo[]>;
  /** Makes every chunk written so far durable (before a manifest refers to them). */
  sync(): Promise<void>;
  /**
   * Atomic (whole or absent). Manifests are also durable when this resolves; leases and GC
   * markers only need to be visible to other processes (a crash ends their owner anyway).
   */
  putRecord(kind: RecordKind, name: string, text: string): Promise<void>;
  getRecord(kind: RecordKind, name: string): Promise<string | null>;
  deleteRecord(kind: RecordKind, name: string): Promise<void>;
  listRecords(kind: RecordKind): Promise<{ name: string; mtimeMs: number }[]>;
}

/** A running backup's lease is ignored (and removed by GC) after this long without a new segment. @default 6 h */
export const LEASE_STALE_MS = 6 * 3600_000;
/** A collection's marker is ignored (and removed) after this long. @default 15 min */
export const GC_MARKER_STALE_MS = 15 * 60_000;

const HASH_RE = /^[0-9a-f]{64}$/;
/** Names of records: ids as the API makes them (uuids, slugs; up to 200), plus a lease segment suffix; never paths. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,239}$/;

export function checkHash(hash: string): void {
  if (!HASH_RE.test(hash)) throw new DriverError(`"${hash}" is not a sha256 hex chunk name`, { retryable: false });
}

export function checkName(name: string): void {
  if (!NAME_RE.test(name) || name.includes('..')) {
    throw new DriverError(`"${name}" is not a valid backup record name: use letters, digits, '.', '_' or '-' (up to 200), not ".."`, { retryable: false });
  }
}

export function asStore(repository: BackupRepository): RepoStore {
  const r = repository as Partial<RepoStore>;
  if (typeof r.putChunk !== 'function' || typeof r.listRecords !== 'function') {
    throw new DriverError(`repository ${repository.spec} was not opened by openRepository`, { retryable: false });
  }
  return repository as RepoStore;
}
