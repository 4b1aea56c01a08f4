/**
 * Starting a volume's deletion, shared by `deleteVolume` (volume.ts) and the
 * admin's `forceDeleteVolume` (admin.ts): they differ only in which states they
 * start from and in what they check first.
 */
import type { EntityManager } from '@mikro-orm/knex';
import { COMMAND, KIND, subjects, type AgentDelete } from '../../bus/index.js';
import { capacity, casSnapshotsOfVolume, casVolume, liveAttachmentsOf, type CasGuard, type Operation, type OutboxCommand, type Snapshot, type Volume } from '../../db/index.js';
import { volumeHasAttachments } from '../../domain/attachment-states.js';
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

/** The `delete_volume` operation of a started delete. */
export function deleteOperation(change: DeleteChange): OperationSpec {
  return { projectId: change.volume.projectId, resourceId: change.volume.id, command: change.command };
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
