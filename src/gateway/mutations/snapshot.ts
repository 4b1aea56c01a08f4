/**
 * The snapshot mutations, declared for the kernel (kernel.ts) as the volume's are. A snapshot
 * lives on its volume's pool, so its commands go straight to the volume's host; no
 * scheduler step. Creating one bumps its volume's version, so a delete or revert that read
 * the volume before fails rather than miss it.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import { COMMAND, KIND, subjects, type AgentCreateSnapshot, type AgentDeleteSnapshot } from '../../bus/index.js';
import { casSnapshot, casVolume, findSnapshot, findVolume, Snapshot, type Principal, type Volume } from '../../db/index.js';
import {
  actionTransition,
  assertCanStart,
  BadInputError,
  checkDescription,
  checkIdempotencyKey,
  checkMetadata,
  checkName,
  ConflictError,
  invalidState,
  InvalidStateError,
  NotFoundError,
  SNAPSHOT_ACTIONS,
  snapshotInvalidState,
  type SnapshotAction,
} from '../../domain/index.js';
import { canSee, requireWriter } from '../../domain/access.js';
import type { CreateSnapshotRequest, DeleteSnapshotRequest, SnapshotChangeResult, SnapshotDeleteResult, SnapshotResult, SnapshotsPort, UpdateSnapshotRequest } from '../../resolvers/index.js';
import { movesGeneration, SNAPSHOT_USER_FIELDS } from '../../domain/generation.js';
import type { GatewayDeps } from '../deps.js';
import { casGuard, casRefusal } from './cas.js';
import { changeKey, RETRY, runMutation } from './kernel.js';
import { settledDelete } from './settled.js';

/** Added to INVALID_STATE when a volume cannot be snapshotted now. */
const FORCE_HINT = ' A snapshot needs an AVAILABLE volume, or an IN_USE (attached) one with `force: true` (crash-consistent: writes the consumer has not flushed are not in it).';

/** Tries of the create transaction when other snapshots of the same volume keep bumping its version. */
const CAS_ATTEMPTS = 5;

export class SnapshotMutations implements SnapshotsPort {
  constructor(private readonly deps: GatewayDeps) {}

  /** The snapshot if it exists, is not DELETED (unless `deleted`), and the caller may see it. */
  async visible(p: Principal, id: string, em = this.deps.db.fork(), opts: { deleted?: boolean } = {}): Promise<Snapshot | null> {
    const s = await findSnapshot(em, id);
    return s && (opts.deleted || s.status !== 'deleted') && canSee(p, s.projectId) ? s : null;
  }

