/**
 * Deletes asked for while their volume was CREATING (`deleteVolume` queues them:
 * ../mutations/volume-delete.ts, `queueVolumeDelete`): a PENDING `delete_volume` operation
 * without a command. Once the create has ended this starts it, as `deleteVolume` would have:
 * the recorder right after a create's outcome, and a sweep for creates that ended another
 * way (their deadline). The operation row is the queue, so a gateway that dies loses nothing:
 * another one's sweep starts it.
 */
import { countSnapshotsOfVolume, commitUnlessOvertaken, findOperation, findVolume, finishOperation, Operation, Overtaken, queuedDeleteOf } from '../../db/index.js';
import { actionTransition, FlintError, InvalidStateError } from '../../domain/index.js';
import type { GatewayDeps } from '../deps.js';
import { announceVolumeDelete, startVolumeDelete, type DeleteChange } from '../mutations/volume-delete.js';
import { dispatchOrDefer } from './outbox.js';

/** @default 5_000 */
export const QUEUED_DELETE_SWEEP_MS = 5_000;

export type QueuedDeleteDeps = Pick<GatewayDeps, 'db' | 'bus' | 'live' | 'log'>;

/** The queued delete of one volume, if any: started (true), or left to wait (false). */
export async function startQueuedDelete(deps: QueuedDeleteDeps, volumeId: string): Promise<boolean> {
  const em = deps.db.fork();
  const op = await queuedDeleteOf(em, volumeId);
  if (!op) return false;
  const volume = await findVolume(em, volumeId);
  // Still being created, or another delete (an admin's) is under way: later.
  if (!volume || volume.status === 'creating' || volume.status === 'deleting') return false;
  let change: DeleteChange | null = null;
  let refused: FlintError | null = null;
  const committed = await commitUnlessOvertaken(em, async (tx) => {
    change = null;
    refused = null;
    if (volume.status === 'deleted') {
      if (!(await finishOperation(tx, op.id, 'succeeded'))) throw new Overtaken();
      return;
    }
    try {
      const snapshots = await countSnapshotsOfVolume(tx, volume.id);
      if (snapshots > 0) throw new InvalidStateError(`Volume ${volume.id} has ${snapshots} snapshot${snapshots === 1 ? '' : 's'} taken since it was created; delete them, then delete the volume again.`);
      change = await startVolumeDelete(tx, volume, { from: actionTransition('delete').from, expectedVersion: volume.version }, { cascade: false, operationId: op.id });
    } catch (err) {
      if (!(err instanceof FlintError)) throw err;
      refused = err;
    }
    if (refused) {
      const message = `The delete asked for while the volume was being created could not start: ${refused.message}`;
      if (!(await finishOperation(tx, op.id, 'failed', { code: refused.code, message }))) throw new Overtaken();
      return;
    }
    // Not in a state a delete starts from (a restore into it is under way): the next sweep tries again.
    if (!change) throw new Overtaken();
    const started: DeleteChange = change;
    const n = await tx.nativeUpdate(Operation, { id: op.id, status: 'pending', command: null }, started.command ? { command: started.command } : { status: 'succeeded', finishedAt: new Date() });
    if (n !== 1) throw new Overtaken();
  });
  if (!committed) return false;
  const now = await findOperation(deps.db.fork(), op.id);
  if (change) announceVolumeDelete(deps, change);
  if (now) {
    deps.live.publishOperation(now);
    if (now.command) void dispatchOrDefer(deps.bus, deps.db, now, deps.log);
  }
  deps.log.info({ volumeId, operationId: op.id, status: now?.status }, 'queued delete started now that the create has ended');
  return true;
}

/** One sweep: every queued delete whose create has ended is started; returns how many. */
export async function sweepQueuedDeletes(deps: QueuedDeleteDeps): Promise<number> {
  const queued = await deps.db.fork().find(Operation, { kind: 'delete_volume', status: 'pending', command: null }, { limit: 100, orderBy: { createdAt: 'asc' }, disableIdentityMap: true });
  let n = 0;
  for (const op of queued) if (await startQueuedDelete(deps, op.resourceId)) n++;
  return n;
}

export function startQueuedDeleteSweeper(deps: QueuedDeleteDeps, sweepMs = QUEUED_DELETE_SWEEP_MS): { stop(): void } {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      await sweepQueuedDeletes(deps);
    } catch (err) {
      deps.log.warn({ err }, 'queued delete sweep failed; will retry');
    } finally {
      running = false;
    }
  }, sweepMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
