/**
 * The messages the agent's backup commands record and emit, built without I/O: outcome
 * events, the figures of a backup, the failure sent for work lost in a restart, and the
 * OutcomeStore keys (the "started" marker's attempt, a deleted backup's tombstone).
 */
import { BACKUP_KIND, subjects, type BackupFigures, type BackupOutcomeEvent } from '../bus/index.js';
import type { BackupManifest } from './backup/index.js';
import type { AgentBackupsOptions } from './backup-commands.js';
import type { RecordedMessage } from './outcome-store.js';

/** Attempt number of the "started" marker in the OutcomeStore (real outcomes use 1). */
export const STARTED = 0;

/** The OutcomeStore key that says a backup was deleted on this agent. */
export function tombstone(backupId: string): string {
  return `deleted-backup-${backupId}`;
}

/** Name of the temporary snapshot a forced backup of an IN_USE volume reads. */
export function temporarySnapshotId(backupId: string): string {
  return `backup-${backupId}`;
}

/** A backup outcome event, to the backup's subject; msgId `<operationId>:<outcome>`. */
export function backupOutcome(
  host: string,
  operationId: string,
  p: { backupId: string; volumeId: string },
  outcome: BackupOutcomeEvent['outcome'],
  rest: Omit<BackupOutcomeEvent, 'operationId' | 'backupId' | 'volumeId' | 'outcome'>,
): RecordedMessage {
  const payload: BackupOutcomeEvent = { operationId, backupId: p.backupId, volumeId: p.volumeId, outcome, ...rest };
  return { subject: subjects.agentEvent(host, 'backup', p.backupId), kind: BACKUP_KIND.backupOutcome, payload, msgId: `${operationId}:${outcome}` };
}

export function repositoryIdField(repositoryId: string | null | undefined): { repositoryId?: string } {
  return repositoryId ? { repositoryId } : {};
}

export function noEngineMessage(opts: Pick<AgentBackupsOptions, 'host' | 'engineProblem' | 'repository'>): string {
  return `host ${opts.host} has no usable backup repository (${opts.engineProblem ?? opts.repository})`;
}

export function figuresOf(m: BackupManifest): BackupFigures {
  return {
    sizeBytes: m.sizeBytes,
    chunkSize: m.chunkSize,
    chunkCount: m.entries.length,
    sha256: m.sha256,
    codec: m.codec,
    parentId: m.parentId,
    dataBytes: m.dataBytes,
    storedBytes: m.storedBytes,
    dedupBytes: m.dedupBytes,
    durationMs: m.durationMs,
    ...(m.changeTracking === undefined ? {} : { changeTracking: m.changeTracking }),
    ...(m.readBytes === undefined ? {} : { readBytes: m.readBytes }),
  };
}

export function lostMessage(what: 'backup' | 'restore', host: string): string {
  return what === 'backup'
    ? `The agent on ${host} stopped while it took this backup, so the backup is incomplete (ERROR). Delete it and take another; the volume is usable.`
    : `The agent on ${host} stopped while it restored this backup, so the volume holds part of it (ERROR_RESTORING). Restore into it again, or delete it.`;
}
