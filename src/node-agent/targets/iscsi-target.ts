/**
 * The `iscsi` target over tgt. Work in progress: every operation refuses until the tgt
 * implementation lands (same branch, next commit).
 */
import { DriverError } from '../drivers/index.js';
import type { ConnectionData, ExportRequest, Target, TargetOptions } from './target.js';

export class IscsiTarget implements Target {
  readonly kind = 'iscsi' as const;
  constructor(readonly opts: TargetOptions) {}
  setup(): Promise<void> {
    return Promise.reject(notYet());
  }
  export(_req: ExportRequest): Promise<ConnectionData> {
    return Promise.reject(notYet());
  }
  unexport(_attachmentId: string): Promise<void> {
    return Promise.reject(notYet());
  }
  refreshSize(_attachmentId: string): Promise<void> {
    return Promise.reject(notYet());
  }
  list(): Promise<string[]> {
    return Promise.reject(notYet());
  }
  reconcile(_wanted: readonly ExportRequest[]): Promise<void> {
    return Promise.reject(notYet());
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function notYet(): DriverError {
  return new DriverError('the iscsi target is not built yet', { retryable: false });
}
