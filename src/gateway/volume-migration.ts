/**
 * Volume migration, the gateway's part (contracts: src/bus/migration-messages.ts; agent:
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
 * A retype that needs a migration (src/gateway/volume-retype.ts) runs the same steps in
 * RETYPING and sets the new type at the switch.
 */
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import {
  MIGRATION_COMMAND,
  MIGRATION_KIND,
  hostOfPoolId,
  poolId,
  publish,
  subjects,
  type Bus,
  type MigrationCleaned,
  type MigrationCleanup,
  type MigrationCopied,
  type MigrationExport,
  type MigrationExporting,
  type MigrationFailed,
  type MigrationImport,
  type PoolStats,
  type ScheduleRetype,
} from '../bus/index.js';
import type { Logger } from '../config/logger.js';
import {
  capacity,
  casVolume,
  countSnapshotsOfVolume,
  findOperation,
  findVolume,
  finishOperation,
  markRunning,
  migrationCapacity,
  Reservation,
  VolumeType,
  type Db,
  type Operation,
  type Principal,
  type UserMessage,
  type Volume,
  type VolumeChanges,
} from '../db/index.js';
import { DEADLINE_ERROR_CODE, deadlineMessage, operationDeadline } from '../domain/deadlines.js';
import { MIGRATING_VOLUME_STATUSES, MIGRATION_RUNNING, migrationFailureMessage, type MigrationStage } from '../domain/migration.js';
import { requireAdmin } from '../domain/access.js';
import { actionTransition, assertCanStart, FlintError, invalidState, InvalidStateError, NotFoundError, Problems } from '../domain/index.js';
import { checkMigrationTarget } from '../scheduler/index.js';
import type { MigrateVolumeRequest, MigrationServiceApi, RetypeVolumeRequest } from '../resolvers/migration-services.js';
import { retypeVolume } from './volume-retype.js';
import type { VolumeResult } from '../resolvers/index.js';
import { countOperation } from '../metrics/index.js';
import { leaveMessage } from './deadline-sweeper.js';
import type { LiveHub } from './live.js';
import { casRefusal, newOperation } from './mutation-helpers.js';
import { dispatchOrDefer } from './outbox.js';
import type { GatewayDeps } from './volume-service.js';

export const MIGRATE_KIND = 'migrate_volume';
export const RETYPE_KIND = 'retype_volume';
export const CLEANUP_KIND = 'migration_cleanup';

/** What the recorder's side needs. */
export interface MigrationRecorderDeps {
  db: Db;
  bus: Bus;
  live: LiveHub;
  log: Logger;
}

export interface MigrationServiceDeps extends GatewayDeps {
  /** The gateway's live view of the pools (heartbeats). */
  pools: { list(): PoolStats[] };
}

/** `migrateVolume`, see the module's documentation. */
export class MigrationService implements MigrationServiceApi {
  constructor(private readonly deps: MigrationServiceDeps) {}

  async migrate(principal: Principal | null, input: MigrateVolumeRequest): Promise<VolumeResult> {
    requireAdmin(principal, 'Migrating a volume');
    const problems = new Problems();
    if (!input.id) problems.add('id is required');
    if (!input.host) problems.add('host is required: the storage host to move the volume to (see `flint pool list`)');
    if (!input.pool) problems.add('pool is required: the pool on that host');
    problems.throwIfAny();
    const { db, config } = this.deps;
    const em = db.fork();
    const volume = await findVolume(em, input.id);
    if (!volume || volume.status === 'deleted') throw new NotFoundError('Volume', input.id);
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
      { staleBefore: new Date(Date.now() - config.heartbeatSeconds * 3 * 1000), force: input.force === true },
    );
    if (!check.ok) throw new FlintError(check.code, check.message);

