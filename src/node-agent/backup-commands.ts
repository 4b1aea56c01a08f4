/**
 * The agent's backup commands: their names, their payloads, and what `AgentBackups`
 * (backups.ts) needs to run them, including how a forced backup's temporary snapshot is
 * taken and removed.
 */
import type { Logger } from '../config/index.js';
import {
  BACKUP_COMMAND,
  type AgentCreateBackup,
  type AgentDeleteBackup,
  type AgentImportBackup,
  type AgentRestoreBackup,
  type AgentVerifyBackup,
} from '../bus/index.js';
import type { BackupEngine } from './backup/index.js';
import type { VolumeDriver } from './drivers/index.js';
import type { KeyedMutex } from './keyed-mutex.js';
import type { OutcomeStore } from './outcome-store.js';

export const BACKUP_COMMANDS = [
  BACKUP_COMMAND.createBackup,
  BACKUP_COMMAND.restoreBackup,
  BACKUP_COMMAND.deleteBackup,
  BACKUP_COMMAND.verifyBackup,
  BACKUP_COMMAND.importBackup,
] as const;
export type BackupCommand = (typeof BACKUP_COMMANDS)[number];

export interface BackupCommandPayloads {
  create_backup: AgentCreateBackup;
  restore_backup: AgentRestoreBackup;
  delete_backup: AgentDeleteBackup;
  verify_backup: AgentVerifyBackup;
  import_backup: AgentImportBackup;
}

export function isBackupCommand(command: string): command is BackupCommand {
  return (BACKUP_COMMANDS as readonly string[]).includes(command);
}

/** How often a running job reports its progress (core NATS). @default 1_000 */
export const PROGRESS_INTERVAL_MS = 1_000;

export interface AgentBackupsOptions {
  host: string;
  drivers: ReadonlyMap<string, VolumeDriver>;
  /** null: the agent has no usable repository; every backup command fails with why. */
  engine: BackupEngine | null;
  /** Why `engine` is null, for the failure messages. */
  engineProblem?: string;
  repository: string;
  /** The repository's identity, recorded with every backup written (null: unknown). */
  repositoryId?: string | null;
  outcomes: OutcomeStore;
  emit: (subject: string, kind: string, payload: unknown, msgId: string) => Promise<void>;
  /** Publishes a progress report on core NATS (fire and forget). */
  report: (subject: string, kind: string, payload: unknown) => void;
  /** The agent's per-volume command lock (shared with AgentCore). */
  mutex: KeyedMutex;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** @default PROGRESS_INTERVAL_MS */
  progressIntervalMs?: number;
  /** Takes and removes a forced backup's temporary snapshot; default: the driver's. */
  temporarySnapshots?: TemporarySnapshots;
}

/**
 * How the temporary snapshot of a forced backup is taken and removed. The agent's attachment
 * handler gives one that goes through the process exporting the volume when it holds the
 * image (src/node-agent/attachments.ts), since qemu-img cannot then.
 */
export interface TemporarySnapshots {
  create(driver: VolumeDriver, volumeId: string, snapshotId: string): Promise<void>;
  remove(driver: VolumeDriver, volumeId: string, snapshotId: string): Promise<void>;
}
