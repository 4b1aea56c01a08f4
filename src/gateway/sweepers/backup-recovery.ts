/**
 * No backup stays transitional forever (issue 3's rule, for issue 5). Every gateway runs
 * this sweep; every change is a compare-and-set, so several gateways are safe.
 * - A backup CREATING, RESTORING or DELETING whose operation has ended without its outcome
 *   (the deadline sweeper failed it: no agent answered in time) is moved on: CREATING →
 *   ERROR (its volume back to AVAILABLE), RESTORING → AVAILABLE (the target volume, if the
 *   restore had started, → ERROR_RESTORING: it may hold part of the backup), DELETING →
 *   ERROR_DELETING; each with a user message.
 * - A restore into a new volume waits here for that volume: once it is AVAILABLE the
 *   restore command is sent (volume → RESTORING_BACKUP); if it failed, the backup is
 *   released and the restore operation fails.
 * Agents that restart report their lost work themselves (src/node-agent/backups.ts).
 */
import type { EntityManager } from '@mikro-orm/knex';
import type { Logger } from '../../config/logger.js';
import { BACKUP_COMMAND, BACKUP_KIND, subjects, type AgentRestoreBackup, type Bus } from '../../bus/index.js';
import { commitUnlessOvertaken, Overtaken, Backup, casBackup, casVolume, findOperation, finishOperation, findVolume, Operation, type Db, type UserMessage, type Volume } from '../../db/index.js';
import { LiveHub } from '../live/hub.js';
import type { BackupLive } from '../live/backup.js';
import { leaveMessage } from '../outcomes/messages.js';
import { dispatchOrDefer } from './outbox.js';
import { countRows } from '../../db/update-rows.js';

/** @default 1_000 */
export const BACKUP_SWEEP_MS = 1_000;

const GIVEN_UP: Record<string, { to: Backup['status']; hint: string }> = {
  creating: { to: 'error', hint: 'The backup is ERROR; delete it and take another once the agent is UP. The volume is usable.' },
  restoring: { to: 'available', hint: 'The backup is AVAILABLE again; the volume it was restored into is ERROR_RESTORING if the restore had begun: restore into it again or delete it.' },
  deleting: { to: 'error_deleting', hint: 'The backup is ERROR_DELETING; delete it again once the agent is UP.' },
};

export function startBackupRecovery(bus: Bus, db: Db, live: LiveHub, backupLive: BackupLive, log: Logger): { stop(): void; sweep(): Promise<void> } {
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      const busy = await db.fork().find(Backup, { status: { $in: ['creating', 'restoring', 'deleting'] } }, { limit: 200, disableIdentityMap: true });
      for (const b of busy) {
        const op = b.operationId ? await findOperation(db.fork(), b.operationId) : null;
        if (op && (op.status === 'failed' || op.status === 'succeeded')) await giveUp(db, live, backupLive, log, b, op);
        else if (op && b.status === 'restoring' && op.command === null && b.restoreVolumeId) await continueRestore(bus, db, live, backupLive, log, b, op);
      }
    } catch (err) {
      log.warn({ err }, 'backup recovery sweep failed; will retry');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void sweep(), BACKUP_SWEEP_MS);
  timer.unref();
  return { stop: () => clearInterval(timer), sweep };
}

/** The operation ended but the backup did not move: the work was given up. */
async function giveUp(db: Db, live: LiveHub, backupLive: BackupLive, log: Logger, b: Backup, op: Operation): Promise<void> {
  const rule = GIVEN_UP[b.status];
  if (!rule) return;
  const em = db.fork();
  let backup: Backup | null = null;
  let volume: Volume | null = null;
  const messages: UserMessage[] = [];
  const why = op.errorMessage ?? 'The agent did not report how the work ended.';
  await em.transactional(async (tx) => {
    backup = await casBackup(tx, b.id, { from: [b.status], expectedVersion: b.version }, {
      status: rule.to,
      restoreVolumeId: null,
      ...(rule.to === 'error' ? { failReason: why } : {}),
    });
    if (!backup) return;
    if (b.status === 'creating') volume = await casVolume(tx, b.volumeId, { from: ['backing_up'] }, { status: 'available' });
    if (b.status === 'restoring' && b.restoreVolumeId) {
      volume = await casVolume(tx, b.restoreVolumeId, { from: ['restoring_backup'] }, { status: 'error_restoring' });
      if (volume) messages.push(await leaveMessage(tx, { projectId: volume.projectId, resourceType: 'volume', resourceId: volume.id, event: 'restore_backup', message: `${why} Restoring backup ${b.id} into this volume did not finish; it may hold part of the backup. Restore into it again, or delete it.` }));
    }
    messages.push(await leaveMessage(tx, { projectId: b.projectId, resourceType: 'backup', resourceId: b.id, event: op.kind, message: `${why} ${rule.hint}` }));
  });
  if (!backup) return;
  log.warn({ backupId: b.id, was: b.status, now: rule.to, operationId: op.id }, 'backup work given up; backup moved on');
  backupLive.publish('UPDATED', backup);
  if (volume) live.publish('UPDATED', volume);
  for (const m of messages) live.publishMessage(m);
}