    const operationId = randomUUID();
    const source = { host: volume.host, pool: volume.pool };
    const payload: MigrationExport = {
      operationId,
      volumeId: volume.id,
      pool: source.pool,
      sizeGiB: volume.sizeGiB,
      destination: { host: input.host, pool: input.pool },
      notAfter: operationDeadline(new Date(), config.operationTimeoutSeconds).toISOString(),
    };
    const result = await em.transactional(async (tx) => {
      const moved = await casVolume(tx, volume.id, { from: ['available'], expectedVersion: volume.version }, { status: 'maintenance', migrationStatus: 'starting' });
      if (!moved) {
        const t = actionTransition('migrate');
        throw casRefusal('Volume', volume.id, await findVolume(tx, volume.id), undefined, t.from, (s) => invalidState(t, s, volume.id));
      }
      const target = poolId(input.host, input.pool);
      if (!(await migrationCapacity.reserveForMigration(tx, operationId, target, volume.sizeGiB, check.limitGiB))) {
        throw new FlintError('NO_VALID_BACKEND', `Pool ${target} has no room for the ${volume.sizeGiB} GiB of volume ${volume.id}: its capacity is already promised to other volumes. Choose another pool.`);
      }
      const operation = newOperation(tx, 'volume', volume.projectId, MIGRATE_KIND, volume.id, exportCommand(source.host, payload), operationId);
      return { volume: moved, operation };
    });
    this.deps.log.info({ volumeId: volume.id, from: poolId(source.host, source.pool), to: poolId(input.host, input.pool), force: input.force === true, operationId }, 'volume migration started');
    this.deps.live.publish('UPDATED', result.volume);
    this.deps.live.publishOperation(result.operation);
    void dispatchOrDefer(this.deps.bus, this.deps.db, result.operation, this.deps.log);
    return result;
  }

  /** See src/gateway/volume-retype.ts. */
  retype(principal: Principal | null, input: RetypeVolumeRequest): Promise<VolumeResult> {
    return retypeVolume(this.deps, principal, input);
  }
}

export function exportCommand(sourceHost: string, payload: MigrationExport): NonNullable<Operation['command']> {
  return { subject: subjects.agent(sourceHost, MIGRATION_COMMAND.export), kind: MIGRATION_KIND.agentExport, payload, msgId: `${payload.operationId}:${MIGRATION_KIND.agentExport}` };
}

/** A `migration_cleanup` operation for `host`/`pool` (its command goes out through the outbox). */
function cleanupOperation(tx: EntityManager, volume: Pick<Volume, 'id' | 'projectId'>, migrationOperationId: string, host: string, pool: string, deleteImage: boolean): Operation {
  const id = randomUUID();
  const payload: MigrationCleanup = { operationId: id, migrationOperationId, volumeId: volume.id, pool, deleteImage };
  return newOperation(tx, 'volume', volume.projectId, CLEANUP_KIND, volume.id, {
    subject: subjects.agent(host, MIGRATION_COMMAND.cleanup),
    kind: MIGRATION_KIND.agentCleanup,
    payload,
    msgId: `${id}:${MIGRATION_KIND.agentCleanup}`,
  }, id);
}

function isOpen(op: Operation | null): op is Operation {
  return op !== null && (op.status === 'pending' || op.status === 'running');
}

/** The new type a retype's migration sets at the switch (null for a plain migration). */
function retypeTarget(op: Operation | null): ScheduleRetype['volumeType'] | null {
  if (op?.kind !== RETYPE_KIND) return null;
  return (op.command?.payload as ScheduleRetype | undefined)?.volumeType ?? null;
}

class Overtaken extends Error {}

/** After a commit: announce and send the cleanup operations. */
function sendCleanups(d: MigrationRecorderDeps, ops: readonly Operation[]): void {
  for (const op of ops) {
    d.live.publishOperation(op);
    void dispatchOrDefer(d.bus, d.db, op, d.log);
  }
}

async function announceOperation(d: MigrationRecorderDeps, id: string): Promise<void> {
  const op = await findOperation(d.db.fork(), id);
  if (op) d.live.publishOperation(op);
}

