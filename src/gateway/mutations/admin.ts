/**
 * Admin actions (issue 3): Cinder's reset-state and force-delete, audited. Each one is
 * a compare-and-set from the status read plus a `StatusAudit` row (who, from, to, why)
 * in one transaction (the kernel's `alsoRecord`), then the live announcement. Admins only: FORBIDDEN otherwise.
 */
import type { EntityManager } from '@mikro-orm/knex';
import {
  findById,
  casSnapshot,
  casVolume,
  findSnapshot,
  findVolume,
  Reservation,
  type Principal,
  type Snapshot,
  type StatusAudit,
  type Volume,
} from '../../db/index.js';
import { addAudit } from '../../db/audit-store.js';
import { requireAdmin } from '../../domain/access.js';
import { checkReason, snapshotResetRefusal, volumeResetRefusal } from '../../domain/admin-rules.js';
import { BadInputError, ConflictError, fromApiStatus, InvalidStateError, NotFoundError, SNAPSHOT_STATUSES, type SnapshotStatus, type VolumeStatus } from '../../domain/index.js';
import type {
  AdminPort,
  ForceDeleteVolumeRequest,
  ResetSnapshotStatusRequest,
  ResetVolumeStatusRequest,
} from '../../resolvers/ports/admin.js';
import { runMutation } from './kernel.js';
import { announceVolumeDelete, deleteOperation, startVolumeDelete, type DeleteChange, type DeleteStarted } from './volume-delete.js';
import type { GatewayDeps } from '../deps.js';

export class AdminMutations implements AdminPort {
  constructor(private readonly deps: GatewayDeps) {}

  resetVolumeStatus(principal: Principal | null, input: ResetVolumeStatusRequest): Promise<{ volume: Volume; audit: StatusAudit }> {
    let audit: StatusAudit | undefined;
    return runMutation<{ current: Volume; target: VolumeStatus }, Volume, { volume: Volume; audit: StatusAudit }>(this.deps, principal, {
      resourceType: 'volume',
      authorize: (p) => requireAdmin(p, 'Resetting a volume\'s status'),
      validate: (problems) => checkReason(problems, input.reason),
      load: async (em) => {
        const target = volumeStatus(input.status);
        const current = await mustFindVolume(em, input.id, 'reset');
        const refusal = volumeResetRefusal(target, current);
        if (refusal) throw new BadInputError([refusal]);
        return { current, target };
      },
      transition: (tx, { current, target }) => casVolume(tx, current.id, { from: [current.status] }, { status: target }),
      whyNot: (tx, { current }) => volumeMoved(tx, current),
      alsoRecord: (tx, volume, { current, target }, p) => {
        audit = addAudit(tx, { resourceType: 'volume', resourceId: volume.id, projectId: volume.projectId, action: 'reset_status', fromStatus: current.status, toStatus: target, reason: input.reason, actor: p });
        return volume;
      },
      announce: (deps, volume, { current, target }) => {
        deps.log.info({ volumeId: current.id, from: current.status, to: target, actorTokenId: principal?.tokenId }, 'volume status reset by an admin');
        deps.live.publish('UPDATED', volume);
      },
      result: (volume) => ({ volume, audit: audit! }),
    });
  }

  resetSnapshotStatus(principal: Principal | null, input: ResetSnapshotStatusRequest): Promise<{ snapshot: Snapshot; audit: StatusAudit }> {
    let audit: StatusAudit | undefined;
    return runMutation<{ current: Snapshot; target: SnapshotStatus }, Snapshot, { snapshot: Snapshot; audit: StatusAudit }>(this.deps, principal, {
      resourceType: 'snapshot',
      authorize: (p) => requireAdmin(p, 'Resetting a snapshot\'s status'),
      validate: (problems) => checkReason(problems, input.reason),
      load: async (em) => {
        const target = snapshotStatus(input.status);
        const refusal = snapshotResetRefusal(target);
        if (refusal) throw new BadInputError([refusal]);
        const current = await findSnapshot(em, input.id);
        if (!current) throw new NotFoundError('Snapshot', input.id);
        if (current.status === 'deleted') throw new InvalidStateError(`Snapshot ${current.id} is DELETED: there is nothing left to reset.`, { currentStatus: 'DELETED' });
        return { current, target };
      },
      transition: (tx, { current, target }) => casSnapshot(tx, current.id, { from: [current.status] }, { status: target }),
      whyNot: async (tx, { current }) => movedSince('Snapshot', current, await findSnapshot(tx, current.id)),
      alsoRecord: (tx, snapshot, { current, target }, p) => {
        audit = addAudit(tx, { resourceType: 'snapshot', resourceId: snapshot.id, projectId: snapshot.projectId, action: 'reset_status', fromStatus: current.status, toStatus: target, reason: input.reason, actor: p });
        return snapshot;
      },
      announce: (deps, snapshot, { current, target }) => {
        deps.log.info({ snapshotId: current.id, from: current.status, to: target, actorTokenId: principal?.tokenId }, 'snapshot status reset by an admin');
        deps.live.publishSnapshot('UPDATED', snapshot);
      },
      result: (snapshot) => ({ snapshot, audit: audit! }),
    });
  }

