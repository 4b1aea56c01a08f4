/**
 * The event recorder: a replica of the shared durable consumer on `flint.evt.>`. It
 * applies agents' and the scheduler's outcomes to the database as guarded transitions
 * (a duplicate or late event matches no row and changes nothing), ends the operation,
 * leaves a user message on failure, and announces the change on the live subjects.
 * An event counts only from a sender the database agrees with (senders.ts): the
 * sender is the one in the subject, which NATS enforces; anything else is logged and dropped.
 */
import {
  COMMAND,
  decodeEnvelope,
  decodePayload,
  KIND,
  publish,
  RECORDER_DURABLE,
  runConsumer,
  scheduleCreate,
  senderOf,
  snapshotOutcome,
  STREAM_EVT,
  subjects,
  volumeOutcome,
  volumeScheduled,
  type Bus,
  type ConsumerRunner,
  type ScheduleCreate,
  type SnapshotOutcomeEvent,
  type VolumeOutcomeEvent,
} from '../../bus/index.js';
import { SenderCheck } from './senders.js';
import type { Logger } from '../../config/logger.js';
import type { EntityManager } from '@mikro-orm/knex';
import {
  addUserMessage,
  capacity,
  casSnapshot,
  casSnapshotsOfVolume,
  casVolume,
  findOperation,
  findVolume,
  finishOperation,
  markRunning,
  UserMessage,
  type Db,
  type Snapshot,
  type SnapshotChanges,
  type Volume,
  type VolumeChanges,
} from '../../db/index.js';
import { outcomeTransition } from '../../domain/volume-states.js';
import { SNAPSHOT_OUTCOMES } from '../../domain/snapshot-states.js';
import { newestMessage } from './messages.js';
import type { LiveHub } from '../live/hub.js';
import { countOperation } from '../../metrics/index.js';
import { applyLateSnapshotOutcome, applyLateVolumeOutcome, applyVolumeMissing } from './late.js';
import { applyMigrationEvent } from './migration.js';
import { BACKUP_KIND, backupOutcome, backupVerified } from '../../bus/index.js';
import { applyBackupOutcome, applyBackupVerified } from './backup.js';
import type { BackupLive } from '../live/backup.js';
import { RECOVERY_KIND, volumeMissing, ATTACHMENT_KIND, attachmentOutcome } from '../../bus/index.js';
import { afterVolumeOutcome, applyAttachmentOutcome } from './attachment.js';
import { pendingRestoreFor } from '../sweepers/backup-recovery.js';
import { MANAGE_KIND, manageOutcome } from '../../bus/index.js';
import { applyManageOutcome } from './manage.js';

/** Which operation an outcome belongs to, for its user message. */
const EVENT_OF: Record<string, string> = { create: 'create_volume', delete: 'delete_volume', extend: 'extend_volume', revert: 'revert_volume', migrate: 'migrate_volume', retype: 'retype_volume' };
const SNAPSHOT_EVENT_OF: Record<string, string> = { create: 'create_snapshot', delete: 'delete_snapshot' };