/** The source serves the image: COPYING, and the destination is asked to copy it. */
export async function applyExporting(d: MigrationRecorderDeps, e: MigrationExporting): Promise<void> {
  const em = d.db.fork();
  const op = await findOperation(em, e.operationId);
  if (!isOpen(op)) return lateCleanup(d, e.volumeId, e.operationId, e.host, e.pool, false, 'export of a migration that already ended');
  let volume: Volume | null = null;
  await em.transactional(async (tx) => {
    volume = await casVolume(tx, e.volumeId, { from: MIGRATING_VOLUME_STATUSES, migrationFrom: ['starting'] }, { migrationStatus: 'copying' });
    await markRunning(tx, e.operationId);
  });
  if (!volume) {
    const now = await findVolume(em, e.volumeId);
    // A redelivered event: the import may not have gone out; JetStream drops a second copy by its msgId.
    if (now?.migrationStatus !== 'copying') return lateCleanup(d, e.volumeId, e.operationId, e.host, e.pool, false, 'export for a volume no longer migrating');
  }
  const v = (volume ?? (await findVolume(em, e.volumeId)))!;
  // The destination is the one the database reserved for this migration, whatever the event says.
  const destination = (await reservedDestination(em, e.operationId)) ?? e.destination;
  if (destination.host !== e.destination.host || destination.pool !== e.destination.pool) {
    d.log.warn({ volumeId: e.volumeId, said: poolId(e.destination.host, e.destination.pool), reserved: poolId(destination.host, destination.pool) }, 'migration: the export named another destination than the one reserved; using the reserved one');
  }
  const command: MigrationImport = {
    operationId: e.operationId,
    volumeId: e.volumeId,
    pool: destination.pool,
    sizeGiB: v.sizeGiB,
    source: { host: e.host, pool: e.pool, uri: e.uri },
    notAfter: (op.deadlineAt ?? new Date(Date.now() + 3600_000)).toISOString(),
  };
  await publish(d.bus, subjects.agent(destination.host, MIGRATION_COMMAND.import), MIGRATION_KIND.agentImport, command, `${e.operationId}:${MIGRATION_KIND.agentImport}`);
  d.log.info({ volumeId: e.volumeId, uri: e.uri, to: poolId(destination.host, destination.pool) }, 'migration: copying');
  if (volume) d.live.publish('UPDATED', volume);
  await announceOperation(d, e.operationId);
}

/** Host and pool of the capacity reserved for migration `operationId` (its destination), if any. */
async function reservedDestination(em: EntityManager, operationId: string): Promise<{ host: string; pool: string } | undefined> {
  const r = await em.findOne(Reservation, { volumeId: operationId }, { disableIdentityMap: true });
  if (!r) return undefined;
  const host = hostOfPoolId(r.poolId);
  return { host, pool: r.poolId.slice(host.length + 1) };
}