  create(principal: Principal | null, input: CreateSnapshotRequest): Promise<SnapshotResult> {
    const snapshotId = randomUUID();
    const force = input.force === true;
    // Checked by `validate`, which runs before the other rules read it.
    let metadata: Record<string, string> = {};
    type Loaded = { volume: Volume; action?: 'snapshot' | 'snapshotInUse' };
    return runMutation<Loaded, { snapshot: Snapshot; volume: Volume }, SnapshotResult>(this.deps, principal, {
      kind: 'create_snapshot',
      resourceType: 'snapshot',
      authorize: requireWriter,
      validate: (problems) => {
        checkName(problems, 'name', input.name, true);
        checkDescription(problems, input.description);
        metadata = checkMetadata(problems, input.metadata) ?? {};
        checkIdempotencyKey(problems, input.idempotencyKey);
        if (!input.volumeId) problems.add('volumeId is required');
      },
      load: async (em, p) => {
        const volume = await findVolume(em, input.volumeId);
        if (!volume || volume.status === 'deleted' || !canSee(p, volume.projectId)) throw new NotFoundError('Volume', input.volumeId);
        return { volume };
      },
      // The snapshot belongs to the volume's project (an admin may snapshot any volume).
      idempotency: ({ volume }) =>
        input.idempotencyKey
          ? { entity: Snapshot, projectId: volume.projectId, key: input.idempotencyKey, requestHash: snapshotRequestHash(input, metadata), replayed: (row, operation) => ({ snapshot: row as Snapshot, operation }) }
          : null,
      check: (_em, { volume }) => ({ volume, action: snapshotAllowed(volume, force) }),
      transition: async (tx, { volume, action }) => {
        // Bump the volume's version, keeping its status: a delete that read the old version now fails with CONFLICT.
        const bumped = await casVolume(tx, volume.id, { from: actionTransition(action!).from, expectedVersion: volume.version }, {});
        if (!bumped) return null;
        const snapshot = tx.create(Snapshot, {
          id: snapshotId,
          projectId: volume.projectId,
          volumeId: volume.id,
          name: input.name,
          description: input.description ?? null,
          metadata,
          sizeGiB: volume.sizeGiB,
          status: 'creating',
          idempotencyKey: input.idempotencyKey ?? null,
          requestHash: snapshotRequestHash(input, metadata),
        });
        return { snapshot, volume: bumped };
      },
      // Another snapshot of the volume (or an update) bumped its version meanwhile: read it again and retry.
      whyNot: async (tx, { volume }, attempt) => {
        const now = await findVolume(tx, volume.id);
        if (!now || now.status === 'deleted') return new NotFoundError('Volume', volume.id);
        try {
          snapshotAllowed(now, force);
        } catch (err) {
          return err as Error;
        }
        if (attempt >= CAS_ATTEMPTS) return new ConflictError(`Volume ${volume.id} kept changing while this request ran; retry.`, { currentVersion: now.version });
        return RETRY;
      },
      attempts: CAS_ATTEMPTS,
      quota: ({ snapshot }) => ({ projectId: snapshot.projectId, snapshots: 1, gigabytes: snapshot.sizeGiB }),
      operation: ({ snapshot }, { volume }, operationId) => {
        const payload: AgentCreateSnapshot = { operationId, snapshotId: snapshot.id, volumeId: volume.id, pool: volume.pool! };
        return {
          projectId: snapshot.projectId,
          resourceId: snapshot.id,
          command: { subject: subjects.agent(volume.host!, COMMAND.createSnapshot), kind: KIND.agentCreateSnapshot, payload, msgId: `${operationId}:${KIND.agentCreateSnapshot}` },
        };
      },
      announce: (deps, { snapshot, volume }) => {
        deps.live.publish('UPDATED', volume);
        deps.live.publishSnapshot('CREATED', snapshot);
      },
      result: ({ snapshot }, operation) => ({ snapshot, operation: operation! }),
    });
  }

  update(principal: Principal | null, input: UpdateSnapshotRequest): Promise<SnapshotChangeResult> {
    const changes: Partial<Pick<Snapshot, 'name' | 'description' | 'metadata'>> = {};
    return runMutation<Snapshot, Snapshot, SnapshotChangeResult>(this.deps, principal, {
      kind: 'update_snapshot',
      resourceType: 'snapshot',
      authorize: requireWriter,
      validate: (problems) => {
        checkName(problems, 'name', input.name, false);
        checkDescription(problems, input.description);
        checkIdempotencyKey(problems, input.idempotencyKey);
        const metadata = checkMetadata(problems, input.metadata);
        if (input.name !== undefined && input.name !== null) changes.name = input.name;
        if (input.description !== undefined) changes.description = input.description;
        if (metadata !== undefined) changes.metadata = metadata;
      },
      load: (em, p) => {
        if (Object.keys(changes).length === 0) throw new BadInputError(['give at least one of name, description, metadata to change']);
        return this.mustSee(p, input.id, em);
      },
      operationKey: (current) => changeKey(current, input.idempotencyKey, changes, (operation) => ({ snapshot: current, operation })),
      // Already so (a retried rename, the same metadata again): nothing to record.
      settled: (_em, current) => (movesGeneration(SNAPSHOT_USER_FIELDS, current, changes) ? null : { snapshot: current, operation: null }),
      transition: (tx, current) => casSnapshot(tx, current.id, guard('update', input.expectedVersion), changes),
      whyNot: (tx, current) => snapshotWhyNot(tx, 'update', current.id, input.expectedVersion),
      operation: (snapshot) => ({ projectId: snapshot.projectId, resourceId: snapshot.id }),
      announce: (deps, snapshot) => deps.live.publishSnapshot('UPDATED', snapshot),
      result: (snapshot, operation) => ({ snapshot, operation }),
    });
  }

