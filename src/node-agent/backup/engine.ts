/**
 * The backup engine's face: open a repository, make an engine over it. The contract (types)
 * is in types.ts; the implementation in `engine-impl.ts`, `take-backup.ts` and
 * `restore-verify.ts` (pipeline), `dir-repository.ts` and `nats-repository.ts` (storage),
 * `nbd-client.ts` (reading and writing images).
 */
import type { ProcessGroup } from '../../lifecycle/index.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { DriverError } from '../drivers/index.js';
import { BackupEngineImpl } from './engine-impl.js';
import { openRepositoryImpl } from './open-repository.js';
import type { BackupEngine, BackupRepository } from './types.js';

export type { BackupEngine, BackupLog, BackupManifest, BackupRepository, ChangeTracking, ManifestEntry, Progress, VerifyResult } from './types.js';
export { CHANGE_TRACKINGS } from './types.js';
export { BackupAbortedError } from './errors.js';
export { volumeChecksum } from './chunk-plan.js';

/** @default 4 MiB */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;

/**
 * Opens (creating when needed) the repository named by `spec`: `dir:/abs/path` (a relative
 * path is under `deps.dataDir`) or `nats:<bucket>` (needs `deps.nats`).
 * @throws DriverError (not retryable) for a malformed spec or a missing NATS connection.
 */
export function openRepository(spec: string, deps: { nats?: NatsConnection; dataDir: string; replicas?: number }): Promise<BackupRepository> {
  return openRepositoryImpl(spec, deps);
}

/**
 * The engine over `repository` (one opened by `openRepository`).
 * @param opts.chunkSize bytes per chunk, a power of two between 64 KiB and 32 MiB. @default DEFAULT_CHUNK_SIZE
 * @param opts.workers hashing/compression worker threads. @default min(4, cpus)
 * @param opts.processes owns the qemu-nbd servers of the images (the agent's group). @default a group of the engine's own
 */
export function createBackupEngine(repository: BackupRepository, opts?: { chunkSize?: number; workers?: number; processes?: ProcessGroup }): BackupEngine {
  const chunkSize = opts?.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 65536 || chunkSize > 32 * 1024 * 1024 || (chunkSize & (chunkSize - 1)) !== 0) {
    throw new DriverError(`backup chunk size ${chunkSize} is not a power of two between 64 KiB and 32 MiB; pick one such as 4194304`, { retryable: false });
  }
  return new BackupEngineImpl(repository, { chunkSize, workers: opts?.workers, processes: opts?.processes });
}
