/**
 * The recorder's part for backups (recorder.ts delegates `backup.outcome` and
 * `backup.verified` events here): an agent's outcome is declared for apply-outcome.ts, the
 * backup's compare-and-set with the volume it read or wrote moving in the same transaction,
 * and the user message of a failure on the backup (or, for a restore, on its volume).
 */
import type { EntityManager } from '@mikro-orm/knex';
import type { BackupOutcomeEvent, BackupVerified } from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import { casVolume, findBackup, finishOperation, type BackupChanges, type Db, type UserMessage, type Volume } from '../../db/index.js';
import { BACKUP_OUTCOMES } from '../../domain/backup-states.js';
import { outcomeTransition } from '../../domain/volume-states.js';
import { countOperation } from '../../metrics/index.js';
import type { BackupLive } from '../live/backup.js';
import { announceOperationNow, leaveMessage } from './messages.js';
import type { LiveHub } from '../live/hub.js';
import { applyOutcome } from './apply-outcome.js';
import { backupResource } from './resources.js';

const KIND_OF: Record<string, string> = { create: 'create_backup', delete: 'delete_backup', restore: 'restore_backup', import: 'import_backup' };

const CANCELLED = { code: 'INVALID_STATE', message: 'The backup was cancelled by deleteBackup before it was complete; nothing of it is kept.' };

export async function applyBackupOutcome(db: Db, live: LiveHub, backupLive: BackupLive, log: Logger, e: BackupOutcomeEvent): Promise<void> {
  const t = BACKUP_OUTCOMES[e.outcome];
  const [verb] = e.outcome.split('.') as [string];
  const kind = KIND_OF[verb] ?? e.outcome;
  const failed = e.outcome.endsWith('.failed') || e.outcome === 'create.cancelled';
  const changes: BackupChanges = { status: t.to };
  if ((e.outcome === 'create.succeeded' || e.outcome === 'import.succeeded') && e.figures) {
    const f = e.figures;
    Object.assign(changes, {
      sizeBytes: f.sizeBytes,
      sha256: f.sha256,
      chunkSize: f.chunkSize,
      chunkCount: f.chunkCount,
      codec: f.codec,
      dataBytes: f.dataBytes,
      storedBytes: f.storedBytes,
      dedupBytes: f.dedupBytes,
      durationMs: Math.round(f.durationMs),
      changeTracking: f.changeTracking ?? null,
      readBytes: f.readBytes ?? null,
      parentId: f.parentId,
      incremental: f.parentId !== null,
      progressDoneBytes: f.sizeBytes,
      progressTotalBytes: f.sizeBytes,
    } satisfies BackupChanges);
  }
  if (e.outcome === 'create.failed' || e.outcome === 'import.failed') changes.failReason = e.error?.message ?? 'The backup failed.';
  if (e.outcome === 'delete.succeeded') changes.deletedAt = new Date();
  if (e.repository) changes.repository = e.repository;
  if (e.repositoryId) changes.repositoryId = e.repositoryId;
  if (e.outcome.startsWith('restore.')) changes.restoreVolumeId = null;

  await applyOutcome(
    { db, live, log },
    {
      resource: backupResource(backupLive),
      resourceId: e.backupId,
      operationId: e.operationId,
      outcome: e.outcome,
      kind,
      failed,
      ...(e.outcome === 'create.cancelled' ? { error: CANCELLED } : e.error ? { error: e.error } : {}),
      from: t.from,
      changes,
      // Reading the volume is over, whatever became of the backup (an IN_USE volume never left IN_USE); a restore's target is AVAILABLE or ERROR.
      alsoApply: async (tx) => {
        let volume: Volume | null = null;
        let volumeMessage: UserMessage | null = null;
        if (verb === 'create') volume = await casVolume(tx, e.volumeId, { from: ['backing_up'] }, { status: outcomeTransition('backup.finished').to });
        if (verb === 'restore') {
          const vt = outcomeTransition(e.outcome === 'restore.succeeded' ? 'restore.succeeded' : 'restore.failed');
          volume = await casVolume(tx, e.targetVolumeId ?? e.volumeId, { from: vt.from }, { status: vt.to });
          if (volume && e.outcome === 'restore.failed') volumeMessage = await message(tx, 'volume', volume, kind, e.error?.message);
        }
        return (l) => {
          if (volume) l.publish('UPDATED', volume);
          if (volumeMessage) l.publishMessage(volumeMessage);
        };
      },
      // A failed backup, delete or import is told on the backup; a failed restore on its volume (above); a cancel is what the user asked.
      message: e.outcome === 'create.failed' || e.outcome === 'delete.failed' || e.outcome === 'import.failed' ? defaultText(kind, e.error?.message) : null,
      // The backup moved on (e.g. the deadline gave the work up): only the operation ends, if still open.
      late: async () => log.info({ backupId: e.backupId, outcome: e.outcome }, 'backup outcome matched no transition; operation ended only'),
    },
  );
}

/** A verification changes no state: it ends its operation, with a message on the backup when it failed. */
export async function applyBackupVerified(db: Db, live: LiveHub, log: Logger, e: BackupVerified): Promise<void> {
  const em = db.fork();
  const failed = e.outcome === 'verify.failed';
  let msg: UserMessage | null = null;
  await em.transactional(async (tx) => {
    if (!(await finishOperation(tx, e.operationId, failed ? 'failed' : 'succeeded', failed ? e.error : undefined))) return;
    const b = await findBackup(tx, e.backupId);
    if (failed && b) msg = await message(tx, 'backup', b, 'verify_backup', e.error?.message);
  });
  countOperation('verify_backup', failed ? 'failed' : 'succeeded');
  log.info({ backupId: e.backupId, outcome: e.outcome, chunks: e.chunks, problem: e.problem }, 'backup verified');
  await announceOperationNow(db.fork(), live, e.operationId);
  if (msg) live.publishMessage(msg);
}

/** A failure's user message: the agent's error, or which work failed. */
function defaultText(event: string, text: string | undefined): string {
  return text ?? `The ${event.replace('_', ' ')} failed.`;
}

async function message(tx: EntityManager, resourceType: 'backup' | 'volume', r: { id: string; projectId: string }, event: string, text: string | undefined): Promise<UserMessage> {
  return leaveMessage(tx, { projectId: r.projectId, resourceType, resourceId: r.id, event, message: defaultText(event, text) });
}

