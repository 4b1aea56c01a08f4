/**
 * The ORM-free reads of volumes (src/db/volume-rows.ts, prepared.ts: by id, and a page's raw
 * rows) give the view the ORM gives, field for field, on SQLite and PostgreSQL: nulls and
 * values, metadata, an encrypted volume (the key never leaves a read by id), a migration, the
 * change feed's seq, timestamps to the millisecond. And they see what the ORM commits, on the
 * same pool.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { casVolume, findVolume, findVolumeView, listVolumes, toVolumeView, Volume, VOLUME_BY_ID } from '../../src/db/index.js';
import { BACKENDS, insertProject, openDatabases, type Databases } from '../helpers/databases.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-volume-rows-');
});
test.after.always(async () => {
  await dbs?.close();
});

for (const kind of BACKENDS) {
  test(`${kind}: the prepared read gives the ORM's view of every kind of volume, and none for a missing id`, async (t) => {
    const db = dbs.get(kind);
    const projectId = await insertProject(db);
    const em = db.fork();
    const plain = em.create(Volume, { id: randomUUID(), projectId, name: 'plain', sizeGiB: 1, status: 'creating', availabilityZone: 'az1' });
    const full = em.create(Volume, {
      id: randomUUID(),
      projectId,
      name: 'full ✓',
      description: 'a "quoted" description',
      sizeGiB: 7,
      status: 'available',
      availabilityZone: 'az2',
      volumeType: 'fast',
      metadata: { app: 'pg', 'flint.stack': 'web' },
      host: 'node-1',
      pool: 'p1',
      idempotencyKey: 'key-1',
      snapshotId: randomUUID(),
      sourceVolumeId: randomUUID(),
      migrationStatus: 'success',
      multiattach: true,
      encryptionKey: 'sealed-key',
      createdAt: new Date('2026-01-02T03:04:05.678Z'),
    });
    await em.flush();
    // A later change: version, generation, updatedAt and the change feed's seq move.
    const moved = await casVolume(db.fork(), full.id, { from: ['available'] }, { name: 'renamed', metadata: { app: 'pg2' } });
    t.truthy(moved);
    for (const id of [plain.id, full.id]) {
      const viaOrm = toVolumeView((await findVolume(db.fork(), id))!);
      const viaStatement = await findVolumeView(db, id);
      t.deepEqual(viaStatement, viaOrm, id === plain.id ? 'plain' : 'full');
    }
    const view = (await findVolumeView(db, full.id))!;
    t.is(view.name, 'renamed');
    t.true(view.encrypted);
    t.true((view.changeSeq ?? 0) > 0);
    t.false(JSON.stringify(view).includes('sealed-key'), 'the sealed key is never read');
    t.is(view.createdAt, '2026-01-02T03:04:05.678Z');
    t.is(await findVolumeView(db, randomUUID()), null);
    // A page reads whole rows without the ORM's entities: the same views.
    const page = await listVolumes(db, { first: 10, projectId, filter: {} });
    t.deepEqual(page.rows, [toVolumeView((await findVolume(db.fork(), plain.id))!), toVolumeView((await findVolume(db.fork(), full.id))!)].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)));
  });

  test(`${kind}: the read sees what the ORM committed since, and serves many requests at once`, async (t) => {
    const db = dbs.get(kind);
    const projectId = await insertProject(db);
    const em = db.fork();
    const v = em.create(Volume, { id: randomUUID(), projectId, name: 'a', sizeGiB: 1, status: 'available', availabilityZone: 'az1' });
    await em.flush();
    t.is((await findVolumeView(db, v.id))?.name, 'a');
    await casVolume(db.fork(), v.id, { from: ['available'] }, { name: 'b' });
    t.is((await findVolumeView(db, v.id))?.name, 'b');
    const results = await Promise.all(Array.from({ length: 20 }, () => db.query(VOLUME_BY_ID, [v.id])));
    t.true(results.every((rows) => rows.length === 1));
  });
}

test('sqlite: a prepared read outside a transaction does not wait for a write transaction, and sees the last commit', async (t) => {
  const db = dbs.get('sqlite');
  const projectId = await insertProject(db);
  const em = db.fork();
  const v = em.create(Volume, { id: randomUUID(), projectId, name: 'before', sizeGiB: 1, status: 'available', availabilityZone: 'az1' });
  await em.flush();
  const within = <T>(p: Promise<T>) => Promise.race([p, new Promise<'waited'>((r) => setTimeout(() => r('waited'), 2_000))]);
  await db.fork().transactional(async (tx) => {
    // The pool's one connection is this transaction's until it ends.
    await casVolume(tx, v.id, { from: ['available'] }, { name: 'uncommitted' });
    const seen = await within(findVolumeView(db, v.id));
    t.not(seen, 'waited', 'the read waited for the write transaction');
    t.is((seen as { name: string }).name, 'before', 'an uncommitted change is not seen');
  });
  t.is((await findVolumeView(db, v.id))?.name, 'uncommitted');
});
