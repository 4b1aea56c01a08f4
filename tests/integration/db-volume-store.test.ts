/**
 * Volume rows (src/db/volume-store.ts) against a real SQLite file and a real PostgreSQL
 * database: compare-and-set, keyset pagination, filters, project scope, and the unique
 * idempotency key. Every test works on its own project / ids, so they share one database
 * per backend.
 */
import 'reflect-metadata';
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { volumeView, type VolumeView } from '../../src/bus/contract/index.js';
import { Volume, casVolume, findVolume, listVolumes, toVolumeView, type Db, type VolumeListFilter } from '../../src/db/index.js';
import type { VolumeStatus } from '../../src/domain/volume-states.js';
import { BACKENDS, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';

let databases: Databases | undefined;

test.before(async () => {
  databases = await openDatabases('flint-db-volume-store-');
});

test.after.always(async () => {
  await databases?.close();
});

function db(kind: Backend): Db {
  if (!databases) throw new Error('databases are not open');
  return databases.get(kind);
}

interface NewVolume {
  id?: string;
  projectId: string;
  name?: string;
  status?: VolumeStatus;
  availabilityZone?: string;
  createdAt?: Date;
  idempotencyKey?: string | null;
  sizeGiB?: number;
}

async function insertVolume(em: EntityManager, v: NewVolume): Promise<Volume> {
  const createdAt = v.createdAt ?? new Date();
  const volume = em.create(Volume, {
    id: v.id ?? randomUUID(),
    projectId: v.projectId,
    name: v.name ?? 'vol',
    sizeGiB: v.sizeGiB ?? 1,
    status: v.status ?? 'available',
    availabilityZone: v.availabilityZone ?? 'nova',
    idempotencyKey: v.idempotencyKey ?? null,
    createdAt,
    updatedAt: createdAt,
  });
  await em.persist(volume).flush();
  return volume;
}

/** Walks every page of a list with keyset pagination, as a client following endCursor would. */
async function allPages(
  d: Db,
  opts: { projectId: string | null; filter: VolumeListFilter },
  first: number,
): Promise<{ pages: VolumeView[][]; totals: number[]; lastHasNext: boolean }> {
  const pages: VolumeView[][] = [];
  const totals: number[] = [];
  let after: { createdAt: Date; id: string } | undefined;
  for (let guard = 0; guard < 100; guard++) {
    const page = await listVolumes(d, { ...opts, first, after });
    pages.push(page.rows);
    totals.push(page.totalCount);
    const last = page.rows.at(-1);
    if (!page.hasNextPage || !last) return { pages, totals, lastHasNext: page.hasNextPage };
    after = { createdAt: new Date(last.createdAt), id: last.id };
  }
  throw new Error('pagination did not end after 100 pages');
}

const byCreation = (a: { createdAt: Date; id: string }, b: { createdAt: Date; id: string }) =>
  a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

for (const kind of BACKENDS) {
  // compare-and-set

  test(`${kind}: a CAS from an expected state applies the changes and bumps the version by 1`, async (t) => {
    const d = db(kind);
    const v = await insertVolume(d.fork(), { projectId: randomUUID(), createdAt: new Date(Date.now() - 60_000) });
    const updated = await casVolume(d.fork(), v.id, { from: ['available', 'error'] }, { status: 'deleting' });
    t.truthy(updated);
    t.is(updated!.status, 'deleting');
    t.is(updated!.version, 2);
    t.true(updated!.updatedAt.getTime() > v.updatedAt.getTime(), 'updatedAt moves');
    t.is(updated!.createdAt.getTime(), v.createdAt.getTime(), 'createdAt stays');
    const again = await findVolume(d.fork(), v.id);
    t.like(again, { status: 'deleting', version: 2 });
  });

  test(`${kind}: a CAS from a state that is not expected changes nothing and returns null`, async (t) => {
    const d = db(kind);
    const v = await insertVolume(d.fork(), { projectId: randomUUID(), status: 'in_use' });
    t.is(await casVolume(d.fork(), v.id, { from: ['available', 'error'] }, { status: 'deleting', name: 'renamed' }), null);
    t.like(await findVolume(d.fork(), v.id), { status: 'in_use', version: 1, name: 'vol' });
  });

  test(`${kind}: a CAS of an unknown volume returns null`, async (t) => {
    t.is(await casVolume(db(kind).fork(), randomUUID(), { from: ['available'] }, { status: 'deleting' }), null);
  });

  test(`${kind}: each CAS bumps the version by exactly 1`, async (t) => {
    const d = db(kind);
    const v = await insertVolume(d.fork(), { projectId: randomUUID() });
    for (let i = 2; i <= 5; i++) {
      const u = await casVolume(d.fork(), v.id, { from: ['available'] }, { name: `name-${i}` });
      t.is(u?.version, i);
      t.is(u?.name, `name-${i}`);
    }
  });

  test(`${kind}: a CAS with the current expectedVersion applies`, async (t) => {
    const d = db(kind);
    const v = await insertVolume(d.fork(), { projectId: randomUUID() });
    const u = await casVolume(d.fork(), v.id, { from: ['available'], expectedVersion: 1 }, { name: 'new' });
    t.like(u, { name: 'new', version: 2 });
  });

  test(`${kind}: a CAS with a stale expectedVersion fails and changes nothing`, async (t) => {
    const d = db(kind);
    const v = await insertVolume(d.fork(), { projectId: randomUUID() });
    await casVolume(d.fork(), v.id, { from: ['available'] }, { name: 'first' });
    t.is(await casVolume(d.fork(), v.id, { from: ['available'], expectedVersion: 1 }, { name: 'second' }), null);
    t.like(await findVolume(d.fork(), v.id), { name: 'first', version: 2 });
  });

  test(`${kind}: a CAS with a future expectedVersion fails`, async (t) => {
    const d = db(kind);
    const v = await insertVolume(d.fork(), { projectId: randomUUID() });
    t.is(await casVolume(d.fork(), v.id, { from: ['available'], expectedVersion: 2 }, { name: 'x' }), null);
    t.like(await findVolume(d.fork(), v.id), { name: 'vol', version: 1 });
  });

  test(`${kind}: of two concurrent CAS from the same state exactly one wins`, async (t) => {
    const d = db(kind);
    const v = await insertVolume(d.fork(), { projectId: randomUUID() });
    const [a, b] = await Promise.all([
      casVolume(d.fork(), v.id, { from: ['available'] }, { status: 'deleting' }),
      casVolume(d.fork(), v.id, { from: ['available'] }, { status: 'extending', sizeGiB: 2 }),
    ]);
    t.is([a, b].filter((r) => r !== null).length, 1, 'exactly one wins');
    const winner = (a ?? b)!;
    t.is(winner.version, 2);
    t.like(await findVolume(d.fork(), v.id), { status: winner.status, version: 2, sizeGiB: winner.status === 'extending' ? 2 : 1 });
  });

  test(`${kind}: of twenty concurrent CAS at one expectedVersion exactly one wins`, async (t) => {
    const d = db(kind);
    const v = await insertVolume(d.fork(), { projectId: randomUUID() });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => casVolume(d.fork(), v.id, { from: ['available'], expectedVersion: 1 }, { name: `writer-${i}` })),
    );
    const winners = results.filter((r) => r !== null);
    t.is(winners.length, 1);
    t.like(await findVolume(d.fork(), v.id), { name: winners[0]!.name, version: 2 });
  });

  test(`${kind}: a CAS stores metadata, description, host and pool`, async (t) => {
    const d = db(kind);
    const v = await insertVolume(d.fork(), { projectId: randomUUID() });
    const metadata = { purpose: 'db', 'quote"d': 'it\'s "fine"', empty: '' };
    await casVolume(d.fork(), v.id, { from: ['available'] }, { metadata, description: 'a description', host: 'node-1', pool: 'node-1@default' });
    const row = await findVolume(d.fork(), v.id);
    t.deepEqual(row?.metadata, metadata);
    t.like(row, { description: 'a description', host: 'node-1', pool: 'node-1@default', version: 2 });
  });

  test(`${kind}: findVolume reads the database, not a stale identity map`, async (t) => {
    const d = db(kind);
    const em = d.fork();
    const v = await insertVolume(em, { projectId: randomUUID() });
    t.is((await em.findOne(Volume, { id: v.id }))?.status, 'available', 'the row is now in this fork\'s identity map');
    await casVolume(d.fork(), v.id, { from: ['available'] }, { status: 'deleting' });
    t.like(await findVolume(em, v.id), { status: 'deleting', version: 2 });
  });

  test(`${kind}: findVolume of an unknown id is null`, async (t) => {
    t.is(await findVolume(db(kind).fork(), randomUUID()), null);
  });

  // listing

  test(`${kind}: keyset pages cover every row exactly once in creation order, ties broken by id`, async (t) => {
    const d = db(kind);
    const projectId = randomUUID();
    const base = Date.now() - 3_600_000;
    // Three rows share one creation time, so a page boundary falls inside a tie.
    const times = [0, 1000, 1000, 1000, 2000, 3000, 4000, 4001, 5000, 6000, 7000].map((ms) => new Date(base + ms));
    const inserted: Volume[] = [];
    for (const [i, createdAt] of [...times].reverse().entries()) {
      inserted.push(await insertVolume(d.fork(), { projectId, createdAt, name: `v${i}` }));
    }
    const expected = inserted.map((v) => ({ createdAt: v.createdAt, id: v.id })).sort(byCreation).map((v) => v.id);
    for (const first of [1, 2, 3, 4, 11, 50]) {
      const { pages, totals, lastHasNext } = await allPages(d, { projectId, filter: {} }, first);
      const ids = pages.flat().map((v) => v.id);
      t.deepEqual(ids, expected, `page size ${first}`);
      t.is(new Set(ids).size, ids.length, `no row twice with page size ${first}`);
      t.true(pages.every((p) => p.length <= first));
      t.true(totals.every((n) => n === 11), `totalCount is the whole list on every page (${first})`);
      t.false(lastHasNext);
      t.is(pages.length, Math.ceil(11 / first));
    }
  });

  test(`${kind}: hasNextPage is true exactly when rows are left`, async (t) => {
    const d = db(kind);
    const projectId = randomUUID();
    for (let i = 0; i < 3; i++) await insertVolume(d.fork(), { projectId, createdAt: new Date(Date.now() - 10_000 + i) });
    t.true((await listVolumes(d, { projectId, filter: {}, first: 2 })).hasNextPage);
    t.false((await listVolumes(d, { projectId, filter: {}, first: 3 })).hasNextPage);
  });

  test(`${kind}: a page of 0 rows still gives the total`, async (t) => {
    const d = db(kind);
    const projectId = randomUUID();
    for (let i = 0; i < 3; i++) await insertVolume(d.fork(), { projectId });
    const page = await listVolumes(d, { projectId, filter: {}, first: 0 });
    t.deepEqual(page.rows, []);
    t.is(page.totalCount, 3);
    t.true(page.hasNextPage);
  });

  test(`${kind}: an empty project lists nothing`, async (t) => {
    const page = await listVolumes(db(kind), { projectId: randomUUID(), filter: {}, first: 10 });
    t.deepEqual(page, { rows: [], hasNextPage: false, hasPreviousPage: false, totalCount: 0 });
  });

  test(`${kind}: filter.projectId lists one project for an admin and narrows a member's own project`, async (t) => {
    const d = db(kind);
    const [a, b] = [randomUUID(), randomUUID()];
    await insertVolume(d.fork(), { projectId: a, name: 'pa' });
    await insertVolume(d.fork(), { projectId: b, name: 'pb' });
    const admin = await listVolumes(d, { projectId: null, filter: { projectId: b }, first: 10 });
    t.deepEqual(admin.rows.map((v) => v.name), ['pb']);
    t.is(admin.totalCount, 1);
    const own = await listVolumes(d, { projectId: a, filter: { projectId: a }, first: 10 });
    t.deepEqual(own.rows.map((v) => v.name), ['pa']);
    const other = await listVolumes(d, { projectId: a, filter: { projectId: b }, first: 10 });
    t.deepEqual(other, { rows: [], hasNextPage: false, hasPreviousPage: false, totalCount: 0 }, "a member asking for another project's volumes gets none");
  });

  test(`${kind}: the list filters by status`, async (t) => {
    const d = db(kind);
    const projectId = randomUUID();
    const statuses: VolumeStatus[] = ['available', 'error', 'in_use', 'available', 'creating'];
    for (const [i, status] of statuses.entries()) await insertVolume(d.fork(), { projectId, status, name: `s${i}`, createdAt: new Date(Date.now() - 10_000 + i) });
    const available = await listVolumes(d, { projectId, filter: { status: ['available'] }, first: 10 });
    t.deepEqual(available.rows.map((v) => v.name), ['s0', 's3']);
    t.is(available.totalCount, 2);
    const either = await listVolumes(d, { projectId, filter: { status: ['error', 'creating'] }, first: 10 });
    t.deepEqual(either.rows.map((v) => v.name), ['s1', 's4']);
    t.is(either.totalCount, 2);
    const all = await listVolumes(d, { projectId, filter: { status: [] }, first: 10 });
    t.is(all.totalCount, 5, 'an empty status list does not filter');
  });

  test(`${kind}: the list filters by exact name`, async (t) => {
    const d = db(kind);
    const projectId = randomUUID();
    for (const name of ['db', 'db-2', 'web', 'db']) await insertVolume(d.fork(), { projectId, name });
    const page = await listVolumes(d, { projectId, filter: { name: 'db' }, first: 10 });
    t.is(page.totalCount, 2);
    t.true(page.rows.every((v) => v.name === 'db'));
  });

  test(`${kind}: the list filters by availability zone`, async (t) => {
    const d = db(kind);
    const projectId = randomUUID();
    for (const zone of ['az1', 'az2', 'az1']) await insertVolume(d.fork(), { projectId, availabilityZone: zone });
    const page = await listVolumes(d, { projectId, filter: { availabilityZone: 'az1' }, first: 10 });
    t.is(page.totalCount, 2);
    t.true(page.rows.every((v) => v.availabilityZone === 'az1'));
  });

  test(`${kind}: the list combines filters`, async (t) => {
    const d = db(kind);
    const projectId = randomUUID();
    await insertVolume(d.fork(), { projectId, name: 'db', availabilityZone: 'az1', status: 'available' });
    await insertVolume(d.fork(), { projectId, name: 'db', availabilityZone: 'az2', status: 'available' });
    await insertVolume(d.fork(), { projectId, name: 'db', availabilityZone: 'az1', status: 'error' });
    await insertVolume(d.fork(), { projectId, name: 'web', availabilityZone: 'az1', status: 'available' });
    const page = await listVolumes(d, { projectId, filter: { name: 'db', availabilityZone: 'az1', status: ['available'] }, first: 10 });
    t.is(page.totalCount, 1);
    t.like(page.rows[0], { name: 'db', availabilityZone: 'az1', status: 'available' });
  });

  test(`${kind}: deleted volumes are hidden unless asked for by status`, async (t) => {
    const d = db(kind);
    const projectId = randomUUID();
    await insertVolume(d.fork(), { projectId, name: 'kept' });
    await insertVolume(d.fork(), { projectId, name: 'gone', status: 'deleted' });
    await insertVolume(d.fork(), { projectId, name: 'going', status: 'deleting' });
    const visible = await listVolumes(d, { projectId, filter: {}, first: 10 });
    t.deepEqual(visible.rows.map((v) => v.name).sort(), ['going', 'kept']);
    t.is(visible.totalCount, 2);
    const deleted = await listVolumes(d, { projectId, filter: { status: ['deleted'] }, first: 10 });
    t.deepEqual(deleted.rows.map((v) => v.name), ['gone']);
    t.is(deleted.totalCount, 1);
  });

  test(`${kind}: a project sees only its own volumes and an admin (no project) sees every project's`, async (t) => {
    const d = db(kind);
    const zone = `zone-${randomUUID()}`;
    const [p1, p2] = [randomUUID(), randomUUID()];
    await insertVolume(d.fork(), { projectId: p1, name: 'a', availabilityZone: zone });
    await insertVolume(d.fork(), { projectId: p1, name: 'b', availabilityZone: zone });
    await insertVolume(d.fork(), { projectId: p2, name: 'c', availabilityZone: zone });
    const own = await listVolumes(d, { projectId: p1, filter: { availabilityZone: zone }, first: 10 });
    t.deepEqual(own.rows.map((v) => v.name).sort(), ['a', 'b']);
    t.is(own.totalCount, 2);
    const other = await listVolumes(d, { projectId: p2, filter: { availabilityZone: zone }, first: 10 });
    t.deepEqual(other.rows.map((v) => v.name), ['c']);
    const every = await listVolumes(d, { projectId: null, filter: { availabilityZone: zone }, first: 10 });
    t.deepEqual(every.rows.map((v) => v.name).sort(), ['a', 'b', 'c']);
    t.is(every.totalCount, 3);
  });

  // views

  test(`${kind}: toVolumeView gives the bus shape with ISO times`, async (t) => {
    const d = db(kind);
    const createdAt = new Date('2026-01-02T03:04:05.678Z');
    const v = await insertVolume(d.fork(), { projectId: randomUUID(), name: 'viewed', sizeGiB: 10, createdAt });
    await casVolume(d.fork(), v.id, { from: ['available'] }, { metadata: { a: 'b' }, host: 'h1', pool: 'h1@p' });
    const row = (await findVolume(d.fork(), v.id))!;
    const view = toVolumeView(row);
    t.deepEqual(volumeView.parse(view), view, 'the view is valid for the bus schema');
    t.like(view, {
      id: v.id,
      projectId: v.projectId,
      name: 'viewed',
      description: null,
      sizeGiB: 10,
      status: 'available',
      volumeType: null,
      availabilityZone: 'nova',
      metadata: { a: 'b' },
      version: 2,
      host: 'h1',
      pool: 'h1@p',
      createdAt: '2026-01-02T03:04:05.678Z',
    });
    t.is(view.updatedAt, row.updatedAt.toISOString());
  });

  // idempotency keys

  test(`${kind}: two volumes of one project with the same idempotency key violate a unique constraint`, async (t) => {
    const d = db(kind);
    const projectId = randomUUID();
    await insertVolume(d.fork(), { projectId, idempotencyKey: 'create-db-1' });
    await t.throwsAsync(insertVolume(d.fork(), { projectId, idempotencyKey: 'create-db-1' }), { instanceOf: UniqueConstraintViolationException });
    const page = await listVolumes(d, { projectId, filter: {}, first: 10 });
    t.is(page.totalCount, 1, 'the second insert left nothing');
  });

  test(`${kind}: another project may use the same idempotency key`, async (t) => {
    const d = db(kind);
    await insertVolume(d.fork(), { projectId: randomUUID(), idempotencyKey: 'shared-key' });
    await t.notThrowsAsync(insertVolume(d.fork(), { projectId: randomUUID(), idempotencyKey: 'shared-key' }));
  });

  test(`${kind}: any number of volumes of one project may have no idempotency key`, async (t) => {
    const d = db(kind);
    const projectId = randomUUID();
    for (let i = 0; i < 3; i++) await insertVolume(d.fork(), { projectId, idempotencyKey: null });
    t.is((await listVolumes(d, { projectId, filter: {}, first: 10 })).totalCount, 3);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
