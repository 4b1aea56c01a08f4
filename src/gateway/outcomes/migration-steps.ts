/**
 * The steps of a migration (and of a retype that migrates), applied by the recorder from the
 * agents' events; see src/gateway/mutations/volume-migration.ts for the whole story.
 */
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import { MIGRATION_COMMAND, MIGRATION_KIND, hostOfPoolId, poolId, publish, subjects, type MigrationCleaned, type MigrationCleanup, type MigrationCopied, type MigrationExport, type MigrationExporting, type MigrationFailed, type MigrationImport, type ScheduleRetype } from '../../bus/index.js';
import { commitUnlessOvertaken, Overtaken, casVolume, findById, findOperation, findVolume, finishOperation, markRunning, migrationCapacity, Reservation, type Operation, type UserMessage, type Volume, type VolumeChanges } from '../../db/index.js';
import { DEADLINE_ERROR_CODE, deadlineMessage } from '../../domain/deadlines.js';
import { MIGRATING_VOLUME_STATUSES, MIGRATION_RUNNING, migrationFailureMessage, type MigrationStage } from '../../domain/migration.js';
import { countOperation } from '../../metrics/index.js';
import { announceOperationNow, leaveMessage } from './messages.js';
import { newOperation } from '../mutations/kernel.js';
import { dispatchOrDefer } from '../sweepers/outbox.js';
import { volumeEncryptionOf } from '../mutations/volume-encryption.js';
import type { GatewayDeps } from '../deps.js';

/** What the recorder's side of a migration needs. */
export type MigrationRecorderDeps = Pick<GatewayDeps, 'db' | 'bus' | 'live' | 'log'>;

/** A `migration_cleanup` operation for `host`/`pool` (its command goes out through the outbox). */
function cleanupOperation(tx: EntityManager, volume: Pick<Volume, 'id' | 'projectId'>, migrationOperationId: string, host: string, pool: string, deleteImage: boolean): Operation {
  const id = randomUUID();
  const payload: MigrationCleanup = { operationId: id, migrationOperationId, volumeId: volume.id, pool, deleteImage };
  return newOperation(tx, 'migration_cleanup', 'volume', {
    projectId: volume.projectId,
    resourceId: volume.id,
    command: { subject: subjects.agent(host, MIGRATION_COMMAND.cleanup), kind: MIGRATION_KIND.agentCleanup, payload, msgId: `${id}:${MIGRATION_KIND.agentCleanup}` },
  }, id);
}

function isOpen(op: Operation | null): op is Operation {
  return op !== null && (op.status === 'pending' || op.status === 'running');
}

/** The new type a retype's migration sets at the switch (null for a plain migration). */
function retypeTarget(op: Operation | null): ScheduleRetype['volumeType'] | null {
  if (op?.kind !== 'retype_volume') return null;
  return (op.command?.payload as ScheduleRetype | undefined)?.volumeType ?? null;
}


/** After a commit: announce and send the cleanup operations. */
function sendCleanups(d: MigrationRecorderDeps, ops: readonly Operation[]): void {
  for (const op of ops) {
    d.live.publishOperation(op);
    void dispatchOrDefer(d.bus, d.db, op, d.log);
  }
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
  const encryption = await volumeEncryptionOf(em, v);
  if (encryption) command.encryption = encryption;
  await publish(d.bus, subjects.agent(destination.host, MIGRATION_COMMAND.import), MIGRATION_KIND.agentImport, command, `${e.operationId}:${MIGRATION_KIND.agentImport}`);
  d.log.info({ volumeId: e.volumeId, uri: e.uri, to: poolId(destination.host, destination.pool) }, 'migration: copying');
  if (volume) d.live.publish('UPDATED', volume);
  await announceOperationNow(d.db.fork(), d.live, e.operationId);
}

/** Host and pool of the capacity reserved for migration `operationId` (its destination), if any. */
async function reservedDestination(em: EntityManager, operationId: string): Promise<{ host: string; pool: string } | undefined> {
  const r = await findById(em, Reservation, operationId);
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
    const committed = await commitUnlessOvertaken(em, async (tx) => {
        // The resource first, then the operation (the recorder's order everywhere, so two transactions never deadlock).
        const changes: VolumeChanges = { status: 'available', host: e.host, pool: e.pool, migrationStatus: 'success' };
        if (retype) changes.volumeType = retype.name;
        volume = await casVolume(tx, e.volumeId, { from: MIGRATING_VOLUME_STATUSES, migrationFrom: ['copying'] }, changes);
        if (!volume) return;
        if (!(await finishOperation(tx, e.operationId, 'succeeded'))) throw new Overtaken();
        await migrationCapacity.switchReservation(tx, e.volumeId, e.operationId);
        cleanup = cleanupOperation(tx, volume, e.operationId, from.host, from.pool, true);
      });
    if (!committed) volume = null;
    if (volume) {
      const v: Volume = volume;
      countOperation(op.kind, 'succeeded');
      d.log.info({ volumeId: v.id, from: poolId(from.host, from.pool), to: poolId(e.host, e.pool), volumeType: v.volumeType }, 'migration: volume switched to its new pool');
      d.live.publish('UPDATED', v);
      await announceOperationNow(d.db.fork(), d.live, e.operationId);
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
  const committed = await commitUnlessOvertaken(em, async (tx) => {
      const changes: VolumeChanges = { status: 'available' };
      if (exporting) changes.migrationStatus = 'error';
      // The resource first, then the operation. An admin may have reset or force-deleted the
      // volume meanwhile: then only the operation ends.
      volume = await casVolume(tx, before.id, { from: op.kind === 'retype_volume' ? ['retyping'] : ['maintenance'] }, changes);
      finished = await finishOperation(tx, op.id, 'failed', error);
      if (!finished) throw new Overtaken();
      await migrationCapacity.releaseMigration(tx, op.id);
      // The source stopped its own export when the export itself failed.
      if (exporting && stage !== 'export' && before.host && before.pool) cleanups.push(cleanupOperation(tx, before, op.id, before.host, before.pool, false));
      if (volume) message = await leaveMessage(tx, { projectId: volume.projectId, resourceType: 'volume', resourceId: volume.id, event: op.kind, message: error.message });
    });
  if (!committed) {
    finished = false;
    volume = null;
  }
  if (!finished) return false;
  countOperation(op.kind, 'failed');
  sendCleanups(d, cleanups);
  await announceOperationNow(d.db.fork(), d.live, op.id);
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
    if (v && e.error) message = await leaveMessage(tx, { projectId: v.projectId, resourceType: 'volume', resourceId: v.id, event: 'migration_cleanup', message: e.error.message, level: 'WARNING' });
  });
  if (!done) return;
  countOperation('migration_cleanup', e.error ? 'failed' : 'succeeded');
  d.log.info({ volumeId: e.volumeId, host: e.host, pool: e.pool, deletedImage: e.deletedImage, error: e.error?.message }, 'migration cleanup done');
  await announceOperationNow(d.db.fork(), d.live, e.operationId);
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