  delete(principal: Principal | null, input: DeleteSnapshotRequest): Promise<SnapshotDeleteResult> {
    return runMutation<{ current: Snapshot; volume: Volume | null }, Snapshot, SnapshotDeleteResult>(this.deps, principal, {
      kind: 'delete_snapshot',
      resourceType: 'snapshot',
      authorize: requireWriter,
      // A DELETED snapshot of the caller's project is found too: deleting it again is done already.
      load: async (em, p) => {
        const current = await this.mustSee(p, input.id, em, { deleted: true });
        return { current, volume: await findVolume(em, current.volumeId) };
      },
      // Its own delete, or its volume's cascade delete.
      settled: async (em, { current }) => {
        const removedBy = [
          { resourceId: current.id, kinds: ['delete_snapshot'] as const },
          { resourceId: current.volumeId, kinds: ['delete_volume', 'unmanage_volume'] as const },
        ];
        // A volume's delete under way counts only when it took the snapshot with it (DELETING).
        const answer = await settledDelete(em, current, { gone: ['deleted'], removedBy: current.status === 'deleting' ? removedBy : removedBy.slice(0, 1) });
        return answer && { snapshot: current, ...answer };
      },
      check: (_em, loaded) => {
        const t = SNAPSHOT_ACTIONS.delete;
        if (!(t.from as readonly string[]).includes(loaded.current.status)) throw snapshotInvalidState(t, loaded.current.status, loaded.current.id);
        return loaded;
      },
      // The volume never reached a pool (or is gone with its image): nothing to remove on an agent, DELETED at once.
      transition: (tx, { current, volume }) =>
        casSnapshot(tx, current.id, guard('delete', input.expectedVersion), onAPool(volume) ? { status: 'deleting' } : { status: 'deleted', deletedAt: new Date() }),
      whyNot: (tx, { current }) => snapshotWhyNot(tx, 'delete', current.id, input.expectedVersion),
      operation: (snapshot, { current, volume }, operationId) => {
        if (!onAPool(volume)) return { projectId: current.projectId, resourceId: current.id };
        const payload: AgentDeleteSnapshot = { operationId, snapshotId: current.id, volumeId: volume.id, pool: volume.pool };
        return {
          projectId: snapshot.projectId,
          resourceId: snapshot.id,
          command: { subject: subjects.agent(volume.host, COMMAND.deleteSnapshot), kind: KIND.agentDeleteSnapshot, payload, msgId: `${operationId}:${KIND.agentDeleteSnapshot}` },
        };
      },
      announce: (deps, snapshot) => deps.live.publishSnapshot(snapshot.status === 'deleted' ? 'DELETED' : 'UPDATED', snapshot),
      result: (snapshot, operation) => ({ snapshot, operation, alreadyDeleted: false }),
    });
  }

  private async mustSee(p: Principal, id: string, em: EntityManager, opts: { deleted?: boolean } = {}): Promise<Snapshot> {
    const s = await this.visible(p, id, em, opts);
    if (!s) throw new NotFoundError('Snapshot', id);
    return s;
  }
}

/**
 * sha256 of a create request, to refuse a reused idempotency key with other parameters. The
 * metadata counts only when some is given, so the hashes of snapshots created before it
 * existed (and of those without it) stay as they were.
 */
function snapshotRequestHash(input: CreateSnapshotRequest, metadata: Record<string, string>): string {
  const fields: unknown[] = ['snapshot', input.volumeId, input.name, input.description ?? null, input.force ?? false];
  if (Object.keys(metadata).length) fields.push({ metadata: sortedKeys(metadata) });
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

/** The same pairs with their keys in order: `{b, a}` and `{a, b}` are one request. */
function sortedKeys(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A volume still on a pool, whose agent can remove a snapshot's image. */
function onAPool(volume: Volume | null): volume is Volume & { host: string; pool: string } {
  return !!volume && volume.status !== 'deleted' && !!volume.host && !!volume.pool;
}

/** Why a snapshot's compare-and-set did not apply, as the error the caller should see. */
async function snapshotWhyNot(em: EntityManager, action: SnapshotAction, id: string, expectedVersion: number | null | undefined): Promise<Error> {
  const t = SNAPSHOT_ACTIONS[action];
  return casRefusal('Snapshot', id, await findSnapshot(em, id), expectedVersion, t.from, (status) => snapshotInvalidState(t, status, id));
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
