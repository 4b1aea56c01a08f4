/**
 * The scheduler's retype decision, applied by the recorder (the mutation that asks for it is
 * src/gateway/mutations/volume-retype.ts): in place, a migration to another pool (the steps of
 * migration-steps.ts), or a refusal.
 */
import { poolId, publish, type MigrationExport, type RetypeDecided, type ScheduleRetype } from '../../bus/index.js';
import { raw } from '@mikro-orm/core';
import { commitUnlessOvertaken, Overtaken, casVolume, findOperation, findVolume, finishOperation, markRunning, migrationCapacity, Volume } from '../../db/index.js';
import { countOperation } from '../../metrics/index.js';
import { exportCommand } from '../mutations/volume-migration.js';
import { failMigration, type MigrationRecorderDeps } from './migration-steps.js';

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
    const committed = await commitUnlessOvertaken(em, async (tx) => {
      volume = await casVolume(tx, e.volumeId, { from: ['retyping'] }, { status: 'available', volumeType: cmd.volumeType.name });
      // The volume and its operation change together, or neither does (the deadline won).
      if (volume && !(await finishOperation(tx, e.operationId, 'succeeded'))) throw new Overtaken();
    });
    if (!committed) volume = null;
    if (!volume) return;
    countOperation('retype_volume', 'succeeded');
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
