/** What the backup resolvers need from the gateway (src/gateway/mutations/backup.ts implements it). */
import type { BackupView, LiveBackup } from '../../bus/index.js';
import type { Backup, Operation, Principal, Volume } from '../../db/index.js';
import type { DeleteAnswer } from './deletes.js';
import type { ListenOptions } from './live.js';

export interface CreateBackupRequest {
  volumeId: string;
  snapshotId?: string | null;
  name?: string | null;
  description?: string | null;
  incremental?: boolean | null;
  force?: boolean | null;
  idempotencyKey?: string | null;
}

export interface RestoreBackupRequest {
  backupId: string;
  /** Restore into this AVAILABLE volume; omitted: into a new volume. */
  volumeId?: string | null;
  /** Name of the new volume (only without volumeId). */
  name?: string | null;
}

export interface DeleteBackupRequest {
  id: string;
  expectedVersion?: number | null;
}

export interface VerifyBackupRequest {
  id: string;
}

export interface ImportBackupRecordRequest {
  record: string;
}

export interface BackupResult {
  backup: Backup;
  operation: Operation;
}

export interface BackupDeleteResult extends DeleteAnswer {
  backup: Backup;
}

export interface RestoreBackupResult extends BackupResult {
  volume: Volume;
}

/** What `backupProgress` yields. */
export interface BackupProgressValue {
  backupId: string;
  status: BackupView['status'];
  phase: 'backup' | 'restore';
  doneBytes: number;
  totalBytes: number;
  percent: number;
  bytesPerSecond: number;
  at: Date;
}

export interface BackupLiveApi {
  listen(backupId: string, accept: (ev: LiveBackup) => boolean, first: LiveBackup): AsyncIterableIterator<LiveBackup>;
  listenProgress(current: BackupView, accept: (ev: LiveBackup) => boolean): AsyncIterableIterator<BackupProgressValue>;
  /** Every backup as it is created or changes; stale versions are skipped (`backupEvents`). */
  listenAll(accept: (ev: LiveBackup) => boolean, opts?: ListenOptions<LiveBackup>): AsyncIterableIterator<LiveBackup>;
}

export interface BackupsPort {
  /** The backup if it exists, is not DELETED, and the caller may see it. */
  visible(p: Principal, id: string): Promise<Backup | null>;
  create(p: Principal | null, input: CreateBackupRequest): Promise<BackupResult>;
  restore(p: Principal | null, input: RestoreBackupRequest): Promise<RestoreBackupResult>;
  delete(p: Principal | null, input: DeleteBackupRequest): Promise<BackupDeleteResult>;
  verify(p: Principal | null, input: VerifyBackupRequest): Promise<BackupResult>;
  exportRecord(p: Principal | null, id: string): Promise<string>;
  importRecord(p: Principal | null, input: ImportBackupRecordRequest): Promise<BackupResult>;
  readonly live: BackupLiveApi;
}