/** The destination holds a verified copy: switch the volume over in one transaction. */
export async function applyCopied(d: MigrationRecorderDeps, e: MigrationCopied): Promise<void> {
  const em = d.db.fork();
  const op = await findOperation(em, e.operationId);
  const before = await findVolume(em, e.volumeId);
  let volume: Volume | null = null;
  let cleanup: Operation | null = null;
  const reserved = await reservedDestination(em, e.operationId);
  if (reserved && (reserved.host !== e.host || reserved.pool !== e.pool)) {
    d.log.warn({ volumeId: e.volumeId, said: poolId(e.host, e.pool), reserved: poolId(reserved.host, reserved.pool) }, 'migration: a copy reported on another pool than the one reserved; ignored');
    return;
  }
  if (isOpen(op) && before?.host && before.pool) {
    const from = { host: before.host, pool: before.pool };
    const retype = retypeTarget(op);
    await em
      .transactional(async (tx) => {
        // The resource first, then the operation (the recorder's order everywhere, so two transactions never deadlock).
        const changes: VolumeChanges = { status: 'available', host: e.host, pool: e.pool, migrationStatus: 'success' };
        if (retype) changes.volumeType = retype.name;
        volume = await casVolume(tx, e.volumeId, { from: MIGRATING_VOLUME_STATUSES, migrationFrom: ['copying'] }, changes);
        if (!volume) return;
        if (!(await finishOperation(tx, e.operationId, 'succeeded'))) throw new Overtaken();
        await migrationCapacity.switchReservation(tx, e.volumeId, e.operationId);
        cleanup = cleanupOperation(tx, volume, e.operationId, from.host, from.pool, true);
      })
      .catch((err: unknown) => {
        if (!(err instanceof Overtaken)) throw err;
        volume = null;
      });
    if (volume) {
      const v: Volume = volume;
      countOperation(op.kind, 'succeeded');
      d.log.info({ volumeId: v.id, from: poolId(from.host, from.pool), to: poolId(e.host, e.pool), volumeType: v.volumeType }, 'migration: volume switched to its new pool');
      d.live.publish('UPDATED', v);
      await announceOperation(d, e.operationId);
      if (cleanup) sendCleanups(d, [cleanup]);
      return;
    }
  }
  // The migration ended without this copy (deadline): the copy is a stray unless the volume lives there.
  const now = await findVolume(em, e.volumeId);
  if (now && (now.status === 'deleted' || !(now.host === e.host && now.pool === e.pool))) {
    await lateCleanup(d, e.volumeId, e.operationId, e.host, e.pool, true, 'copy of a migration that already ended');
  }
}

/** A source or destination failed: back on the old pool, AVAILABLE, migrationStatus ERROR. */
export async function applyFailed(d: MigrationRecorderDeps, e: MigrationFailed): Promise<void> {
  const em = d.db.fork();
  const op = await findOperation(em, e.operationId);
  const before = await findVolume(em, e.volumeId);
  if (!isOpen(op) || !before?.host || !before.pool) return;
  const message = migrationFailureMessage({
    volumeId: e.volumeId,
    from: { host: before.host, pool: before.pool },
    to: e.destination,
    stage: e.stage,
    reason: e.error.message,
    retype: retypeTarget(op)?.name ?? null,
  });
  const failed = await failMigration(d, op, before, e.stage, { code: e.error.code, message });
  if (failed) d.log.warn({ volumeId: e.volumeId, stage: e.stage, host: e.host, reason: e.error.message }, 'migration failed; the volume stays on its old pool');
}

/**
 * Ends the migration `op` as failed: the volume AVAILABLE on its old pool with
 * migrationStatus ERROR, the destination's reservation freed, a user message, and the
 * source told to stop its export when it may have one. Returns whether this call did it.
 */
export async function failMigration(d: MigrationRecorderDeps, op: Operation, before: Volume, stage: MigrationStage | 'decision', error: { code: string; message: string }): Promise<boolean> {
  const em = d.db.fork();
  const exporting = MIGRATION_RUNNING.includes(before.migrationStatus ?? 'error');
  let volume: Volume | null = null;
  let message: UserMessage | null = null;
  const cleanups: Operation[] = [];
  let finished = false;
  await em
    .transactional(async (tx) => {
      const changes: VolumeChanges = { status: 'available' };
      if (exporting) changes.migrationStatus = 'error';
      // The resource first, then the operation. An admin may have reset or force-deleted the
      // volume meanwhile: then only the operation ends.
      volume = await casVolume(tx, before.id, { from: op.kind === RETYPE_KIND ? ['retyping'] : ['maintenance'] }, changes);
      finished = await finishOperation(tx, op.id, 'failed', error);
      if (!finished) throw new Overtaken();
      await migrationCapacity.releaseMigration(tx, op.id);
      // The source stopped its own export when the export itself failed.
      if (exporting && stage !== 'export' && before.host && before.pool) cleanups.push(cleanupOperation(tx, before, op.id, before.host, before.pool, false));
      if (volume) message = await leaveMessage(tx, { projectId: volume.projectId, resourceType: 'volume', resourceId: volume.id, event: op.kind, message: error.message });
    })
    .catch((err: unknown) => {
      if (!(err instanceof Overtaken)) throw err;
      finished = false;
      volume = null;
    });
  if (!finished) return false;
  countOperation(op.kind, 'failed');
  sendCleanups(d, cleanups);
  await announceOperation(d, op.id);
  if (!volume) return true;
  d.live.publish('UPDATED', volume);
  if (message) d.live.publishMessage(message);
  return true;
}

