/**
 * Idempotency keys (issue 16) against real databases (a SQLite file and PostgreSQL), with the
 * mutation kernel's recording deps: a key expires after FLINT_IDEMPOTENCY_TTL_SECONDS and then
 * makes one new resource, however many creates race for it; a key whose resource was deleted
 * is a CONFLICT that names it, not the dead resource. The changes of existing resources
 * (update, extend, retype, migrate, updateSnapshot) keep their keys on the operation they record:
 * a retry answers with that operation even after it finished, racing retries record one, other
 * parameters are a CONFLICT naming the operation, and an expired key records a new one.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { KIND, type Bus, type PoolStats } from '../../src/bus/index.js';
import { createLogger } from '../../src/config/index.js';
import { Attachment, findVolume, Operation, Snapshot, Volume, VolumeType, type Db, type Principal } from '../../src/db/index.js';
import { FlintError } from '../../src/domain/index.js';
import { SecretBox } from '../../src/domain/secret-box.js';
import type { GatewayDeps } from '../../src/gateway/deps.js';
import { AttachmentMutations } from '../../src/gateway/mutations/attachment.js';
import { SnapshotMutations } from '../../src/gateway/mutations/snapshot.js';
import { VolumeMutations } from '../../src/gateway/mutations/volume.js';
import { MigrationMutations } from '../../src/gateway/mutations/volume-migration.js';
import type { BackupLive } from '../../src/gateway/live/backup.js';
import type { LiveHub } from '../../src/gateway/live/hub.js';
import { OUTCOMES, type OutcomeContext } from '../../src/gateway/outcomes/registry.js';
import { BACKENDS, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { recordingDeps } from '../helpers/recording-deps.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-idemkeys-');
});
test.after.always(async () => {
  await dbs?.close();
});

const member = (projectId = randomUUID()): Principal => ({ tokenId: randomUUID(), projectId, projectName: 'p', role: 'member' });
const DAY_MS = 86_400_000;

/** Recording deps whose keys live `ttlSeconds`. */
function depsWithTtl(db: Db, ttlSeconds?: number): GatewayDeps {
  const { deps } = recordingDeps(db);
  return ttlSeconds === undefined ? deps : { ...deps, config: { ...deps.config, idempotencyTtlSeconds: ttlSeconds } };
}

async function backdate(db: Db, entity: typeof Volume | typeof Snapshot, id: string, ms: number): Promise<void> {
  await db.fork().nativeUpdate(entity, { id }, { createdAt: new Date(Date.now() - ms) });
}

const volumesOf = (db: Db, projectId: string) => db.fork().find(Volume, { projectId }, { disableIdentityMap: true, orderBy: { createdAt: 'asc' } });

