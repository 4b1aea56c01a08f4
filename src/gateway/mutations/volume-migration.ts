/**
 * Volume migration, the gateway's part (contracts: src/bus/contract/migration-messages.ts; agent:
 * src/node-agent/migration.ts; pure rules: src/domain/migration.ts and
 * src/scheduler/migration-decision.ts).
 *
 * `migrateVolume` (admins) checks the volume (AVAILABLE, no snapshots) and the destination
 * (exists, UP, passes the filters unless `force`), then in one transaction moves the volume
 * to MAINTENANCE / migrationStatus STARTING, reserves the destination's capacity under the
 * operation's id and records the export command for the source (the outbox sends it).
 * The recorder then drives the steps, each a compare-and-set on (status, migrationStatus)
 * guarded by the operation still being open:
 * - `migration.exporting` → COPYING, and the import command goes to the destination;
 * - `migration.copied` → the switch: host and pool change, AVAILABLE, SUCCESS, the source's
 *   reservation is freed and the destination's becomes the volume's, the operation
 *   succeeds, and a `migration_cleanup` operation asks the source to stop its export and
 *   delete the old image;
 * - `migration.failed` (or the deadline) → AVAILABLE on the old pool, ERROR, the
 *   destination's reservation freed, a user message, and the source told to stop exporting.
 * An answer that comes after the migration ended (the deadline won) only cleans up: a late
 * export is stopped, a late copy on a pool that does not hold the volume is deleted.
 * A retype that needs a migration (src/gateway/mutations/volume-retype.ts) runs the same steps in
 * RETYPING and sets the new type at the switch.
 */
import { staleBefore } from '../../domain/liveness.js';
import { MIGRATION_COMMAND, MIGRATION_KIND, poolId, subjects, type MigrationExport, type PoolStats } from '../../bus/index.js';
import { capacity, casVolume, countSnapshotsOfVolume, findVolume, migrationCapacity, VolumeType, type Operation, type Principal, type Volume } from '../../db/index.js';
import { operationDeadline } from '../../domain/deadlines.js';
import { requireAdmin } from '../../domain/access.js';
import { actionTransition, assertCanStart, checkIdempotencyKey, FlintError, invalidState, InvalidStateError, NotFoundError } from '../../domain/index.js';
import { checkMigrationTarget } from '../../scheduler/index.js';
import type { MigrateVolumeRequest, MigrationPort, RetypeVolumeRequest } from '../../resolvers/ports/migration.js';
import { retypeVolume } from './volume-retype.js';
import type { VolumeChangeResult, VolumeResult } from '../../resolvers/index.js';
import { casRefusal } from './cas.js';
import { changeKey, runMutation } from './kernel.js';
import type { GatewayDeps } from '../deps.js';


export interface MigrationDeps extends GatewayDeps {
  /** The gateway's live view of the pools (heartbeats). */
  pools: { list(): PoolStats[] };
}

/** `migrateVolume`, see the module's documentation. */
export class MigrationMutations implements MigrationPort {
  constructor(private readonly deps: MigrationDeps) {}

