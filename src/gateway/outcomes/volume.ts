/**
 * Agents' and the scheduler's volume outcomes, applied as guarded transitions: the
 * scheduler's placement (`volume.scheduled`) and retries (`volume.reschedule`), and the
 * agent's outcome of a create, delete, extend or revert. A duplicate or late event matches
 * no row; late ones go through late.ts.
 */
import { applyOutcome } from './apply-outcome.js';
import { VOLUME_RESOURCE } from './resources.js';
import { COMMAND, KIND, publish, scheduleCreate, subjects, type Bus, type ScheduleCreate, type VolumeOutcomeEvent, type VolumeScheduled } from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import { capacity, casSnapshotsOfVolume, casVolume, findOperation, findVolume, markRunning, type Db, type Snapshot, type VolumeChanges } from '../../db/index.js';
import { outcomeTransition } from '../../domain/volume-states.js';
import type { LiveHub } from '../live/hub.js';
import type { LivePublisher } from '../deps.js';
import { applyLateVolumeOutcome } from './late.js';
import { removeStrayImage } from './stray-images.js';
import { pendingRestoreFor } from '../sweepers/backup-recovery.js';


/** Which operation an outcome belongs to, for its user message. */
const EVENT_OF: Record<string, string> = { create: 'create_volume', delete: 'delete_volume', extend: 'extend_volume', revert: 'revert_volume', migrate: 'migrate_volume', retype: 'retype_volume' };

/** The scheduler placed a new volume: its host and pool, and the operation RUNNING. */
export async function applyScheduled(db: Db, live: LivePublisher, e: VolumeScheduled): Promise<void> {
  const em = db.fork();
  const v = await casVolume(em, e.volumeId, { from: ['creating'] }, { host: e.host, pool: e.pool });
  await markRunning(em, e.operationId);
  if (v) live.publish('UPDATED', v);
  const op = await findOperation(em, e.operationId);
  if (op?.status === 'running') live.publishOperation(op);
}

/**
 * An agent failed a create another pool may take: send it back to the scheduler, with the
 * placement request as the database has it (the agent adds only its attempt and the pools
 * that failed). A volume no longer CREATING, or an operation that is not its create, is left.
 */
export async function reschedule(bus: Bus, db: Db, log: Logger, e: ScheduleCreate): Promise<void> {
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

export async function applyVolumeOutcome(db: Db, live: LiveHub, log: Logger, e: VolumeOutcomeEvent, bus?: Bus): Promise<void> {
  const t = outcomeTransition(e.outcome);
  const changes: VolumeChanges = { status: t.to };
  if (e.outcome === 'create.succeeded') {
    if (e.host) changes.host = e.host;
    if (e.pool) changes.pool = e.pool;
  }
  if (e.outcome === 'extend.succeeded' && e.sizeGiB) changes.sizeGiB = e.sizeGiB;
  if (e.outcome === 'delete.succeeded') changes.deletedAt = new Date();
  const failed = e.outcome.endsWith('.failed') || e.outcome.endsWith('.rejected');
  await applyOutcome(
    { db, live, log },
    {
      resource: VOLUME_RESOURCE,
      resourceId: e.volumeId,
      operationId: e.operationId,
      outcome: e.outcome,
      kind: EVENT_OF[e.outcome.split('.')[0]!] ?? e.outcome,
      failed,
      ...(e.error ? { error: e.error } : {}),
      from: t.from,
      changes,
      // A new volume for a restore (issue 5) goes straight to RESTORING_BACKUP (src/gateway/sweepers/backup-recovery.ts).
      prepare: async (tx, c) => {
        if (e.outcome === 'create.succeeded' && (await pendingRestoreFor(tx, e.volumeId))) c.status = 'restoring_backup';
      },
      alsoApply: async (tx, volume) => {
        if (e.outcome === 'create.failed' || e.outcome === 'delete.succeeded') await capacity.release(tx, e.volumeId);
        if (e.outcome === 'extend.failed' || e.outcome === 'extend.rejected') await capacity.shrink(tx, e.volumeId, volume.sizeGiB);
        let snapshots: Snapshot[] = [];
        // The agent removed the volume's snapshots with its image (cascade delete).
        if (e.outcome === 'delete.succeeded') snapshots = await casSnapshotsOfVolume(tx, e.volumeId, { $ne: 'deleted' }, { status: 'deleted', deletedAt: new Date() });
        // Snapshots deleted with the volume stay as they are on the host: let the user retry.
        if (e.outcome === 'delete.failed') snapshots = await casSnapshotsOfVolume(tx, e.volumeId, { $in: ['deleting'] }, { status: 'error_deleting' });
        return (l) => {
          for (const s of snapshots) l.publishSnapshot(s.status === 'deleted' ? 'DELETED' : 'UPDATED', s);
        };
      },
      message: failed ? (e.error?.message ?? `The volume could not be ${t.verb}.`) : null,
      // The deadline sweeper may have given the operation up first (src/domain/deadlines.ts, late rules).
      late: async () => {
        if (await applyLateVolumeOutcome(db, live, log, e)) return;
        // An image made where the volume does not live: its delete is asked for (stray-images.ts).
        if (bus && e.outcome === 'create.succeeded' && e.host && e.pool) await removeStrayImage({ db, bus, live, log }, { volumeId: e.volumeId, operationId: e.operationId, host: e.host, pool: e.pool });
      },
    },
  );
}
