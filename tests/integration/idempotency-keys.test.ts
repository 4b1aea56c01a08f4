/**
 * Idempotency keys (issue 16) against real databases (a SQLite file and PostgreSQL), with the
 * mutation kernel's recording deps: a key expires after FLINT_IDEMPOTENCY_TTL_SECONDS and then
 * makes one new resource, however many creates race for it; a key whose resource was deleted
 * is a CONFLICT that names it, not the dead resource.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { Attachment, Snapshot, Volume, type Db, type Principal } from '../../src/db/index.js';
import { FlintError } from '../../src/domain/index.js';
import { SecretBox } from '../../src/domain/secret-box.js';
import type { GatewayDeps } from '../../src/gateway/deps.js';
import { AttachmentMutations } from '../../src/gateway/mutations/attachment.js';
import { SnapshotMutations } from '../../src/gateway/mutations/snapshot.js';
import { VolumeMutations } from '../../src/gateway/mutations/volume.js';
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
    await backdate(db(), Volume, first.volume.id, 3_599_000);
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

test.after.always('no process is left behind', noProcessesLeft);
