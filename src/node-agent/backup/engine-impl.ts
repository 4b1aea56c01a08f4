import { DriverError } from '../drivers/index.js';
import type { BackupEngine, BackupManifest, BackupRepository, VerifyResult } from './engine.js';

export class BackupEngineImpl implements BackupEngine {
  constructor(
    readonly repository: BackupRepository,
    private readonly opts: { chunkSize: number; workers?: number },
  ) {}
  backup(): Promise<BackupManifest> {
    return Promise.reject(new DriverError('backup engine: not implemented yet'));
  }
  restore(): Promise<void> {
    return Promise.reject(new DriverError('backup engine: not implemented yet'));
  }
  verify(): Promise<VerifyResult> {
    return Promise.reject(new DriverError('backup engine: not implemented yet'));
  }
  manifest(): Promise<BackupManifest | null> {
    return Promise.reject(new DriverError('backup engine: not implemented yet'));
  }
  putManifest(): Promise<void> {
    return Promise.reject(new DriverError('backup engine: not implemented yet'));
  }
  deleteManifest(): Promise<void> {
    return Promise.reject(new DriverError('backup engine: not implemented yet'));
  }
  collectGarbage(): Promise<{ deletedChunks: number; freedBytes: number; keptChunks: number }> {
    return Promise.reject(new DriverError(`backup engine: not implemented yet (${this.opts.chunkSize})`));
  }
}