for (const backend of BACKENDS as readonly Backend[]) {
  const db = () => dbs.get(backend);

  test(`a key older than a day (the default) makes a new volume, and the old one gives its key up (${backend})`, async (t) => {
    const volumes = new VolumeMutations(depsWithTtl(db()));
    const p = member();
    const input = { name: 'v', sizeGiB: 1, idempotencyKey: 'nightly' };
    const first = await volumes.create(p, input);
    await backdate(db(), Volume, first.volume.id, DAY_MS - 60_000);
    t.is((await volumes.create(p, input)).volume.id, first.volume.id, 'within the day the key still answers');
    await backdate(db(), Volume, first.volume.id, DAY_MS + 1_000);
    const second = await volumes.create(p, input);
    t.not(second.volume.id, first.volume.id);
    t.not(second.operation.id, first.operation.id);
    const rows = await volumesOf(db(), p.projectId);
    t.deepEqual(
      rows.map((v) => [v.id, v.idempotencyKey]),
      [
        [first.volume.id, null],
        [second.volume.id, 'nightly'],
      ],
    );
    t.is((await volumes.create(p, input)).volume.id, second.volume.id, 'the key now answers with the new volume');
  });

  test(`the time to live is the gateway's FLINT_IDEMPOTENCY_TTL_SECONDS (${backend})`, async (t) => {
    const volumes = new VolumeMutations(depsWithTtl(db(), 3600));
    const p = member();
    const input = { name: 'v', sizeGiB: 1, idempotencyKey: 'hourly' };
    const first = await volumes.create(p, input);
    await backdate(db(), Volume, first.volume.id, 3_570_000);
    t.is((await volumes.create(p, input)).volume.id, first.volume.id);
    await backdate(db(), Volume, first.volume.id, 3_601_000);
    t.not((await volumes.create(p, input)).volume.id, first.volume.id);
  });

  test(`creates racing with an expired key make exactly one new volume, and all of them answer with it (${backend})`, async (t) => {
    const volumes = new VolumeMutations(depsWithTtl(db(), 60));
    const p = member();
    const input = { name: 'race', sizeGiB: 1, idempotencyKey: 'expired' };
    const first = await volumes.create(p, input);
    await backdate(db(), Volume, first.volume.id, 61_000);
    const results = await Promise.all(Array.from({ length: 6 }, () => volumes.create(p, input)));
    const ids = new Set(results.map((r) => r.volume.id));
    t.is(ids.size, 1, 'one new volume');
    t.false(ids.has(first.volume.id));
    t.is(new Set(results.map((r) => r.operation.id)).size, 1);
    const rows = await volumesOf(db(), p.projectId);
    t.is(rows.length, 2);
    t.deepEqual(
      rows.map((v) => v.idempotencyKey),
      [null, 'expired'],
    );
  });

  for (const status of ['deleted', 'deleting'] as const) {
    test(`a key whose volume is ${status.toUpperCase()} is a CONFLICT naming the volume, not the dead volume (${backend})`, async (t) => {
      const volumes = new VolumeMutations(depsWithTtl(db()));
      const p = member();
      const input = { name: 'gone', sizeGiB: 1, idempotencyKey: `gone-${status}` };
      const first = await volumes.create(p, input);
      await db().fork().nativeUpdate(Volume, { id: first.volume.id }, { status });
      const err = await t.throwsAsync(volumes.create(p, input), { instanceOf: FlintError });
      t.is(err!.code, 'CONFLICT');
      t.is(err!.message, `idempotencyKey "gone-${status}" was used for volume ${first.volume.id}, which has been deleted; use a new key to create another.`);
      t.deepEqual(err!.details, { volumeId: first.volume.id });
      t.is((await volumesOf(db(), p.projectId)).length, 1, 'no second volume');
    });
  }

  test(`a deleted volume's key that has expired makes a new volume (${backend})`, async (t) => {
    const volumes = new VolumeMutations(depsWithTtl(db()));
    const p = member();
    const input = { name: 'again', sizeGiB: 1, idempotencyKey: 'reborn' };
    const first = await volumes.create(p, input);
    await db().fork().nativeUpdate(Volume, { id: first.volume.id }, { status: 'deleted', createdAt: new Date(Date.now() - DAY_MS - 1_000) });
    const second = await volumes.create(p, input);
    t.not(second.volume.id, first.volume.id);
    t.is(second.volume.idempotencyKey, 'reborn');
  });

  test(`a key whose snapshot was deleted is a CONFLICT naming the snapshot; an expired one makes a new snapshot (${backend})`, async (t) => {
    const d = depsWithTtl(db());
    const p = member();
    const { volume } = await new VolumeMutations(d).create(p, { name: 'base', sizeGiB: 1 });
    await db().fork().nativeUpdate(Volume, { id: volume.id }, { status: 'available', host: 'h1', pool: 'p1' });
    const snapshots = new SnapshotMutations(d);
    const input = { volumeId: volume.id, name: 's', idempotencyKey: 'snap-1' };
    const first = await snapshots.create(p, input);
    t.is((await snapshots.create(p, input)).snapshot.id, first.snapshot.id);
    await db().fork().nativeUpdate(Snapshot, { id: first.snapshot.id }, { status: 'deleted' });
    const err = await t.throwsAsync(snapshots.create(p, input), { instanceOf: FlintError });
    t.is(err!.code, 'CONFLICT');
    t.regex(err!.message, new RegExp(`^idempotencyKey "snap-1" was used for snapshot ${first.snapshot.id}, which has been deleted; use a new key to create another\\.$`));
    t.deepEqual(err!.details, { snapshotId: first.snapshot.id });
    await backdate(db(), Snapshot, first.snapshot.id, DAY_MS + 1_000);
    const second = await snapshots.create(p, input);
    t.not(second.snapshot.id, first.snapshot.id);
    t.is(second.snapshot.idempotencyKey, 'snap-1');
  });

  test(`a key whose attachment is DETACHED is a CONFLICT that says so (${backend})`, async (t) => {
    const d = depsWithTtl(db());
    const p = member();
    const { volume } = await new VolumeMutations(d).create(p, { name: 'disk', sizeGiB: 1 });
    await db().fork().nativeUpdate(Volume, { id: volume.id }, { status: 'available', host: 'h1', pool: 'p1' });
    const id = randomUUID();
    const em = db().fork();
    em.create(Attachment, { id, projectId: p.projectId, volumeId: volume.id, instanceId: 'vm-1', status: 'detached', mode: 'rw', targetKind: 'iscsi', idempotencyKey: 'vm-1-disk', requestHash: 'h' });
    await em.flush();
    // The replay answers before the target is chosen: no pools or services are needed to get there.
    const attachments = new AttachmentMutations({ ...d, pools: { list: () => [] }, services: () => [] }, new SecretBox(new Uint8Array(32), 'test'));
    const err = await t.throwsAsync(attachments.create(p, { volumeId: volume.id, instanceId: 'vm-1', idempotencyKey: 'vm-1-disk' }), { instanceOf: FlintError });
    t.is(err!.code, 'CONFLICT');
    t.is(err!.message, `idempotencyKey "vm-1-disk" was used for attachment ${id}, which has been detached; use a new key to create another.`);
    t.deepEqual(err!.details, { attachmentId: id });
  });

  test(`a key with other parameters is still a CONFLICT, with the volume's id (${backend})`, async (t) => {
    const volumes = new VolumeMutations(depsWithTtl(db()));
    const p = member();
    const first = await volumes.create(p, { name: 'v', sizeGiB: 1, idempotencyKey: 'k' });
    const err = await t.throwsAsync(volumes.create(p, { name: 'v', sizeGiB: 2, idempotencyKey: 'k' }), { instanceOf: FlintError });
    t.is(err!.code, 'CONFLICT');
    t.regex(err!.message, /with other parameters/);
    t.deepEqual(err!.details, { volumeId: first.volume.id });
  });
}

