/**
 * `retypeVolume` (members of the volume's project): the volume goes RETYPING and the
 * scheduler decides (src/scheduler/migration-decision.ts, `decideRetype`): in place (the
 * type changes, AVAILABLE), a migration to the best pool that satisfies the new type
 * (ON_DEMAND; the steps of src/gateway/volume-migration.ts, the type set at the switch), or
 * a refusal (AVAILABLE, unchanged, the operation FAILED with the reason and a user message).
 * AVAILABLE volumes only for now; IN_USE volumes will be retyped once attachments exist.
 */
import { randomUUID } from 'node:crypto';
import {
  poolId,
  publish,
  RETYPE_COMMAND,
  RETYPE_KIND as RETYPE_MESSAGE_KIND,
  subjects,
  type MigrationExport,
  type RetypeDecided,
  type ScheduleRetype,
} from '../bus/index.js';
import { raw } from '@mikro-orm/core';
import { casVolume, countSnapshotsOfVolume, findOperation, findVolume, finishOperation, markRunning, migrationCapacity, Volume, type Principal } from '../db/index.js';
import { canSee, requireWriter } from '../domain/access.js';
import { actionTransition, assertCanStart, BadInputError, invalidState, NotFoundError, Problems } from '../domain/index.js';
import type { RetypeVolumeRequest } from '../resolvers/migration-services.js';
import type { VolumeResult } from '../resolvers/index.js';
import { countOperation } from '../metrics/index.js';
import { casRefusal, newOperation } from './mutation-helpers.js';
import { usableVolumeType } from './volume-type-lookup.js';
import { dispatchOrDefer } from './outbox.js';
import { exportCommand, failMigration, RETYPE_KIND, type MigrationRecorderDeps } from './volume-migration.js';
import type { GatewayDeps } from './volume-service.js';

export async function retypeVolume(deps: GatewayDeps, principal: Principal | null, input: RetypeVolumeRequest): Promise<VolumeResult> {
  const p = requireWriter(principal);
  const problems = new Problems();
  if (!input.id) problems.add('id is required');
  if (!input.volumeType) problems.add('volumeType is required: the name of the new volume type');
  if (input.migrationPolicy !== 'never' && input.migrationPolicy !== 'on_demand') problems.add('migrationPolicy must be NEVER or ON_DEMAND');
  problems.throwIfAny();
  const em = deps.db.fork();
  const volume = await findVolume(em, input.id);
  if (!volume || volume.status === 'deleted' || !canSee(p, volume.projectId)) throw new NotFoundError('Volume', input.id);
  // Honours the access granted to the project; a private type without it is NOT_FOUND, as a missing one.
  const type = await usableVolumeType(em, p, input.volumeType);
  if (type.name === volume.volumeType) throw new BadInputError([`volume ${volume.id} is already of type ${type.name}; give another type`]);
  assertCanStart('retype', volume.status, volume.id);
  const t = actionTransition('retype');
  if (!volume.host || !volume.pool) throw invalidState(t, volume.status, volume.id);
  const snapshotCount = await countSnapshotsOfVolume(em, volume.id);
  const operationId = randomUUID();
  const command: ScheduleRetype = {
    operationId,
    volumeId: volume.id,
    projectId: volume.projectId,
    host: volume.host,
    pool: volume.pool,
    sizeGiB: volume.sizeGiB,
    availabilityZone: volume.availabilityZone,
    volumeType: { name: type.name, extraSpecs: type.extraSpecs },
    policy: input.migrationPolicy,
    snapshotCount,
  };
  const result = await em.transactional(async (tx) => {
    const retyping = await casVolume(tx, volume.id, { from: t.from, expectedVersion: input.expectedVersion ?? volume.version }, { status: 'retyping' });
    if (!retyping) {
      throw casRefusal('Volume', volume.id, await findVolume(tx, volume.id), input.expectedVersion, t.from, (s) => invalidState(t, s, volume.id), { versionPinsState: true });
    }
    const operation = newOperation(tx, 'volume', volume.projectId, RETYPE_KIND, volume.id, {
      subject: subjects.scheduler(RETYPE_COMMAND),
      kind: RETYPE_MESSAGE_KIND.schedule,
      payload: command,
      msgId: `${operationId}:${RETYPE_MESSAGE_KIND.schedule}`,
    }, operationId);
    return { volume: retyping, operation };
  });
  deps.log.info({ volumeId: volume.id, from: volume.volumeType, to: type.name, policy: input.migrationPolicy, operationId }, 'volume retype started');
  deps.live.publish('UPDATED', result.volume);
  deps.live.publishOperation(result.operation);
  void dispatchOrDefer(deps.bus, deps.db, result.operation, deps.log);
  return result;
}

