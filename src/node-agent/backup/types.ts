/**
 * The backup engine's contract, types only: what the agent (and the backup API) calls to
 * back up a volume's bytes into a content-addressed repository, restore them, verify them
 * and collect garbage, and the records it writes. Every file of the engine may import this
 * one; it imports none of them. The factories are in engine.ts.
 */
import type { ImageSource } from '../drivers/index.js';

/** How a backup finds what changed since its parent (see change-tracking.ts). */
export const CHANGE_TRACKINGS = ['dirty-bitmap', 'rbd-diff', 'compare', 'full'] as const;
export type ChangeTracking = (typeof CHANGE_TRACKINGS)[number];

/** One stored chunk of a backup. */
export interface ManifestEntry {
  offset: number;
  length: number;
  /** sha256 hex of the uncompressed bytes */
  hash: string;
}

export interface BackupManifest {
  format: 'flint-backup/1';
  backupId: string;
  volumeId: string;
  sizeBytes: number;
  chunkSize: number;
  /** Ordered, non-zero data only; everything else reads as zeros. */
  entries: ManifestEntry[];
  /**
   * Checksum of the whole virtual volume (zeros included), hex: the sha256 of the
   * concatenated sha256 digests of every chunkSize piece of the volume (the last one
   * shorter), so it costs time proportional to the data, not the size (a plain sha256 of a
   * sparse 64 GiB volume hashes 64 GiB of zeros). `volumeChecksum` in chunk-plan.ts.
   */
  sha256: string;
  /** The backup this one was compared with (incremental), for information only: no chain dependency. */
  parentId: string | null;
  /** Default codec used for new chunks, e.g. 'lz4' (each chunk object records its own). */
  codec: string;
  createdAt: string;
  /** Non-zero bytes the backup references (sum of entry lengths). */
  dataBytes: number;
  /** Bytes this backup added to the repository (compressed chunk objects it wrote). */
  storedBytes: number;
  /** Bytes of non-zero chunks the repository already had (not rewritten). */
  dedupBytes: number;
  durationMs: number;
  /** Bytes read from the image (allocated extents only; dirty chunks only with a bitmap). Informative; absent in imported records of older writers. */
  readBytes?: number;
  /**
   * How the backup found its changes: `dirty-bitmap` (read only the chunks written since the
   * parent, per the image's persistent bitmap), `rbd-diff` (read only the extents `rbd diff`
   * lists since the parent's rbd snapshot), `compare` (read every allocated chunk, stored
   * what the repository lacked) or `full` (no parent). See change-tracking.ts. Absent in
   * records of older writers.
   */
  changeTracking?: ChangeTracking;
}

/** Where the engine says how a backup finds its changes, and why it could not use a bitmap (pino-like). */
export interface BackupLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface Progress {
  doneBytes: number;
  totalBytes: number;
}

/** Where chunks and manifests live: `dir:/path` or `nats:<bucket>`. */
export interface BackupRepository {
  readonly spec: string;
  close(): Promise<void>;
}

export type VerifyResult =
  | { ok: true; chunks: number }
  | { ok: false; chunks: number; problem: { hash: string; offset: number; reason: string } };

export interface BackupEngine {
  readonly repository: BackupRepository;
  /**
   * Reads the allocated extents of `source`, stores the chunks the repository lacks and
   * writes the manifest last. With `parent`, chunks the parent has are not rewritten.
   * With `trackChanges` and a qcow2 source, keeps a persistent dirty bitmap for the next
   * backup and, when the parent left a usable one, reads only the chunks written since
   * (bitmap-session.ts); with an RBD source (`source.rbd`), the same with an rbd snapshot
   * and `rbd diff` (rbd-session.ts). The manifest is the same as a full read's.
   * Idempotent: when the repository already has this backupId for this volume, returns
   * that manifest (a DriverError when it belongs to another volume).
   * @throws BackupAbortedError when `signal` aborts (nothing is left under a final name but whole chunks; no manifest)
   * @throws DriverError on any other failure
   */
  backup(req: {
    backupId: string;
    volumeId: string;
    source: ImageSource;
    parent: BackupManifest | null;
    /**
     * `source` is the volume's current bytes and nothing else opens the image until the
     * backup ends (an AVAILABLE volume): the engine may keep dirty bitmaps in it. Never for a
     * snapshot, nor for a volume another process may write. @default false
     */
    trackChanges?: boolean;
    /** Where to say how changes were found (and why not with a bitmap). @default silent */
    log?: BackupLog;
    signal?: AbortSignal;
    onProgress?: (p: Progress) => void;
  }): Promise<BackupManifest>;
  /** Writes the backup's bytes into an existing image (every byte: data, and zeros elsewhere); the image must be at least sizeBytes. */
  restore(req: { manifest: BackupManifest; target: ImageSource; signal?: AbortSignal; onProgress?: (p: Progress) => void }): Promise<void>;
  /** Re-reads every chunk of the backup and checks its hash; reports the first bad one. */
  verify(backupId: string, signal?: AbortSignal, onProgress?: (p: Progress) => void): Promise<VerifyResult>;
  manifest(backupId: string): Promise<BackupManifest | null>;
  /** Import of a backup record; validates it (DriverError, not retryable, when invalid). */
  putManifest(manifest: BackupManifest): Promise<void>;
  /** Idempotent; chunks stay until GC. */
  deleteManifest(backupId: string): Promise<void>;
  /**
   * Deletes the chunks no manifest and no running backup's lease references (see
   * repository.ts for the protocol that makes it safe against concurrent backups).
   * @param opts.graceMs chunks written less than this long ago are kept anyway. @default 0
   */
  collectGarbage(opts?: { graceMs?: number }): Promise<{ deletedChunks: number; freedBytes: number; keptChunks: number }>;
}