  migrate(principal: Principal | null, input: MigrateVolumeRequest): Promise<VolumeResult> {
    const { config } = this.deps;
    return runMutation<{ volume: Volume & { host: string; pool: string }; limitGiB: number }, Volume, VolumeResult>(this.deps, principal, {
      kind: 'migrate_volume',
      resourceType: 'volume',
      authorize: (p) => requireAdmin(p, 'Migrating a volume'),
      validate: (problems) => {
        if (!input.id) problems.add('id is required');
        if (!input.host) problems.add('host is required: the storage host to move the volume to (see `flint pool list`)');
        if (!input.pool) problems.add('pool is required: the pool on that host');
        checkIdempotencyKey(problems, input.idempotencyKey);
      },
      load: async (em) => {
        const volume = await findVolume(em, input.id);
        if (!volume || volume.status === 'deleted') throw new NotFoundError('Volume', input.id);
        return { volume: volume as Volume & { host: string; pool: string }, limitGiB: 0 };
      },
      // A retried migrate after it ended (the volume is on the destination now) is answered before the checks refuse it.
      operationKey: ({ volume }) =>
        changeKey(volume, input.idempotencyKey, { host: input.host, pool: input.pool, force: input.force === true }, (operation) => ({ volume, operation })),
      check: async (em, { volume }) => {
        assertCanStart('migrate', volume.status, volume.id);
        if (!volume.host || !volume.pool) throw new InvalidStateError(`Volume ${volume.id} is on no pool, so there is nothing to migrate.`, {});
        const snapshots = await countSnapshotsOfVolume(em, volume.id);
        if (snapshots > 0) {
          throw new InvalidStateError(
            `Volume ${volume.id} has ${snapshots} snapshot${snapshots === 1 ? '' : 's'}, and a volume with snapshots cannot be migrated (as in Cinder): ` +
              'delete its snapshots first, or copy the volume instead (create a volume from a snapshot or a clone, which stays on this pool).',
            { snapshotCount: snapshots },
          );
        }
        const type = volume.volumeType ? await em.findOne(VolumeType, { name: volume.volumeType }, { disableIdentityMap: true }) : null;
        const allocated = await capacity.allocations(em);
        const pools = this.deps.pools.list().map((s) => ({ ...s, allocatedCapacityGiB: allocated.get(poolId(s.host, s.pool)) ?? 0 }));
        const check = checkMigrationTarget(
          {
            volumeId: volume.id,
            projectId: volume.projectId,
            sizeGiB: volume.sizeGiB,
            availabilityZone: volume.availabilityZone,
            volumeType: type ? { name: type.name, extraSpecs: type.extraSpecs } : null,
          },
          { host: volume.host, pool: volume.pool },
          { host: input.host, pool: input.pool },
          pools,
          { staleBefore: staleBefore(config.heartbeatSeconds), force: input.force === true },
        );
        if (!check.ok) throw new FlintError(check.code, check.message);
        return { volume: volume as Volume & { host: string; pool: string }, limitGiB: check.limitGiB };
      },
      transition: async (tx, { volume, limitGiB }, operationId) => {
        const moved = await casVolume(tx, volume.id, { from: ['available'], expectedVersion: volume.version }, { status: 'maintenance', migrationStatus: 'starting' });
        if (!moved) return null;
        const target = poolId(input.host, input.pool);
        if (!(await migrationCapacity.reserveForMigration(tx, operationId, target, volume.sizeGiB, limitGiB))) {
          throw new FlintError('NO_VALID_BACKEND', `Pool ${target} has no room for the ${volume.sizeGiB} GiB of volume ${volume.id}: its capacity is already promised to other volumes. Choose another pool.`);
        }
        return moved;
      },
      whyNot: async (tx, { volume }) => {
        const t = actionTransition('migrate');
        return casRefusal('Volume', volume.id, await findVolume(tx, volume.id), undefined, t.from, (s) => invalidState(t, s, volume.id));
      },
      operation: (_moved, { volume }, operationId) => {
        const payload: MigrationExport = {
          operationId,
          volumeId: volume.id,
          pool: volume.pool,
          sizeGiB: volume.sizeGiB,
          destination: { host: input.host, pool: input.pool },
          notAfter: operationDeadline(new Date(), config.operationTimeoutSeconds).toISOString(),
        };
        return { projectId: volume.projectId, resourceId: volume.id, command: exportCommand(volume.host, payload) };
      },
      announce: (deps, moved, { volume }, operation) => {
        const move = { from: poolId(volume.host, volume.pool), to: poolId(input.host, input.pool), force: input.force === true };
        deps.log.info({ volumeId: volume.id, ...move, operationId: operation?.id }, 'volume migration started');
        deps.live.publish('UPDATED', moved);
      },
      result: (volume, operation) => ({ volume, operation: operation! }),
    });
  }

  /** See src/gateway/mutations/volume-retype.ts. */
  retype(principal: Principal | null, input: RetypeVolumeRequest): Promise<VolumeChangeResult> {
    return retypeVolume(this.deps, principal, input);
  }
}

export function exportCommand(sourceHost: string, payload: MigrationExport): NonNullable<Operation['command']> {
  return { subject: subjects.agent(sourceHost, MIGRATION_COMMAND.export), kind: MIGRATION_KIND.agentExport, payload, msgId: `${payload.operationId}:${MIGRATION_KIND.agentExport}` };
}