/** Changes of existing resources with keys: recording deps, the recorder's handlers applied directly. */
function changes(db: Db, ttlSeconds?: number) {
  const { deps, rec } = recordingDeps(db);
  const d: GatewayDeps = ttlSeconds === undefined ? deps : { ...deps, config: { ...deps.config, idempotencyTtlSeconds: ttlSeconds } };
  const ctx: OutcomeContext = { db, bus: d.bus as Bus, live: d.live as unknown as LiveHub, backupLive: {} as BackupLive, log: createLogger('t', 'silent') };
  const apply = async (kind: string, payload: unknown) => {
    const handler = OUTCOMES.get(kind)!;
    await handler.apply(ctx, handler.payload.parse(payload));
  };
  const pools: PoolStats[] = [];
  return { deps: d, rec, apply, pools, volumes: new VolumeMutations(d), snapshots: new SnapshotMutations(d), migration: new MigrationMutations({ ...d, pools: { list: () => pools } }) };
}

/** A pool that reports heartbeats and has room. */
const upPool = (host: string, pool: string): PoolStats => ({
  host,
  pool,
  driver: 'file',
  availabilityZone: 'nova',
  totalCapacityGiB: 100,
  freeCapacityGiB: 100,
  provisionedCapacityGiB: 0,
  volumeCount: 0,
  maxOverSubscriptionRatio: 1,
  reservedPercentage: 0,
  thinProvisioningSupport: true,
  thickProvisioningSupport: true,
  imageFormat: 'raw',
  capabilities: {},
  updatedAt: new Date().toISOString(),
});