export async function startRecorder(bus: Bus, db: Db, live: LiveHub, log: Logger, backupLive?: BackupLive): Promise<ConsumerRunner> {
  const senders = new SenderCheck(db);
  return runConsumer(
    bus,
    {
      stream: STREAM_EVT,
      durable: RECORDER_DURABLE,
      filterSubject: subjects.evtAll,
      concurrency: 16,
      onError: (err, msg) => log.error({ err, subject: msg.subject }, 'could not record an event; will retry'),
      onResubscribe: (err) => log.warn({ err }, 'event subscription lost; subscribing again'),
    },
    async (msg) => {
      const env = decodeEnvelope(msg.data);
      const sender = senderOf(msg.subject);
      const refused = await senders.refusal(sender, env);
      if (refused) {
        log.warn({ subject: msg.subject, kind: env.kind }, `event ignored: ${refused}`);
        return 'drop';
      }
      if (env.kind === KIND.volumeReschedule) {
        await reschedule(bus, db, log, decodePayload(env, scheduleCreate));
        return 'ack';
      }
      if (env.kind === KIND.volumeScheduled) {
        const e = decodePayload(env, volumeScheduled);
        const em = db.fork();
        const v = await casVolume(em, e.volumeId, { from: ['creating'] }, { host: e.host, pool: e.pool });
        await markRunning(em, e.operationId);
        if (v) live.publish('UPDATED', v);
        const op = await findOperation(em, e.operationId);
        if (op?.status === 'running') live.publishOperation(op);
        return 'ack';
      }
      if (env.kind === KIND.volumeOutcome) {
        const e = decodePayload(env, volumeOutcome);
        await applyOutcome(db, live, env.requestId ? log.child({ requestId: env.requestId }) : log, e);
        // Attachments: an extended volume's status and exports (src/gateway/outcomes/attachment.ts).
        await afterVolumeOutcome({ db, bus, live, log }, e);
        return 'ack';
      }
      if (env.kind === ATTACHMENT_KIND.attachmentOutcome) {
        await applyAttachmentOutcome(db, live, env.requestId ? log.child({ requestId: env.requestId }) : log, decodePayload(env, attachmentOutcome));
        return 'ack';
      }
      if (env.kind === RECOVERY_KIND.volumeMissing) {
        await applyVolumeMissing(db, live, log, decodePayload(env, volumeMissing));
        return 'ack';
      }
      if (await applyMigrationEvent({ db, bus, live, log: env.requestId ? log.child({ requestId: env.requestId }) : log }, env)) return 'ack';
      if (env.kind === MANAGE_KIND.manageOutcome) {
        await applyManageOutcome(db, live, log, decodePayload(env, manageOutcome));
        return 'ack';
      }
      if (env.kind === KIND.snapshotOutcome) {
        await applySnapshotOutcome(db, live, env.requestId ? log.child({ requestId: env.requestId }) : log, decodePayload(env, snapshotOutcome));
        return 'ack';
      }
      // Backups (issue 5): src/gateway/outcomes/backup.ts.
      if (env.kind === BACKUP_KIND.backupOutcome && backupLive) {
        await applyBackupOutcome(db, live, backupLive, log, decodePayload(env, backupOutcome));
        return 'ack';
      }
      if (env.kind === BACKUP_KIND.backupVerified) {
        await applyBackupVerified(db, live, log, decodePayload(env, backupVerified));
        return 'ack';
      }
      log.warn({ kind: env.kind, subject: msg.subject }, 'event of an unknown kind; skipped');
      return 'ack';
    },
  );
}

/**
 * An agent failed a create another pool may take: send it back to the scheduler, with the
 * placement request as the database has it (the agent adds only its attempt and the pools
 * that failed). A volume no longer CREATING, or an operation that is not its create, is left.
 */
async function reschedule(bus: Bus, db: Db, log: Logger, e: ScheduleCreate): Promise<void> {
  const em = db.fork();
  const op = await findOperation(em, e.operationId);
  const original = op?.command?.kind === KIND.scheduleCreate ? scheduleCreate.safeParse(op.command.payload) : undefined;
  const volume = op ? await findVolume(em, op.resourceId) : null;
  if (!op || !original?.success || volume?.status !== 'creating' || (op.status !== 'pending' && op.status !== 'running')) {
    log.warn({ operationId: e.operationId }, 'reschedule ignored: no create under way for it');
    return;
  }
  const command: ScheduleCreate = { ...original.data, attempt: e.attempt, excluded: e.excluded };
  await publish(bus, subjects.scheduler(COMMAND.createVolume), KIND.scheduleCreate, command, `${e.operationId}:schedule:${e.attempt}`);
}

