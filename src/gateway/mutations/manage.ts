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
import { isUp } from '../../domain/liveness.js';
import { createHash, randomUUID } from 'node:crypto';
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
import { BadInputError, checkDescription, checkIdempotencyKey, checkManageReference, checkMetadata, checkName, checkZone, InvalidStateError, NotFoundError, NoValidBackendError, refusedTransition, requireAdmin, ServiceUnavailableError, stateHint, type VolumeStatus } from '../../domain/index.js';
import type { ManageableImageView, ManagePort, ManageVolumeRequest, UnmanageVolumeRequest } from '../../resolvers/ports/manage.js';
import type { VolumeResult } from '../../resolvers/index.js';
import { casGuard, casRefusal } from './cas.js';
import { runMutation } from './kernel.js';
import { newVolumeClaim } from './quota-claims.js';
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

export class ManageMutations implements ManagePort {
  constructor(private readonly deps: ManageDeps) {}

  /** The pool's latest heartbeat, when its agent is UP. */
  private livePool(host: string, pool: string): PoolStats {
    const found = this.deps.pools.list().find((s) => s.host === host && s.pool === pool);
    if (!found) {
      throw new NoValidBackendError(`No pool ${pool} on host ${host} reports to Flint; list the pools with the pools query and name one of them.`, { host, pool });
    }
    if (!isUp(found.updatedAt, this.deps.heartbeatSeconds)) {
      const ageMs = Date.now() - new Date(found.updatedAt).getTime();
      throw new NoValidBackendError(`The agent of ${poolId(host, pool)} is DOWN (no heartbeat for ${Math.round(ageMs / 1000)} s); start it and retry.`, { host, pool });
    }
    return found;
  }

  manage(principal: Principal | null, input: ManageVolumeRequest): Promise<VolumeResult> {
    const volumeId = randomUUID();
    let metadata: Record<string, string> = {};
    type Loaded = { projectId: string; zone: string; type: VolumeType | null; requestHash: string };
    return runMutation<Loaded, Volume, VolumeResult>(this.deps, principal, {
      kind: 'manage_volume',
      resourceType: 'volume',
      authorize: (p) => requireAdmin(p, 'Managing existing images'),
      validate: (problems) => {
        checkName(problems, 'name', input.name, true);
        checkDescription(problems, input.description);
        checkManageReference(problems, input.reference);
        checkZone(problems, input.availabilityZone);
        checkIdempotencyKey(problems, input.idempotencyKey);
        metadata = checkMetadata(problems, input.metadata) ?? {};
        if (!input.host?.trim()) problems.add('host is required: the storage host of the pool (see the pools query)');
        if (!input.pool?.trim()) problems.add('pool is required: the name of the pool on that host (see the pools query)');
      },
      load: async (em, p) => {
        const pool = this.livePool(input.host, input.pool);
        if (input.availabilityZone && input.availabilityZone !== pool.availabilityZone) {
          throw new BadInputError([`availabilityZone ${input.availabilityZone} does not match the pool's zone ${pool.availabilityZone}; omit it or give that zone`]);
        }
        const projectId = input.projectId ?? p.projectId;
        if (!(await em.findOne(Project, { id: projectId }, { disableIdentityMap: true }))) throw new NotFoundError('Project', projectId);
        const type = input.volumeType ? await usableVolumeType(em, p, input.volumeType) : null;
        if (type?.encryption) {
          throw new BadInputError([
            `volume type "${type.name}" is encrypted, and an existing image holds plaintext: it cannot be adopted as encrypted. Manage it with a plain type, then make an encrypted copy (createVolume with sourceVolumeId and volumeType "${type.name}").`,
          ]);
        }
        const requestHash = createHash('sha256')
          .update(JSON.stringify(['manage', input.host, input.pool, input.reference, input.name, input.description ?? null, type?.name ?? null, metadata]))
          .digest('hex');
        return { projectId, zone: pool.availabilityZone, type, requestHash };
      },
      idempotency: ({ projectId, requestHash }) =>
        input.idempotencyKey ? { entity: Volume, projectId, key: input.idempotencyKey, requestHash, replayed: (row, operation) => ({ volume: row as Volume, operation }) } : null,
      transition: async (tx, { projectId, zone, type, requestHash }) =>
        tx.create(Volume, {
          id: volumeId,
          projectId,
          name: input.name,
          description: input.description ?? null,
          // Unknown until the agent has looked at the file: corrected when it reports.
          sizeGiB: 1,
          status: 'creating',
          volumeType: type?.name ?? null,
          availabilityZone: zone,
          host: input.host,
          pool: input.pool,
          metadata,
          idempotencyKey: input.idempotencyKey ?? null,
          requestHash,
        }),
      // Its size is known once the agent has looked at the file; it counts from then on.
      quota: newVolumeClaim,
      operation: (volume, _loaded, operationId) => {
        const payload: AgentManage = { operationId, volumeId, pool: input.pool, reference: input.reference };
        return {
          projectId: volume.projectId,
          resourceId: volume.id,
          command: { subject: subjects.agent(input.host, MANAGE_COMMAND.manageVolume), kind: MANAGE_KIND.agentManage, payload, msgId: `${operationId}:agent.manage` },
        };
      },
      announce: (deps, volume) => deps.live.publish('CREATED', volume),
      result: (volume, operation) => ({ volume, operation: operation! }),
    });
  }

