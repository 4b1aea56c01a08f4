/**
 * What the snapshot mutations do, in the manner of `volume-service.ts`: validate, check
 * both state machines, commit the change and its operation (with the agent command) in
 * one transaction, then publish. A snapshot lives on its volume's pool, so its commands
 * go straight to the volume's host; no scheduler step.
 */
import { createHash, randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { COMMAND, KIND, subjects, type AgentCreateSnapshot, type AgentDeleteSnapshot } from '../../bus/index.js';
import {
  casSnapshot,
  casVolume,
  findSnapshot,
  findVolume,
  Snapshot,
  type Principal,
  type Volume,
} from '../../db/index.js';
import {
  actionTransition,
  assertCanStart,
  BadInputError,
  checkDescription,
  checkIdempotencyKey,
  checkName,
  ConflictError,
  invalidState,
  InvalidStateError,
  NotFoundError,
  Problems,
  SNAPSHOT_ACTIONS,
  snapshotInvalidState,
  type SnapshotAction,
} from '../../domain/index.js';
import { canSee, requireWriter } from '../../domain/access.js';
import type {
  CreateSnapshotRequest,
  DeleteSnapshotRequest,
  SnapshotResult,
  SnapshotServiceApi,
  UpdateSnapshotRequest,
} from '../../resolvers/index.js';
import { announceAndDispatch, casGuard, casRefusal, newOperation, replayCreate, succeeded } from './kernel.js';
import type { GatewayDeps } from '../deps.js';

/** Added to INVALID_STATE when a volume cannot be snapshotted now. */
const FORCE_HINT = ' A snapshot needs an AVAILABLE volume, or an IN_USE (attached) one with `force: true` (crash-consistent: writes the consumer has not flushed are not in it).';

/** Tries of the create transaction when other snapshots of the same volume keep bumping its version. */
const CAS_ATTEMPTS = 5;

/** The volume's compare-and-set in `create` did not apply: it is no longer at the version read. */
class VolumeMoved extends Error {}

export class SnapshotService implements SnapshotServiceApi {
  constructor(private readonly deps: GatewayDeps) {}

  async visible(p: Principal, id: string, em = this.deps.db.fork()): Promise<Snapshot | null> {
    const s = await findSnapshot(em, id);
    return s && s.status !== 'deleted' && canSee(p, s.projectId) ? s : null;
  }

  async create(principal: Principal | null, input: CreateSnapshotRequest): Promise<SnapshotResult> {
    const p = requireWriter(principal);
    const problems = new Problems();
    checkName(problems, 'name', input.name, true);
    checkDescription(problems, input.description);
    checkIdempotencyKey(problems, input.idempotencyKey);
    if (!input.volumeId) problems.add('volumeId is required');
    problems.throwIfAny();

    const em = this.deps.db.fork();
    const volume = await findVolume(em, input.volumeId);
    if (!volume || volume.status === 'deleted' || !canSee(p, volume.projectId)) throw new NotFoundError('Volume', input.volumeId);
    // The snapshot belongs to the volume's project (an admin may snapshot any volume).
    const projectId = volume.projectId;
    const requestHash = createHash('sha256')
      .update(JSON.stringify(['snapshot', input.volumeId, input.name, input.description ?? null, input.force ?? false]))
      .digest('hex');
    if (input.idempotencyKey) {
      const replay = await this.replay(em, projectId, input.idempotencyKey, requestHash);
      if (replay) return replay;
    }
    const action = snapshotAllowed(volume, input.force === true);

    const snapshotId = randomUUID();
    const operationId = randomUUID();
    let created: (SnapshotResult & { volume: Volume }) | undefined;
    let read = volume;
    for (let attempt = 1; !created; attempt++) {
      try {
        created = await this.insert(em, read, action, projectId, snapshotId, operationId, input, requestHash);
      } catch (err) {
        // Two requests with one idempotency key raced: the loser answers with the winner's snapshot.
        if ((err instanceof UniqueConstraintViolationException || err instanceof VolumeMoved) && input.idempotencyKey) {
          const replay = await this.replay(this.deps.db.fork(), projectId, input.idempotencyKey, requestHash);
          if (replay) return replay;
        }
        if (!(err instanceof VolumeMoved)) throw err;
        // Another snapshot of the volume (or an update) bumped its version meanwhile: read it again and retry.
        const now = await findVolume(this.deps.db.fork(), volume.id);
        if (!now || now.status === 'deleted') throw new NotFoundError('Volume', volume.id);
        snapshotAllowed(now, input.force === true);
        if (attempt >= CAS_ATTEMPTS) {
          throw new ConflictError(`Volume ${volume.id} kept changing while this request ran; retry.`, { currentVersion: now.version });
        }
        read = now;
      }
    }
    this.deps.live.publish('UPDATED', created.volume);
    this.deps.live.publishSnapshot('CREATED', created.snapshot);
    announceAndDispatch(this.deps, created.operation);
    return { snapshot: created.snapshot, operation: created.operation };
  }

  /** One try at the create transaction; `VolumeMoved` when the volume is no longer at the version read. */
  private async insert(
    em: EntityManager,
    volume: Volume,
    action: 'snapshot' | 'snapshotInUse',
    projectId: string,
    snapshotId: string,
    operationId: string,
    input: CreateSnapshotRequest,
    requestHash: string,
  ): Promise<SnapshotResult & { volume: Volume }> {
    const payload: AgentCreateSnapshot = { operationId, snapshotId, volumeId: volume.id, pool: volume.pool! };
    return em.transactional(async (tx) => {
      // Bump the volume's version, keeping its status: a delete that read the old version now fails with CONFLICT.
      const bumped = await casVolume(tx, volume.id, { from: actionTransition(action).from, expectedVersion: volume.version }, {});
      if (!bumped) throw new VolumeMoved();
      const snapshot = tx.create(Snapshot, {
        id: snapshotId,
        projectId,
        volumeId: volume.id,
        name: input.name,
        description: input.description ?? null,
        sizeGiB: volume.sizeGiB,
        status: 'creating',
        idempotencyKey: input.idempotencyKey ?? null,
        requestHash,
      });
      const operation = newOperation(tx, 'snapshot', projectId, 'create_snapshot', snapshotId, {
        subject: subjects.agent(volume.host!, COMMAND.createSnapshot),
        kind: KIND.agentCreateSnapshot,
        payload,
        msgId: `${operationId}:${KIND.agentCreateSnapshot}`,
      }, operationId);
      return { snapshot, operation, volume: bumped };
    });
  }

  private async replay(em: EntityManager, projectId: string, key: string, requestHash: string): Promise<SnapshotResult | null> {
    const found = await replayCreate(em, Snapshot, 'snapshot', projectId, key, requestHash);
    return found && { snapshot: found.existing, operation: found.operation };
  }

  async update(principal: Principal | null, input: UpdateSnapshotRequest): Promise<SnapshotResult> {
    const p = requireWriter(principal);
    const problems = new Problems();
    checkName(problems, 'name', input.name, false);
    checkDescription(problems, input.description);
    problems.throwIfAny();
    const changes: Partial<Pick<Snapshot, 'name' | 'description'>> = {};
    if (input.name !== undefined && input.name !== null) changes.name = input.name;
    if (input.description !== undefined) changes.description = input.description;
    if (Object.keys(changes).length === 0) throw new BadInputError(['give at least one of name, description to change']);

    const em = this.deps.db.fork();
    const current = await this.mustSee(p, input.id, em);
    const { snapshot, operation } = await em.transactional(async (tx) => {
      const snapshot = await casSnapshot(tx, current.id, guard('update', input.expectedVersion), changes);
      if (!snapshot) throw await this.whyNot(tx, 'update', current.id, input.expectedVersion);
      const operation = succeeded(newOperation(tx, 'snapshot', current.projectId, 'update_snapshot', current.id, null));
      return { snapshot, operation };
    });
    this.deps.live.publishSnapshot('UPDATED', snapshot);
    this.deps.live.publishOperation(operation);
    return { snapshot, operation };
  }

  async delete(principal: Principal | null, input: DeleteSnapshotRequest): Promise<SnapshotResult> {
    const p = requireWriter(principal);
    const em = this.deps.db.fork();
    const current = await this.mustSee(p, input.id, em);
    const t = SNAPSHOT_ACTIONS.delete;
    if (!(t.from as readonly string[]).includes(current.status)) throw snapshotInvalidState(t, current.status, current.id);
    const volume = await findVolume(em, current.volumeId);
    const operationId = randomUUID();
    const result = await em.transactional(async (tx) => {
      // The volume never reached a pool (or is gone with its image): nothing to remove on an agent.
      if (!volume || volume.status === 'deleted' || !volume.host || !volume.pool) {
        const snapshot = await casSnapshot(tx, current.id, guard('delete', input.expectedVersion), { status: 'deleted', deletedAt: new Date() });
        if (!snapshot) throw await this.whyNot(tx, 'delete', current.id, input.expectedVersion);
        const operation = succeeded(newOperation(tx, 'snapshot', current.projectId, 'delete_snapshot', current.id, null, operationId));
        return { snapshot, operation };
      }
      const snapshot = await casSnapshot(tx, current.id, guard('delete', input.expectedVersion), { status: 'deleting' });
      if (!snapshot) throw await this.whyNot(tx, 'delete', current.id, input.expectedVersion);
      const payload: AgentDeleteSnapshot = { operationId, snapshotId: current.id, volumeId: volume.id, pool: volume.pool };
      const operation = newOperation(tx, 'snapshot', current.projectId, 'delete_snapshot', current.id, {
        subject: subjects.agent(volume.host, COMMAND.deleteSnapshot),
        kind: KIND.agentDeleteSnapshot,
        payload,
        msgId: `${operationId}:${KIND.agentDeleteSnapshot}`,
      }, operationId);
      return { snapshot, operation };
    });
    this.deps.live.publishSnapshot(result.snapshot.status === 'deleted' ? 'DELETED' : 'UPDATED', result.snapshot);
    announceAndDispatch(this.deps, result.operation);
    return result;
  }

  private async mustSee(p: Principal, id: string, em: EntityManager): Promise<Snapshot> {
    const s = await this.visible(p, id, em);
    if (!s) throw new NotFoundError('Snapshot', id);
    return s;
  }

  /** Why a snapshot's compare-and-set did not apply, as the error the caller should see. */
  private async whyNot(em: EntityManager, action: SnapshotAction, id: string, expectedVersion: number | null | undefined): Promise<Error> {
    const t = SNAPSHOT_ACTIONS[action];
    return casRefusal('Snapshot', id, await findSnapshot(em, id), expectedVersion, t.from, (status) => snapshotInvalidState(t, status, id));
  }
}

/**
 * Which volume action a snapshot of `volume` is now: `snapshot` (AVAILABLE), or with
 * `force` `snapshotInUse` (attached); INVALID_STATE otherwise, with the force hint.
 */
export function snapshotAllowed(volume: Pick<Volume, 'id' | 'status' | 'host' | 'pool'>, force = false): 'snapshot' | 'snapshotInUse' {
  const action = force && volume.status === 'in_use' ? 'snapshotInUse' : 'snapshot';
  try {
    assertCanStart(action, volume.status, volume.id);
  } catch (err) {
    if (err instanceof InvalidStateError) {
      const hint = volume.status === 'in_use' ? ' It is attached: snapshot it with `force: true` (crash-consistent), or detach it first.' : FORCE_HINT;
      throw new InvalidStateError(err.message + hint, err.details);
    }
    throw err;
  }
  if (!volume.host || !volume.pool) throw invalidState(actionTransition(action), volume.status, volume.id);
  return action;
}

function guard(action: SnapshotAction, expectedVersion: number | null | undefined) {
  return casGuard(SNAPSHOT_ACTIONS[action].from, expectedVersion);
}