export async function applyOutcome(db: Db, live: LiveHub, log: Logger, e: VolumeOutcomeEvent): Promise<void> {
  const t = outcomeTransition(e.outcome);
  const changes: VolumeChanges = { status: t.to };
  if (e.outcome === 'create.succeeded') {
    if (e.host) changes.host = e.host;
    if (e.pool) changes.pool = e.pool;
  }
  if (e.outcome === 'extend.succeeded' && e.sizeGiB) changes.sizeGiB = e.sizeGiB;
  if (e.outcome === 'delete.succeeded') changes.deletedAt = new Date();

  const em = db.fork();
  let volume: Volume | null = null;
  let message: UserMessage | null = null;
  let snapshots: Snapshot[] = [];
  await em.transactional(async (tx) => {
    // A new volume for a restore (issue 5) goes straight to RESTORING_BACKUP (src/gateway/sweepers/backup-recovery.ts).
    if (e.outcome === 'create.succeeded' && (await pendingRestoreFor(tx, e.volumeId))) changes.status = 'restoring_backup';
    volume = await casVolume(tx, e.volumeId, { from: t.from }, changes);
    if (!volume) return; // already applied, or overtaken: nothing to do
    const failed = e.outcome.endsWith('.failed') || e.outcome.endsWith('.rejected');
    await finishOperation(tx, e.operationId, failed ? 'failed' : 'succeeded', failed ? e.error : undefined);
    if (e.outcome === 'create.failed' || e.outcome === 'delete.succeeded') await capacity.release(tx, e.volumeId);
    // The agent removed the volume's snapshots with its image (cascade delete).
    if (e.outcome === 'delete.succeeded') {
      snapshots = await casSnapshotsOfVolume(tx, e.volumeId, { $ne: 'deleted' }, { status: 'deleted', deletedAt: new Date() });
    }
    // Snapshots deleted with the volume stay as they are on the host: let the user retry.
    if (e.outcome === 'delete.failed') {
      snapshots = await casSnapshotsOfVolume(tx, e.volumeId, { $in: ['deleting'] }, { status: 'error_deleting' });
    }
    if (e.outcome === 'extend.failed' || e.outcome === 'extend.rejected') await capacity.shrink(tx, e.volumeId, volume.sizeGiB);
    if (failed) {
      await addUserMessage(tx, {
        projectId: volume.projectId,
        resourceType: 'volume',
        resourceId: volume.id,
        event: EVENT_OF[e.outcome.split('.')[0]!] ?? e.outcome,
        message: e.error?.message ?? `The volume could not be ${t.verb}.`,
      });
      message = await newestMessage(tx, volume.id, 'volume');
    }
  });
  // Make sure the operation ends even if the volume row had already moved on.
  if (!volume) {
    // The deadline sweeper may have given the operation up first (src/domain/deadlines.ts, late rules).
    await applyLateVolumeOutcome(db, live, log, e);
    const fork = db.fork();
    if (await finishOperation(fork, e.operationId, e.outcome.endsWith('succeeded') ? 'succeeded' : 'failed', e.error)) {
      countOperation(EVENT_OF[e.outcome.split('.')[0]!] ?? 'unknown', e.outcome.endsWith('succeeded') ? 'succeeded' : 'failed');
      await publishOperation(fork, live, e.operationId);
    }
    return;
  }
  const v: Volume = volume;
  countOperation(EVENT_OF[e.outcome.split('.')[0]!] ?? 'unknown', e.outcome.endsWith('succeeded') ? 'succeeded' : 'failed');
  log.info({ volumeId: v.id, operationId: e.operationId, outcome: e.outcome, status: v.status }, 'volume changed');
  live.publish(v.status === 'deleted' ? 'DELETED' : 'UPDATED', v);
  for (const s of snapshots) live.publishSnapshot(s.status === 'deleted' ? 'DELETED' : 'UPDATED', s);
  await publishOperation(db.fork(), live, e.operationId);
  if (message) live.publishMessage(message);
}

/** Applies an agent's snapshot outcome, like `applyOutcome` does for volumes. */
export async function applySnapshotOutcome(db: Db, live: LiveHub, log: Logger, e: SnapshotOutcomeEvent): Promise<void> {
  const t = SNAPSHOT_OUTCOMES[e.outcome];
  const changes: SnapshotChanges = { status: t.to };
  if (e.outcome === 'delete.succeeded') changes.deletedAt = new Date();
  const failed = e.outcome.endsWith('.failed');
  const kind = SNAPSHOT_EVENT_OF[e.outcome.split('.')[0]!] ?? e.outcome;

  const em = db.fork();
  let snapshot: Snapshot | null = null;
  let message: UserMessage | null = null;
  await em.transactional(async (tx) => {
    snapshot = await casSnapshot(tx, e.snapshotId, { from: t.from }, changes);
    if (!snapshot) return; // already applied, or overtaken (e.g. deleted with its volume)
    await finishOperation(tx, e.operationId, failed ? 'failed' : 'succeeded', failed ? e.error : undefined);
    if (failed) {
      await addUserMessage(tx, {
        projectId: snapshot.projectId,
        resourceType: 'snapshot',
        resourceId: snapshot.id,
        event: kind,
        message: e.error?.message ?? `The snapshot could not be ${t.verb}.`,
      });
      message = await newestMessage(tx, snapshot.id, 'snapshot');
    }
  });
  if (!snapshot) {
    await applyLateSnapshotOutcome(db, live, log, e);
    const fork = db.fork();
    if (await finishOperation(fork, e.operationId, failed ? 'failed' : 'succeeded', e.error)) {
      countOperation(kind, failed ? 'failed' : 'succeeded');
      await publishOperation(fork, live, e.operationId);
    }
    return;
  }
  countOperation(kind, failed ? 'failed' : 'succeeded');
  const s: Snapshot = snapshot;
  log.info({ snapshotId: s.id, volumeId: s.volumeId, operationId: e.operationId, outcome: e.outcome, status: s.status }, 'snapshot changed');
  live.publishSnapshot(s.status === 'deleted' ? 'DELETED' : 'UPDATED', s);
  await publishOperation(db.fork(), live, e.operationId);
  if (message) live.publishMessage(message);
}

/** Announces the operation as it is now (after the commit). */
async function publishOperation(em: EntityManager, live: LiveHub, operationId: string): Promise<void> {
  const op = await findOperation(em, operationId);
  if (op) live.publishOperation(op);
}
