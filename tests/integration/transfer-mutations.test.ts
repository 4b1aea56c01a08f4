/**
 * Volume transfers (src/gateway/mutations/transfer.ts, ../sweepers/transfer-expiry.ts) on
 * both databases, without NATS: the key shown once and stored hashed, one answer for a
 * wrong key and a missing transfer, the volume and its snapshots moved with their usage,
 * the receiver's quota checked, cancel (again: done already), expiry, and two receivers racing for one transfer.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/config/index.js';
import { holdingsOfProject, Project, Snapshot, Volume, VolumeTransfer, type Db, type Principal } from '../../src/db/index.js';
import { FlintError } from '../../src/domain/index.js';
import { QuotaMutations } from '../../src/gateway/mutations/quota.js';
import { TransferMutations } from '../../src/gateway/mutations/transfer.js';
import { VolumeMutations } from '../../src/gateway/mutations/volume.js';
import { expireTransfers } from '../../src/gateway/sweepers/transfer-expiry.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { BACKENDS, openDatabases, type Databases } from '../helpers/databases.js';
import { recordingDeps } from '../helpers/recording-deps.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-transfers-');
});
test.after.always(async () => {
  await dbs?.close();
});

const admin: Principal = { tokenId: randomUUID(), projectId: randomUUID(), projectName: 'admin', role: 'admin' };

async function member(db: Db): Promise<Principal> {
  const em = db.fork();
  const id = randomUUID();
  await em.insert(Project, em.create(Project, { id, name: `t-${id.slice(0, 8)}` }));
  return { tokenId: randomUUID(), projectId: id, projectName: `t-${id.slice(0, 8)}`, role: 'member' };
}

async function refusal(t: { throwsAsync: (p: Promise<unknown>) => Promise<unknown> }, p: Promise<unknown>): Promise<FlintError> {
  return (await t.throwsAsync(p)) as FlintError;
}

for (const backend of BACKENDS) {
  const setup = () => {
    const db = dbs.get(backend);
    const { deps, rec } = recordingDeps(db);
    const withDefaults = { ...deps, config: loadConfig({ FLINT_TRANSFER_EXPIRY_SECONDS: '60' }) };
    return { db, rec, volumes: new VolumeMutations(deps), transfers: new TransferMutations(withDefaults), quotas: new QuotaMutations(withDefaults) };
  };

  /** An AVAILABLE volume of `p` with one AVAILABLE snapshot. */
  async function volumeWithSnapshot(db: Db, volumes: VolumeMutations, p: Principal, sizeGiB = 2): Promise<string> {
    const { volume } = await volumes.create(p, { name: 'gift', sizeGiB });
    const em = db.fork();
    await em.nativeUpdate(Volume, { id: volume.id }, { status: 'available', host: 'h', pool: 'p' });
    await em.insert(Snapshot, em.create(Snapshot, { id: randomUUID(), projectId: p.projectId, volumeId: volume.id, name: 's', sizeGiB, status: 'available' }));
    return volume.id;
  }

  test(`${backend}: a transfer moves the volume, its snapshots and their usage to the receiver; the key is shown once and kept hashed`, async (t) => {
    const { db, rec, volumes, transfers } = setup();
    const giver = await member(db);
    const receiver = await member(db);
    const id = await volumeWithSnapshot(db, volumes, giver);
    const made = await transfers.create(giver, { volumeId: id, name: 'to ops' });
    t.regex(made.authKey, /^[0-9a-f]{32}$/);
    t.is(made.volume.status, 'awaiting_transfer');
    const row = await db.fork().findOneOrFail(VolumeTransfer, { id: made.transfer.id });
    t.not(row.authKeyHash, made.authKey);
    t.false(JSON.stringify(row).includes(made.authKey));
    // Nothing else may happen to it meanwhile.
    const del = await refusal(t, volumes.delete(giver, { id }));
    t.is(del.code, 'INVALID_STATE');
    t.regex(del.message, /AWAITING_TRANSFER.*cancel the transfer \(deleteVolumeTransfer\)/);
    // A wrong key and a missing transfer: one answer.
    const wrong = await refusal(t, transfers.accept(receiver, { transferId: made.transfer.id, authKey: 'f'.repeat(32) }));
    const missing = await refusal(t, transfers.accept(receiver, { transferId: randomUUID(), authKey: made.authKey }));
    t.is(wrong.code, 'NOT_FOUND');
    t.is(missing.code, 'NOT_FOUND');
    t.is(wrong.message.replace(made.transfer.id, 'X'), missing.message.replace(/[0-9a-f-]{36}/, 'X'));
    t.is((await refusal(t, transfers.accept(giver, { transferId: made.transfer.id, authKey: made.authKey }))).code, 'BAD_USER_INPUT');

    const before = rec.live.length;
    const accepted = await transfers.accept(receiver, { transferId: made.transfer.id, authKey: made.authKey });
    t.is(accepted.volume.projectId, receiver.projectId);
    t.is(accepted.volume.status, 'available');
    t.is(accepted.transfer.status, 'accepted');
    t.is(accepted.transfer.acceptedProjectId, receiver.projectId);
    const snaps = await db.fork().find(Snapshot, { volumeId: id });
    t.deepEqual(snaps.map((s) => s.projectId), [receiver.projectId]);
    t.deepEqual(rec.live.slice(before).map((l) => l.what), ['moved volume', 'moved snapshot']);
    const gave = await holdingsOfProject(db.fork(), giver.projectId);
    const got = await holdingsOfProject(db.fork(), receiver.projectId);
    t.deepEqual(gave.get('gigabytes'), { inUse: 0, reserved: 0 });
    t.deepEqual(got.get('gigabytes'), { inUse: 4, reserved: 0 });
    t.deepEqual(got.get('snapshots'), { inUse: 1, reserved: 0 });
    // Accepted once: a second accept finds nothing.
    t.is((await refusal(t, transfers.accept(receiver, { transferId: made.transfer.id, authKey: made.authKey }))).code, 'NOT_FOUND');
  });

  test(`${backend}: the receiver's quota is checked: over it, nothing moves and the transfer stays pending`, async (t) => {
    const { db, volumes, transfers, quotas } = setup();
    const giver = await member(db);
    const receiver = await member(db);
    await quotas.updateQuotaSet(admin, { projectId: receiver.projectId, gigabytes: 3 });
    const id = await volumeWithSnapshot(db, volumes, giver);
    const made = await transfers.create(giver, { volumeId: id });
    const e = await refusal(t, transfers.accept(receiver, { transferId: made.transfer.id, authKey: made.authKey }));
    t.is(e.code, 'QUOTA_EXCEEDED');
    t.like(e.details, { projectId: receiver.projectId, resource: 'gigabytes', requested: 4, inUse: 0, reserved: 0, limit: 3 });
    t.is((await db.fork().findOneOrFail(Volume, { id })).projectId, giver.projectId);
    t.is((await db.fork().findOneOrFail(VolumeTransfer, { id: made.transfer.id })).status, 'pending');
    t.deepEqual((await holdingsOfProject(db.fork(), giver.projectId)).get('gigabytes'), { inUse: 4, reserved: 0 });
  });

  test(`${backend}: cancel gives the volume back; list shows only pending transfers of the caller's project; expiry ends the rest`, async (t) => {
    const { db, volumes, transfers } = setup();
    const giver = await member(db);
    const other = await member(db);
    const a = await transfers.create(giver, { volumeId: await volumeWithSnapshot(db, volumes, giver) });
    const b = await transfers.create(giver, { volumeId: await volumeWithSnapshot(db, volumes, giver) });
    t.deepEqual((await transfers.list(giver, {})).rows.map((r) => r.id).sort(), [a.transfer.id, b.transfer.id].sort());
    t.is((await transfers.list(other, {})).rows.length, 0);
    t.is((await refusal(t, transfers.delete(other, { id: a.transfer.id }))).code, 'NOT_FOUND');
    const cancelled = await transfers.delete(giver, { id: a.transfer.id });
    t.is(cancelled.transfer.status, 'cancelled');
    t.is(cancelled.volume?.status, 'available');
    t.false(cancelled.alreadyDeleted);
    // Cancelling again is done already (idempotent), and changes nothing.
    const again = await transfers.delete(giver, { id: a.transfer.id });
    t.deepEqual({ status: again.transfer.status, alreadyDeleted: again.alreadyDeleted, volume: again.volume }, { status: 'cancelled', alreadyDeleted: true, volume: null });
    t.is((await refusal(t, transfers.delete(other, { id: a.transfer.id }))).code, 'NOT_FOUND');
    // Past its expiry: no longer accepted, and the sweep ends it.
    await db.fork().nativeUpdate(VolumeTransfer, { id: b.transfer.id }, { expiresAt: new Date(Date.now() - 1000) });
    t.is((await refusal(t, transfers.accept(other, { transferId: b.transfer.id, authKey: b.authKey }))).code, 'NOT_FOUND');
    const live = recordingDeps(db).deps.live;
    t.true((await expireTransfers(db, live, createLogger('t', 'silent'))) >= 1);
    t.is((await db.fork().findOneOrFail(VolumeTransfer, { id: b.transfer.id })).status, 'expired');
    t.is((await db.fork().findOneOrFail(Volume, { id: b.volume.id })).status, 'available');
    t.is((await transfers.list(giver, {})).rows.length, 0);
    t.true((await transfers.delete(giver, { id: b.transfer.id })).alreadyDeleted, 'an expired transfer is gone already too');
  });

  test(`${backend}: two projects accepting one transfer at once: exactly one gets it`, async (t) => {
    const { db, volumes, transfers } = setup();
    const giver = await member(db);
    const [r1, r2] = [await member(db), await member(db)];
    const made = await transfers.create(giver, { volumeId: await volumeWithSnapshot(db, volumes, giver) });
    const results = await Promise.allSettled([r1, r2].map((r) => transfers.accept(r, { transferId: made.transfer.id, authKey: made.authKey })));
    t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
    t.is(((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as FlintError).code, 'NOT_FOUND');
    const owner = (await db.fork().findOneOrFail(Volume, { id: made.volume.id })).projectId;
    t.true(owner === r1.projectId || owner === r2.projectId);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