  forceDeleteVolume(principal: Principal | null, input: ForceDeleteVolumeRequest): Promise<DeleteStarted & { audit: StatusAudit }> {
    let audit: StatusAudit | undefined;
    return runMutation<{ current: Volume; target: Volume }, DeleteChange, DeleteStarted & { audit: StatusAudit }>(this.deps, principal, {
      kind: 'delete_volume',
      resourceType: 'volume',
      authorize: (p) => requireAdmin(p, 'Force-deleting a volume'),
      validate: (problems) => checkReason(problems, input.reason),
      load: async (em) => {
        const current = await mustFindVolume(em, input.id, 'force-deleted');
        // Placed by the scheduler but not yet recorded so (CREATING): its reservation says where the agent may make the image.
        return { current, target: current.host && current.pool ? current : await withReservedPool(em, current) };
      },
      // At the version read: an attachment made meanwhile is a CONFLICT, not an image deleted under its export.
      transition: (tx, { current, target }, operationId) =>
        startVolumeDelete(tx, target, { from: [current.status], expectedVersion: current.version }, { cascade: true, operationId }),
      whyNot: (tx, { current }) => volumeMoved(tx, current),
      operation: (started) => deleteOperation(started, this.deps.config.operationTimeoutSeconds),
      alsoRecord: (tx, started, { current }, p) => {
        audit = addAudit(tx, { resourceType: 'volume', resourceId: current.id, projectId: current.projectId, action: 'force_delete', fromStatus: current.status, toStatus: started.volume.status, reason: input.reason, actor: p });
        return started;
      },
      announce: (deps, started, { current }, operation) => {
        deps.log.info({ volumeId: current.id, from: current.status, operationId: operation?.id, actorTokenId: principal?.tokenId }, 'volume force-deleted by an admin');
        announceVolumeDelete(deps, started);
      },
      result: ({ volume, snapshots }, operation) => ({ volume, snapshots, operation: operation!, audit: audit! }),
    });
  }
}

/** The volume (any project), or NOT_FOUND; a DELETED one is INVALID_STATE: nothing is left to act on. */
async function mustFindVolume(em: EntityManager, id: string, verb: string): Promise<Volume> {
  const v = await findVolume(em, id);
  if (!v) throw new NotFoundError('Volume', id);
  if (v.status === 'deleted') {
    throw new InvalidStateError(`Volume ${id} is DELETED and cannot be ${verb}: there is nothing left of it.`, { currentStatus: 'DELETED' });
  }
  return v;
}

/** The error for a volume compare-and-set that did not apply: it changed since it was read. */
async function volumeMoved(em: EntityManager, read: Volume): Promise<Error> {
  return movedSince('Volume', read, await findVolume(em, read.id));
}

/** The error for a compare-and-set from the status read that did not apply: the row (`now`, null when gone) changed since. */
function movedSince(resource: 'Volume' | 'Snapshot', read: { id: string; status: string }, now: { status: string } | null): Error {
  const status = (now?.status ?? 'deleted').toUpperCase();
  return new ConflictError(
    `${resource} ${read.id} changed from ${read.status.toUpperCase()} to ${status} while this request ran; read it again and retry.`,
    { currentStatus: status },
  );
}

/** The volume with the host and pool of its capacity reservation, if it holds one. */
async function withReservedPool(em: EntityManager, v: Volume): Promise<Volume> {
  const r = await findById(em, Reservation, v.id);
  const at = r ? r.poolId.indexOf('@') : -1;
  if (!r || at <= 0) return v;
  return Object.assign(Object.create(Object.getPrototypeOf(v) as object) as Volume, v, { host: r.poolId.slice(0, at), pool: r.poolId.slice(at + 1) });
}

function volumeStatus(s: string): VolumeStatus {
  const v = fromApiStatus(s);
  if (!v) throw new BadInputError([`status ${s} is not a volume status`]);
  return v;
}

function snapshotStatus(s: string): SnapshotStatus {
  const lower = s.toLowerCase();
  if (!(SNAPSHOT_STATUSES as readonly string[]).includes(lower)) throw new BadInputError([`status ${s} is not a snapshot status`]);
  return lower as SnapshotStatus;
}