/** A restore into a new volume: send it once the volume is AVAILABLE, or release the backup if the volume failed. */
async function continueRestore(bus: Bus, db: Db, live: LiveHub, backupLive: BackupLive, log: Logger, b: Backup, op: Operation): Promise<void> {
  const em = db.fork();
  const v = await findVolume(em, b.restoreVolumeId!);
  if (v && v.status === 'creating') return;
  if (v && (v.status === 'available' || v.status === 'restoring_backup') && v.host && v.pool) {
    const payload: AgentRestoreBackup = { operationId: op.id, backupId: b.id, volumeId: v.id, pool: v.pool };
    let volume: Volume | null = null;
    await commitUnlessOvertaken(em, async (tx) => {
      const n = await tx.nativeUpdate(Operation, { id: op.id, command: null, status: 'pending' }, {
        command: { subject: subjects.agent(v.host!, BACKUP_COMMAND.restoreBackup), kind: BACKUP_KIND.agentRestoreBackup, payload, msgId: `${op.id}:${BACKUP_KIND.agentRestoreBackup}` },
      });
      if (n !== 1) return;
      // The recorder made it RESTORING_BACKUP when it was created (pendingRestoreFor), or it is AVAILABLE still.
      volume = v.status === 'restoring_backup' ? v : await casVolume(tx, v.id, { from: ['available'], expectedVersion: v.version }, { status: 'restoring_backup' });
      // Moved meanwhile: the command stays unwritten too.
      if (!volume) throw new Overtaken();
    });
    if (!volume) return;
    log.info({ backupId: b.id, volumeId: v.id }, 'new volume ready; restoring the backup into it');
    live.publish('UPDATED', volume);
    const now = await findOperation(db.fork(), op.id);
    if (now) void dispatchOrDefer(bus, db, now, log);
    return;
  }
  // The new volume failed (ERROR) or is gone: release the backup, fail the restore.
  // The scheduler's reason (e.g. no pool whose host reaches the backup's repository) says what to do.
  const created = v ? await em.findOne(Operation, { resourceId: v.id, kind: 'create_volume', status: 'failed' }, { disableIdentityMap: true }) : null;
  const message =
    `The new volume for this restore could not be created (${v ? `it is ${v.status.toUpperCase()}` : 'it is gone'})` +
    (created?.errorMessage ? `: ${created.errorMessage}` : '; see its messages.') +
    ' The backup is AVAILABLE again: restore it again.';
  let backup: Backup | null = null;
  await em.transactional(async (tx) => {
    backup = await casBackup(tx, b.id, { from: ['restoring'], expectedVersion: b.version }, { status: 'available', restoreVolumeId: null });
    if (backup) await finishOperation(tx, op.id, 'failed', { code: 'NO_VALID_BACKEND', message });
  });
  if (!backup) return;
  backupLive.publish('UPDATED', backup);
  const now = await findOperation(db.fork(), op.id);
  if (now) live.publishOperation(now);
}


/**
 * Whether a volume being created is the target of a restore (restoreBackup without
 * volumeId): the recorder then makes it RESTORING_BACKUP rather than AVAILABLE, so it is
 * never shown usable before the backup is in it.
 */
export async function pendingRestoreFor(em: EntityManager, volumeId: string): Promise<boolean> {
  return (await countRows(em, Backup, { restoreVolumeId: volumeId, status: 'restoring' })) > 0;
}
