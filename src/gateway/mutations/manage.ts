/**
 * Manage / unmanage (Cinder's manage_existing and unmanage, admins only), independent of
 * GraphQL. `manage` records a CREATING volume already placed on the named pool (no
 * scheduler: the bytes are there) with its `manage_volume` operation holding the agent's
 * command; the agent checks and adopts the file and reports its size, and the recorder
 * (../outcomes/manage.ts) makes the volume AVAILABLE and reserves its capacity, or ERROR with
 * a user message. `unmanage` moves an AVAILABLE or ERROR volume without snapshots to
 * DELETING with an `unmanage_volume` operation; the agent renames the image out of the
 * driver's naming and reports a delete outcome (DELETED, capacity released).
 */
import { createHash, randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import {
  decodeEnvelope,
  decodePayload,
  encode,
  MANAGE_COMMAND,
  MANAGE_KIND,
  manageableReply,
  poolId,
  subjects,
  type AgentManage,
  type AgentUnmanage,
  type PoolStats,
} from '../../bus/index.js';
import {
  capacity,
  casVolume,
  countSnapshotsOfVolume,
  findVolume,
  Operation,
  Project,
  Volume,
  VolumeType,
  type Principal,
} from '../../db/index.js';
import {
  BadInputError,
  checkDescription,
  checkIdempotencyKey,
  checkManageReference,
  checkMetadata,
  checkName,
  checkZone,
  ConflictError,
  InvalidStateError,
  NotFoundError,
  NoValidBackendError,
  Problems,
  refusedTransition,
  requireAdmin,
  ServiceUnavailableError,
  stateHint,
  type VolumeStatus,
} from '../../domain/index.js';
import type { ManageableImageView, ManageServiceApi, ManageVolumeRequest, UnmanageVolumeRequest } from '../../resolvers/manage-services.js';
import type { VolumeResult } from '../../resolvers/index.js';
import { announceAndDispatch, casGuard, casRefusal, newOperation, succeeded } from './kernel.js';
import { usableVolumeType } from './volume-type-lookup.js';
import type { GatewayDeps } from '../deps.js';

/** States an unmanage starts from: settled ones (ERROR_DELETING: a previous unmanage gave up). */
export const UNMANAGE_FROM: readonly VolumeStatus[] = ['available', 'error', 'error_deleting'];
/** How long a gateway waits for an agent's list of manageable images. @default 10_000 */
export const MANAGEABLE_TIMEOUT_MS = 10_000;

export interface ManageDeps extends GatewayDeps {
  pools: { list(): PoolStats[] };
  heartbeatSeconds: number;
}

export class ManageService implements ManageServiceApi {
  constructor(private readonly deps: ManageDeps) {}

  /** The pool's latest heartbeat, when its agent is UP. */
  private livePool(host: string, pool: string): PoolStats {
    const found = this.deps.pools.list().find((s) => s.host === host && s.pool === pool);
    if (!found) {
      throw new NoValidBackendError(`No pool ${pool} on host ${host} reports to Flint; list the pools with the pools query and name one of them.`, { host, pool });
    }
    const ageMs = Date.now() - new Date(found.updatedAt).getTime();
    if (ageMs > 3 * this.deps.heartbeatSeconds * 1000) {
      throw new NoValidBackendError(`The agent of ${poolId(host, pool)} is DOWN (no heartbeat for ${Math.round(ageMs / 1000)} s); start it and retry.`, { host, pool });
    }
    return found;
  }

  async manage(principal: Principal | null, input: ManageVolumeRequest): Promise<VolumeResult> {
    const p = requireAdmin(principal, 'Managing existing images');
    const problems = new Problems();
    checkName(problems, 'name', input.name, true);
    checkDescription(problems, input.description);
    checkManageReference(problems, input.reference);
    checkZone(problems, input.availabilityZone);
    checkIdempotencyKey(problems, input.idempotencyKey);
    const metadata = checkMetadata(problems, input.metadata) ?? {};
    if (!input.host?.trim()) problems.add('host is required: the storage host of the pool (see the pools query)');
    if (!input.pool?.trim()) problems.add('pool is required: the name of the pool on that host (see the pools query)');
    problems.throwIfAny();

    const pool = this.livePool(input.host, input.pool);
    if (input.availabilityZone && input.availabilityZone !== pool.availabilityZone) {
      throw new BadInputError([`availabilityZone ${input.availabilityZone} does not match the pool's zone ${pool.availabilityZone}; omit it or give that zone`]);
    }
    const em = this.deps.db.fork();
    const projectId = input.projectId ?? p.projectId;
    if (!(await em.findOne(Project, { id: projectId }, { disableIdentityMap: true }))) throw new NotFoundError('Project', projectId);
    let type: VolumeType | null = null;
    if (input.volumeType) {
      type = await usableVolumeType(em, p, input.volumeType);
    }
    const requestHash = createHash('sha256')
      .update(JSON.stringify(['manage', input.host, input.pool, input.reference, input.name, input.description ?? null, type?.name ?? null, metadata]))
      .digest('hex');
    if (input.idempotencyKey) {
      const replay = await this.replay(em, projectId, input.idempotencyKey, requestHash);
      if (replay) return replay;
    }

    const volumeId = randomUUID();
    const operationId = randomUUID();
    const command: AgentManage = { operationId, volumeId, pool: input.pool, reference: input.reference };
    let result: VolumeResult;
    try {
      result = await em.transactional(async (tx) => {
        const volume = tx.create(Volume, {
          id: volumeId,
          projectId,
          name: input.name,
          description: input.description ?? null,
          // Unknown until the agent has looked at the file: corrected when it reports.
          sizeGiB: 1,
          status: 'creating',
          volumeType: type?.name ?? null,
          availabilityZone: pool.availabilityZone,
          host: input.host,
          pool: input.pool,
          metadata,
          idempotencyKey: input.idempotencyKey ?? null,
          requestHash,
        });
        const operation = newOperation(tx, 'volume', projectId, 'manage_volume', volumeId, {
          subject: subjects.agent(input.host, MANAGE_COMMAND.manageVolume),
          kind: MANAGE_KIND.agentManage,
          payload: command,
          msgId: `${operationId}:agent.manage`,
        }, operationId);
        return { volume, operation };
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException && input.idempotencyKey) {
        const replay = await this.replay(this.deps.db.fork(), projectId, input.idempotencyKey, requestHash);
        if (replay) return replay;
      }
      throw err;
    }
    this.deps.live.publish('CREATED', result.volume);
    announceAndDispatch(this.deps, result.operation);
    return result;
  }

  private async replay(em: EntityManager, projectId: string, key: string, requestHash: string): Promise<VolumeResult | null> {
    const existing = await em.findOne(Volume, { projectId, idempotencyKey: key }, { disableIdentityMap: true });
    if (!existing) return null;
    const operation = await em.findOne(Operation, { resourceId: existing.id, kind: 'manage_volume' }, { disableIdentityMap: true });
    if (existing.requestHash !== requestHash || !operation) {
      throw new ConflictError(`idempotencyKey "${key}" was already used for volume ${existing.id} with other parameters; use a new key.`, { volumeId: existing.id });
    }
    return { volume: existing, operation };
  }

  async unmanage(principal: Principal | null, input: UnmanageVolumeRequest): Promise<VolumeResult> {
    requireAdmin(principal, 'Unmanaging volumes');
    const em = this.deps.db.fork();
    const current = await findVolume(em, input.id);
    if (!current || current.status === 'deleted') throw new NotFoundError('Volume', input.id);
    const refused = (status: VolumeStatus) =>
      refusedTransition(`Volume ${current.id}`, status, 'unmanaged', UNMANAGE_FROM, stateHint(status));
    if (!UNMANAGE_FROM.includes(current.status)) throw refused(current.status);
    const snapshots = await countSnapshotsOfVolume(em, current.id);
    if (snapshots > 0) {
      throw new InvalidStateError(
        `Volume ${current.id} has ${snapshots} snapshot${snapshots === 1 ? '' : 's'}; an unmanaged image keeps no snapshots, so delete them first.`,
        { snapshotCount: snapshots },
      );
    }
    const guard = casGuard(UNMANAGE_FROM, input.expectedVersion ?? current.version);
    const operationId = randomUUID();
    const result = await em.transactional(async (tx) => {
      if (!current.host || !current.pool) {
        // Never placed: there is no image to give back.
        const volume = await casVolume(tx, current.id, guard, { status: 'deleted', deletedAt: new Date() });
        if (!volume) throw casRefusal('Volume', current.id, await findVolume(tx, current.id), input.expectedVersion, UNMANAGE_FROM, refused, { versionPinsState: true });
        await capacity.release(tx, current.id);
        return { volume, operation: succeeded(newOperation(tx, 'volume', current.projectId, 'unmanage_volume', current.id, null, operationId)) };
      }
      const volume = await casVolume(tx, current.id, guard, { status: 'deleting' });
      if (!volume) throw casRefusal('Volume', current.id, await findVolume(tx, current.id), input.expectedVersion, UNMANAGE_FROM, refused, { versionPinsState: true });
      const payload: AgentUnmanage = { operationId, volumeId: current.id, pool: current.pool };
      const operation = newOperation(tx, 'volume', current.projectId, 'unmanage_volume', current.id, {
        subject: subjects.agent(current.host, MANAGE_COMMAND.unmanageVolume),
        kind: MANAGE_KIND.agentUnmanage,
        payload,
        msgId: `${operationId}:agent.unmanage`,
      }, operationId);
      return { volume, operation };
    });
    this.deps.live.publish(result.volume.status === 'deleted' ? 'DELETED' : 'UPDATED', result.volume);
    announceAndDispatch(this.deps, result.operation);
    return result;
  }

  async manageable(principal: Principal | null, host: string, pool: string): Promise<ManageableImageView[]> {
    requireAdmin(principal, 'Listing manageable images');
    this.livePool(host, pool);
    let reply;
    try {
      const msg = await this.deps.bus.nc.request(subjects.manageable(host), encode(MANAGE_KIND.manageableRequest, { pool }), { timeout: MANAGEABLE_TIMEOUT_MS });
      reply = decodePayload(decodeEnvelope(msg.data), manageableReply);
    } catch (err) {
      throw new ServiceUnavailableError(`The agent of host ${host} did not answer within ${MANAGEABLE_TIMEOUT_MS / 1000} s; check that it is UP and retry.`, err);
    }
    if (!reply.poolConfigured) throw new NoValidBackendError(`Host ${host} has no pool ${pool}; list the pools with the pools query.`, { host, pool });
    if (reply.error) throw new ServiceUnavailableError(`The agent of host ${host} could not list pool ${pool}: ${reply.error}`);
    const known = await this.knownReferences(host, pool, reply.images.map((i) => i.reference));
    return reply.images.map((i) =>
      known.has(i.reference) && i.safeToManage
        ? { ...i, safeToManage: false, reasonNotSafe: `a volume being managed (${known.get(i.reference)}) names this file already` }
        : i,
    );
  }

  /** Files named by a manage still in flight (CREATING) on the pool: not safe to hand out twice. */
  private async knownReferences(host: string, pool: string, references: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (references.length === 0) return out;
    const em = this.deps.db.fork();
    const ops = await em.find(Operation, { kind: 'manage_volume', status: { $in: ['pending', 'running'] } }, { disableIdentityMap: true });
    for (const op of ops) {
      const payload = op.command?.payload as Partial<AgentManage> | undefined;
      if (op.command?.subject === subjects.agent(host, MANAGE_COMMAND.manageVolume) && payload?.pool === pool && payload.reference) {
        out.set(payload.reference, op.resourceId);
      }
    }
    return out;
  }
}