/** A cleanup's outcome: ends its operation; an image left behind gets a WARNING message. */
export async function applyCleaned(d: MigrationRecorderDeps, e: MigrationCleaned): Promise<void> {
  const em = d.db.fork();
  let message: UserMessage | null = null;
  let done = false;
  await em.transactional(async (tx) => {
    done = await finishOperation(tx, e.operationId, e.error ? 'failed' : 'succeeded', e.error);
    const v = done && e.error ? await findVolume(tx, e.volumeId) : null;
    if (v && e.error) message = await leaveMessage(tx, { projectId: v.projectId, resourceType: 'volume', resourceId: v.id, event: CLEANUP_KIND, message: e.error.message, level: 'WARNING' });
  });
  if (!done) return;
  countOperation(CLEANUP_KIND, e.error ? 'failed' : 'succeeded');
  d.log.info({ volumeId: e.volumeId, host: e.host, pool: e.pool, deletedImage: e.deletedImage, error: e.error?.message }, 'migration cleanup done');
  await announceOperation(d, e.operationId);
  if (message) d.live.publishMessage(message);
}

/** Sends a cleanup for what an answer that came too late left (an export, or a stray copy). */
async function lateCleanup(d: MigrationRecorderDeps, volumeId: string, migrationOperationId: string, host: string, pool: string, deleteImage: boolean, why: string): Promise<void> {
  const em = d.db.fork();
  const v = await findVolume(em, volumeId);
  if (!v) return;
  const op = await em.transactional(async (tx) => cleanupOperation(tx, v, migrationOperationId, host, pool, deleteImage));
  d.log.warn({ volumeId, host, pool, deleteImage, migrationOperationId }, `migration: ${why}; cleaning up on that host`);
  sendCleanups(d, [op]);
}

/**
 * The deadline sweeper's rule for migrations and retypes: the volume back to AVAILABLE on
 * its old pool (migrationStatus ERROR if it was migrating), the destination's capacity
 * freed, the source told to stop any export. Returns whether this gateway did it.
 */
export async function failMigrationOverdue(d: MigrationRecorderDeps, op: Operation, timeoutSeconds: number): Promise<boolean> {
  const before = await findVolume(d.db.fork(), op.resourceId);
  if (!before) return false;
  const error = { code: DEADLINE_ERROR_CODE, message: '' };
  const migrating = MIGRATION_RUNNING.includes(before.migrationStatus ?? 'error');
  const to = (op.command?.payload as Partial<MigrationExport> | undefined)?.destination;
  error.message =
    migrating && before.host && before.pool
      ? migrationFailureMessage({
          volumeId: before.id,
          from: { host: before.host, pool: before.pool },
          to: to ?? { host: '?', pool: '?' },
          stage: 'deadline',
          reason: `nothing was heard within ${timeoutSeconds} s`,
          retype: retypeTarget(op)?.name ?? null,
        })
      : `${deadlineMessage(op.kind, timeoutSeconds)} The volume is AVAILABLE again with its type unchanged.`;
  return failMigration(d, op, before, 'deadline', error);
}

/** Operation kinds whose deadline `failMigrationOverdue` handles. */
export function isMigrationKind(kind: string): boolean {
  return kind === MIGRATE_KIND || kind === RETYPE_KIND;
}