class Overtaken extends Error {}

/** Applies the scheduler's retype decision (recorder). */
export async function applyRetypeDecided(d: MigrationRecorderDeps, e: RetypeDecided): Promise<void> {
  const em = d.db.fork();
  const op = await findOperation(em, e.operationId);
  const before = await findVolume(em, e.volumeId);
  if (!op || (op.status !== 'pending' && op.status !== 'running') || !before || before.status !== 'retyping') {
    // Decided after the retype ended (its deadline): the destination's capacity reserved for it goes back.
    if (e.decision === 'migrate' && op && op.status !== 'pending' && op.status !== 'running') await migrationCapacity.releaseMigration(em, e.operationId);
    return;
  }
  const cmd = op.command?.payload as ScheduleRetype;

  if (e.decision === 'refuse') {
    const error = e.error ?? { code: 'NO_VALID_BACKEND', message: `Volume ${e.volumeId} could not be retyped to ${cmd.volumeType.name}.` };
    await failMigration(d, op, before, 'decision', error);
    d.log.info({ volumeId: e.volumeId, to: cmd.volumeType.name, reason: error.message }, 'retype refused; the volume is unchanged');
    return;
  }

  if (e.decision === 'in_place') {
    let volume: Volume | null = null;
    await em
      .transactional(async (tx) => {
        volume = await casVolume(tx, e.volumeId, { from: ['retyping'] }, { status: 'available', volumeType: cmd.volumeType.name });
        // The volume and its operation change together, or neither does (the deadline won).
        if (volume && !(await finishOperation(tx, e.operationId, 'succeeded'))) throw new Overtaken();
      })
      .catch((err: unknown) => {
        if (!(err instanceof Overtaken)) throw err;
        volume = null;
      });
    if (!volume) return;
    countOperation(RETYPE_KIND, 'succeeded');
    d.log.info({ volumeId: e.volumeId, to: cmd.volumeType.name }, 'volume retyped in place');
    d.live.publish('UPDATED', volume);
    const now = await findOperation(d.db.fork(), e.operationId);
    if (now) d.live.publishOperation(now);
    return;
  }

  // A migration: STARTING, then the source is asked to export (a redelivered decision asks again; JetStream drops the copy).
  const dest = e.destination!;
  let volume: Volume | null = null;
  await em.transactional(async (tx) => {
    volume = await casVolume(tx, e.volumeId, { from: ['retyping'], migrationFrom: ['success', 'error'] }, { migrationStatus: 'starting' });
    if (!volume && before.migrationStatus === null) {
      // Never migrated (NULL is in no IN list): the same step from NULL.
      const n = await tx.nativeUpdate(Volume, { id: e.volumeId, status: 'retyping', migrationStatus: null }, { migrationStatus: 'starting', version: raw('version + 1'), updatedAt: new Date() });
      if (n === 1) volume = await findVolume(tx, e.volumeId);
    }
    await markRunning(tx, e.operationId);
  });
  const v = volume ?? (await findVolume(em, e.volumeId));
  if (!v || v.status !== 'retyping' || v.migrationStatus !== 'starting' || !v.host || !v.pool) return;
  const payload: MigrationExport = {
    operationId: e.operationId,
    volumeId: v.id,
    pool: v.pool,
    sizeGiB: v.sizeGiB,
    destination: dest,
    notAfter: (op.deadlineAt ?? new Date(Date.now() + 3600_000)).toISOString(),
  };
  const c = exportCommand(v.host, payload);
  await publish(d.bus, c.subject, c.kind, c.payload, c.msgId);
  d.log.info({ volumeId: v.id, from: poolId(v.host, v.pool), to: poolId(dest.host, dest.pool), type: cmd.volumeType.name }, 'retype needs a migration; started');
  if (volume) d.live.publish('UPDATED', volume);
  const now = await findOperation(d.db.fork(), e.operationId);
  if (now) d.live.publishOperation(now);
}