  unmanage(principal: Principal | null, input: UnmanageVolumeRequest): Promise<VolumeResult> {
    const refused = (id: string) => (status: VolumeStatus) => refusedTransition(`Volume ${id}`, status, 'unmanaged', UNMANAGE_FROM, stateHint(status));
    return runMutation<Volume, Volume, VolumeResult>(this.deps, principal, {
      kind: 'unmanage_volume',
      resourceType: 'volume',
      authorize: (p) => requireAdmin(p, 'Unmanaging volumes'),
      load: async (em) => {
        const current = await findVolume(em, input.id);
        if (!current || current.status === 'deleted') throw new NotFoundError('Volume', input.id);
        if (!UNMANAGE_FROM.includes(current.status)) throw refused(current.id)(current.status);
        const snapshots = await countSnapshotsOfVolume(em, current.id);
        if (snapshots > 0) {
          throw new InvalidStateError(
            `Volume ${current.id} has ${snapshots} snapshot${snapshots === 1 ? '' : 's'}; an unmanaged image keeps no snapshots, so delete them first.`,
            { snapshotCount: snapshots },
          );
        }
        if (current.encryptionKey && current.host && current.pool) {
          throw new InvalidStateError(
            `Volume ${current.id} is encrypted: unmanaged, its image would be ciphertext whose key Flint no longer keeps. Copy its data out through an attachment, then delete the volume.`,
            { encrypted: true },
          );
        }
        return current;
      },
      transition: async (tx, current) => {
        const guard = casGuard(UNMANAGE_FROM, input.expectedVersion ?? current.version);
        // Never placed: there is no image to give back.
        if (current.host && current.pool) return casVolume(tx, current.id, guard, { status: 'deleting' });
        const volume = await casVolume(tx, current.id, guard, { status: 'deleted', deletedAt: new Date() });
        if (volume) await capacity.release(tx, current.id);
        return volume;
      },
      whyNot: async (tx, current) =>
        casRefusal('Volume', current.id, await findVolume(tx, current.id), input.expectedVersion, UNMANAGE_FROM, refused(current.id), { versionPinsState: true }),
      operation: (volume, current, operationId) => {
        if (!current.host || !current.pool) return { projectId: current.projectId, resourceId: current.id };
        const payload: AgentUnmanage = { operationId, volumeId: current.id, pool: current.pool };
        return {
          projectId: current.projectId,
          resourceId: volume.id,
          command: { subject: subjects.agent(current.host, MANAGE_COMMAND.unmanageVolume), kind: MANAGE_KIND.agentUnmanage, payload, msgId: `${operationId}:agent.unmanage` },
        };
      },
      announce: (deps, volume) => deps.live.publish(volume.status === 'deleted' ? 'DELETED' : 'UPDATED', volume),
      result: (volume, operation) => ({ volume, operation: operation! }),
    });
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
