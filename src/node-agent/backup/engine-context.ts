/**
 * What the backup engine's operations (take-backup.ts, restore-verify.ts) share: the
 * repository's store, the chunk size, the worker-thread count, and the process group that
 * owns the qemu-nbd servers of the images.
 */
import type { ProcessGroup } from '../../lifecycle/index.js';
import type { RepoStore } from './repository.js';

export interface EngineContext {
  readonly store: RepoStore;
  readonly chunkSize: number;
  /** Hashing/compression worker threads. */
  readonly workers: number;
  /** Owns the qemu-nbd processes that serve the images being read or written. */
  readonly processes: ProcessGroup;
}
