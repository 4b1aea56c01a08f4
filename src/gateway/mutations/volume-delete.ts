/**
 * Starting a volume's deletion, shared by `deleteVolume` (volume.ts), the admin's
 * `forceDeleteVolume` (admin.ts) and a delete queued while the volume was CREATING
 * (../sweepers/queued-deletes.ts): they differ only in which states they start from and in
 * what they check first.
 */
import type { EntityManager } from '@mikro-orm/knex';
import { COMMAND, KIND, subjects, type AgentDelete } from '../../bus/index.js';
import { capacity, casSnapshotsOfVolume, casVolume, liveAttachmentsOf, type CasGuard, type Operation, type OutboxCommand, type Snapshot, type Volume } from '../../db/index.js';
import { volumeHasAttachments } from '../../domain/attachment-states.js';
import { operationDeadline } from '../../domain/deadlines.js';
import type { OperationSpec } from './kernel.js';
import type { GatewayDeps } from '../deps.js';

export interface DeleteStarted {
  volume: Volume;
  operation: Operation;
  /** Snapshots moved with the volume (cascade), as they are now. */
  snapshots: Snapshot[];
}

/** What the transition of a delete changed, and the agent's command (none: nothing to remove on an agent). */
export interface DeleteChange {
  volume: Volume;
  snapshots: Snapshot[];
  command: OutboxCommand | null;
  /** The volume is CREATING: the delete waits for the create to end (`queueVolumeDelete`). */
  queued?: boolean;
}

/**
 * In the caller's transaction: queues the delete of a CREATING volume (the usual case after a
 * client gave up waiting on its create). The volume keeps its status, its version grows (so
 * the recorder's outcome and this request are ordered), and the `delete_volume` operation is
 * PENDING without a command until the create ends; then the recorder, or the sweeper when the
 * create ended another way, starts it (../sweepers/queued-deletes.ts). null when the volume
 * left CREATING meanwhile.
 */
export async function queueVolumeDelete(tx: EntityManager, current: Volume, expectedVersion: number): Promise<DeleteChange | null> {
  const volume = await casVolume(tx, current.id, { from: ['creating'], expectedVersion }, {});
  return volume && { volume, snapshots: [], command: null, queued: true };
}

/**
 * In the caller's transaction: compare-and-sets the volume from `guard`. A volume never
 * placed on a pool (it failed in the scheduler) has nothing to remove on an agent: it is
 * DELETED at once and its capacity released. Otherwise it goes DELETING, with the agent's
 * command for the `delete_volume` operation (the agent removes the image and its snapshots;
 * the recorder marks them DELETED then).
 * Returns null, changing nothing, when the compare-and-set did not apply.
 * @throws InvalidStateError when the volume has an attachment that is not DETACHED (the
 * agent would delete an exported image): it names them and says to detach them first
 * (deleteVolume checks this before its state check too; forceDeleteVolume relies on it). The
 * guard should hold the version read, so an attachment made meanwhile (it bumps the
 * volume's version) makes the compare-and-set fail rather than slip past this check.
 */
export async function startVolumeDelete(tx: EntityManager, current: Volume, guard: CasGuard, opts: { cascade: boolean; operationId: string }): Promise<DeleteChange | null> {
  await refuseAttached(tx, current);
  if (!current.host || !current.pool) {
    const volume = await casVolume(tx, current.id, guard, { status: 'deleted', deletedAt: new Date() });
    if (!volume) return null;
    const snapshots = opts.cascade ? await casSnapshotsOfVolume(tx, current.id, { $ne: 'deleted' }, { status: 'deleted', deletedAt: new Date() }) : [];
    await capacity.release(tx, current.id);
    return { volume, snapshots, command: null };
  }
  const volume = await casVolume(tx, current.id, guard, { status: 'deleting' });
  if (!volume) return null;
  const snapshots = opts.cascade ? await casSnapshotsOfVolume(tx, current.id, { $ne: 'deleted' }, { status: 'deleting' }) : [];
  const payload: AgentDelete = { operationId: opts.operationId, volumeId: current.id, pool: current.pool };
  return {
    volume,
    snapshots,
    command: { subject: subjects.agent(current.host, COMMAND.deleteVolume), kind: KIND.agentDelete, payload, msgId: `${opts.operationId}:agent.delete` },
  };
}

/**
 * The `delete_volume` operation of a started delete. A queued one stays PENDING, with room
 * for the create to end (its own deadline) and then for the delete: twice the timeout.
 */
export function deleteOperation(change: DeleteChange, timeoutSeconds: number): OperationSpec {
  const spec: OperationSpec = { projectId: change.volume.projectId, resourceId: change.volume.id, command: change.command };
  if (!change.queued) return spec;
  return { ...spec, pending: true, deadlineAt: operationDeadline(new Date(), 2 * timeoutSeconds) };
}

async function refuseAttached(tx: EntityManager, v: Volume): Promise<void> {
  const live = await liveAttachmentsOf(tx, v.id);
  if (live.length > 0) throw volumeHasAttachments(v.id, live);
}

/** After the commit: announces the volume and its snapshots (the kernel announces the operation and sends its command). */
export function announceVolumeDelete(deps: Pick<GatewayDeps, 'live'>, r: DeleteChange): void {
  deps.live.publish(r.volume.status === 'deleted' ? 'DELETED' : 'UPDATED', r.volume);
  for (const s of r.snapshots) deps.live.publishSnapshot(s.status === 'deleted' ? 'DELETED' : 'UPDATED', s);
}