const operationsOf = (db: Db, resourceId: string, kind: Operation['kind']) =>
  db.fork().find(Operation, { resourceId, kind }, { disableIdentityMap: true, orderBy: { createdAt: 'asc' } });

for (const backend of BACKENDS as readonly Backend[]) {
  const db = () => dbs.get(backend);

  /** A volume the agent created on h1/p1. */
  async function available(s: ReturnType<typeof changes>, p: Principal, name = 'v'): Promise<Volume> {
    const { volume, operation } = await s.volumes.create(p, { name, sizeGiB: 1 });
    await s.apply(KIND.volumeOutcome, { operationId: operation.id, volumeId: volume.id, outcome: 'create.succeeded', host: 'h1', pool: 'p1' });
    return (await findVolume(db().fork(), volume.id))!;
  }

  const codeOf = (err: unknown) => (err as FlintError).code;

  test(`a keyed extend retried after it succeeded answers with its operation and the volume as it is now; nothing is sent again (${backend})`, async (t) => {
    const s = changes(db());
    const p = member();
    const v = await available(s, p);
    const input = { id: v.id, newSizeGiB: 3, idempotencyKey: 'grow-3' };
    const first = await s.volumes.extend(p, input);
    t.is(first.volume.status, 'extending');
    const sent = s.rec.published.length;
    // While it runs, and after it succeeded.
    t.is((await s.volumes.extend(p, input)).operation?.id, first.operation!.id);
    await s.apply(KIND.volumeOutcome, { operationId: first.operation!.id, volumeId: v.id, outcome: 'extend.succeeded', host: 'h1', pool: 'p1', sizeGiB: 3 });
    const again = await s.volumes.extend(p, input);
    t.deepEqual({ id: again.operation?.id, status: again.operation?.status }, { id: first.operation!.id, status: 'succeeded' }, 'the original operation, as it is now');
    t.deepEqual({ status: again.volume.status, sizeGiB: again.volume.sizeGiB }, { status: 'available', sizeGiB: 3 }, 'the volume as it is now');
    // With the same expectedVersion as the first try, now stale: the key still answers.
    t.is((await s.volumes.extend(p, { ...input, expectedVersion: v.version })).operation?.id, first.operation!.id);
    t.is(s.rec.published.length, sent, 'no second command');
    t.is((await operationsOf(db(), v.id, 'extend_volume')).length, 1);
    // Without the key, the same request is "nothing to do", as before.
    t.is((await s.volumes.extend(p, { id: v.id, newSizeGiB: 3 })).operation, null);
  });

  test(`a keyed update and a keyed retype repeated answer with their operation and record one row each (${backend})`, async (t) => {
    const s = changes(db());
    const p = member();
    const v = await available(s, p);
    const upd = { id: v.id, name: 'renamed', metadata: { a: '1', b: '2' }, idempotencyKey: 'rename-1' };
    const first = await s.volumes.update(p, upd);
    t.is(first.operation?.status, 'succeeded');
    // The metadata's keys in another order are the same request.
    const again = await s.volumes.update(p, { ...upd, metadata: { b: '2', a: '1' } });
    t.is(again.operation?.id, first.operation!.id);
    t.is(again.volume.version, first.volume.version, 'not changed again');
    t.is((await operationsOf(db(), v.id, 'update_volume')).length, 1);

    const typeName = `gold-${randomUUID().slice(0, 8)}`;
    const em = db().fork();
    await em.insert(VolumeType, em.create(VolumeType, { id: randomUUID(), name: typeName }));
    const retype = { id: v.id, volumeType: typeName, migrationPolicy: 'never' as const, idempotencyKey: 'retype-1' };
    const started = await s.migration.retype(p, retype);
    t.is(started.volume.status, 'retyping');
    t.is((await s.migration.retype(p, retype)).operation?.id, started.operation!.id);
    // The scheduler retyped it in place.
    await db().fork().nativeUpdate(Volume, { id: v.id }, { status: 'available', volumeType: typeName, pendingVolumeType: null });
    await db().fork().nativeUpdate(Operation, { id: started.operation!.id }, { status: 'succeeded', finishedAt: new Date() });
    const after = await s.migration.retype(p, retype);
    t.deepEqual({ id: after.operation?.id, status: after.operation?.status, type: after.volume.volumeType }, { id: started.operation!.id, status: 'succeeded', type: typeName });
    t.is((await operationsOf(db(), v.id, 'retype_volume')).length, 1);

    const snap = await s.snapshots.create(p, { volumeId: v.id, name: 's' });
    await db().fork().nativeUpdate(Snapshot, { id: snap.snapshot.id }, { status: 'available' });
    const rename = { id: snap.snapshot.id, name: 's2', idempotencyKey: 'snap-rename' };
    const r1 = await s.snapshots.update(p, rename);
    const r2 = await s.snapshots.update(p, rename);
    t.truthy(r1.operation);
    t.is(r2.operation?.id, r1.operation!.id);
    t.is((await operationsOf(db(), snap.snapshot.id, 'update_snapshot')).length, 1);
  });

  test(`a key sent with other parameters, for another volume or another mutation is a CONFLICT naming the operation (${backend})`, async (t) => {
    const s = changes(db());
    const p = member();
    const v = await available(s, p, 'a');
    const w = await available(s, p, 'b');
    const first = await s.volumes.extend(p, { id: v.id, newSizeGiB: 2, idempotencyKey: 'k1' });
    const tries = [
      s.volumes.extend(p, { id: v.id, newSizeGiB: 4, idempotencyKey: 'k1' }),
      s.volumes.extend(p, { id: w.id, newSizeGiB: 2, idempotencyKey: 'k1' }),
      s.volumes.update(p, { id: v.id, name: 'x', idempotencyKey: 'k1' }),
    ];
    for (const attempt of tries) {
      const err = await t.throwsAsync(attempt, { instanceOf: FlintError });
      t.is(err!.code, 'CONFLICT');
      t.regex(err!.message, /^idempotencyKey "k1" was already used .*\(operation [0-9a-f-]{36}\); use a new key for a different request\.$/);
      t.deepEqual(err!.details, { operationId: first.operation!.id });
    }
    t.regex(((await t.throwsAsync(tries[0]!)) as FlintError).message, /with other parameters/);
    t.is((await operationsOf(db(), w.id, 'extend_volume')).length, 0);
    // Another project's key of the same name is its own.
    const q = member();
    const x = await available(s, q, 'c');
    t.truthy((await s.volumes.extend(q, { id: x.id, newSizeGiB: 2, idempotencyKey: 'k1' })).operation);
  });

  test(`racing identical keyed extends and updates record one operation, and every request answers with it (${backend})`, async (t) => {
    const s = changes(db());
    const p = member();
    const v = await available(s, p);
    const extends_ = await Promise.allSettled(Array.from({ length: 6 }, () => s.volumes.extend(p, { id: v.id, newSizeGiB: 5, idempotencyKey: 'race-extend' })));
    t.deepEqual(extends_.filter((r) => r.status === 'rejected').map((r) => codeOf((r as PromiseRejectedResult).reason)), []);
    const ops = await operationsOf(db(), v.id, 'extend_volume');
    t.is(ops.length, 1);
    t.deepEqual(new Set(extends_.map((r) => (r as PromiseFulfilledResult<{ operation: { id: string } | null }>).value.operation?.id)), new Set([ops[0]!.id]));

    const w = await available(s, p, 'w');
    const updates = await Promise.allSettled(Array.from({ length: 6 }, () => s.volumes.update(p, { id: w.id, description: 'same', idempotencyKey: 'race-update' })));
    t.deepEqual(updates.filter((r) => r.status === 'rejected').map((r) => codeOf((r as PromiseRejectedResult).reason)), []);
    const updOps = await operationsOf(db(), w.id, 'update_volume');
    t.is(updOps.length, 1);
    t.deepEqual(new Set(updates.map((r) => (r as PromiseFulfilledResult<{ operation: { id: string } | null }>).value.operation?.id)), new Set([updOps[0]!.id]));
  });

  test(`an expired key records a new operation, and the old one gives its key up; a no-op records no key (${backend})`, async (t) => {
    const s = changes(db(), 60);
    const p = member();
    const v = await available(s, p);
    // Nothing to do (the name it has): no operation, and the key stays free.
    const noop = await s.volumes.update(p, { id: v.id, name: v.name, idempotencyKey: 'nightly' });
    t.is(noop.operation, null);
    t.is(await db().fork().count(Operation, { projectId: p.projectId, idempotencyKey: 'nightly' }), 0);
    const first = await s.volumes.update(p, { id: v.id, name: 'n1', idempotencyKey: 'nightly' });
    t.truthy(first.operation);
    await db().fork().nativeUpdate(Operation, { id: first.operation!.id }, { createdAt: new Date(Date.now() - 30_000) });
    t.is((await s.volumes.update(p, { id: v.id, name: 'n1', idempotencyKey: 'nightly' })).operation?.id, first.operation!.id, 'within the time to live');
    await db().fork().nativeUpdate(Operation, { id: first.operation!.id }, { createdAt: new Date(Date.now() - 61_000) });
    // Expired: free for any request, here another name; racing ones record one.
    const results = await Promise.all(Array.from({ length: 4 }, () => s.volumes.update(p, { id: v.id, name: 'n2', idempotencyKey: 'nightly' })));
    const ids = new Set(results.map((r) => r.operation?.id));
    t.is(ids.size, 1);
    t.false(ids.has(first.operation!.id));
    const rows = await operationsOf(db(), v.id, 'update_volume');
    t.deepEqual(
      rows.map((o) => [o.id, o.idempotencyKey]),
      [
        [first.operation!.id, null],
        [[...ids][0], 'nightly'],
      ],
    );
  });

  test(`a keyed migrate retried after it ended answers with its operation instead of "already on that pool" (${backend})`, async (t) => {
    const s = changes(db());
    s.pools.push(upPool('h1', 'p1'), upPool('h2', 'p2'));
    const p = member();
    const v = await available(s, p);
    const admin: Principal = { ...member(), role: 'admin', projectId: p.projectId };
    const input = { id: v.id, host: 'h2', pool: 'p2', idempotencyKey: 'move-1' };
    const first = await s.migration.migrate(admin, input);
    t.is(first.volume.status, 'maintenance');
    // The switch: on the new pool, AVAILABLE.
    await db().fork().nativeUpdate(Volume, { id: v.id }, { status: 'available', host: 'h2', pool: 'p2', migrationStatus: 'success' });
    await db().fork().nativeUpdate(Operation, { id: first.operation.id }, { status: 'succeeded', finishedAt: new Date() });
    const again = await s.migration.migrate(admin, input);
    t.deepEqual({ id: again.operation.id, host: again.volume.host }, { id: first.operation.id, host: 'h2' });
    // Without the key it is refused, as before.
    t.is(codeOf(await t.throwsAsync(s.migration.migrate(admin, { id: v.id, host: 'h2', pool: 'p2' }))), 'BAD_USER_INPUT');
    t.is((await operationsOf(db(), v.id, 'migrate_volume')).length, 1);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
