/**
 * Metadata on real databases (a SQLite file and PostgreSQL): the `metadata` condition of the
 * volume and snapshot lists, done in SQL (src/db/metadata-sql.ts), so that keys with dots or
 * quotes match, every key must match, and `totalCount` and the pages count only matching rows;
 * its check (BAD_USER_INPUT); and a snapshot's own metadata: set at create, replaced by an
 * update that moves its generation, the same map again a no-op, and part of the create's
 * idempotency key request.
 */
import 'reflect-metadata';
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { graphql, type GraphQLSchema } from 'graphql';
import { pino } from 'pino';
import { casSnapshot, casVolume, findSnapshot, Operation, Snapshot, Volume, type Db, type Principal } from '../../src/db/index.js';
import { BadInputError, FlintError } from '../../src/domain/index.js';
import { formatError } from '../../src/gateway/http/errors.js';
import { SnapshotMutations } from '../../src/gateway/mutations/snapshot.js';
import { VolumeMutations } from '../../src/gateway/mutations/volume.js';
import { Reads } from '../../src/gateway/queries/reads.js';
import { buildFlintSchema, type Context } from '../../src/resolvers/index.js';
import { encodeCursor } from '../../src/resolvers/types/relay.js';
import { BACKENDS, insertProject, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { recordingDeps } from '../helpers/recording-deps.js';

let dbs: Databases;
let schema: GraphQLSchema;
test.before(async () => {
  dbs = await openDatabases('flint-metadata-filter-');
  schema = await buildFlintSchema();
});
test.after.always(async () => {
  await dbs?.close();
});

const member = (projectId: string): Principal => ({ tokenId: randomUUID(), projectId, projectName: 'p', role: 'member' });
/** Snapshots i and i+1 (i even) share a creation time, so the id orders them. */
const createdAt = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(i / 2)));

/** The labels of the rows the tests list: a stack's (keys with dots), and keys a JSON path would have to quote. */
const WEB = { 'flint.stack': 'web', 'flint.name': 'db', tier: 'gold' };
const ODD = { 'k"q': 'quote', '$.x': 'dollar', "o'k": 'apostrophe', 'flint.stack': 'odd' };

/** Volumes named v0… in creation order, with these labels (and a DELETED one with WEB's labels, never listed by default). */
async function insertVolumes(db: Db, projectId: string, labels: Array<Record<string, string>>): Promise<string[]> {
  const em = db.fork();
  const names: string[] = [];
  labels.forEach((metadata, i) => {
    // One second apart: listed in name order.
    const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i));
    em.persist(em.create(Volume, { id: randomUUID(), projectId, name: `v${i}`, sizeGiB: 1, status: 'available', availabilityZone: 'nova', metadata, createdAt: at, updatedAt: at }));
    names.push(`v${i}`);
  });
  em.persist(em.create(Volume, { id: randomUUID(), projectId, name: 'gone', sizeGiB: 1, status: 'deleted', availabilityZone: 'nova', metadata: WEB, createdAt: new Date(), updatedAt: new Date() }));
  await em.flush();
  return names;
}

async function insertSnapshots(db: Db, projectId: string, volumeId: string, labels: Array<Record<string, string>>): Promise<void> {
  const em = db.fork();
  labels.forEach((metadata, i) => {
    const at = createdAt(i);
    em.persist(em.create(Snapshot, { id: randomUUID(), projectId, volumeId, name: `s${i}`, sizeGiB: 1, status: 'available', metadata, createdAt: at, updatedAt: at }));
  });
  await em.flush();
}

/** Eleven volumes: the even ones carry WEB's labels (with one more key on some), the odd ones other values of the same keys, or none. */
const MIXED: Array<Record<string, string>> = Array.from({ length: 11 }, (_, i): Record<string, string> =>
  i % 2 === 0 ? { ...WEB, ...(i % 4 === 0 ? { extra: String(i) } : {}) } : i % 3 === 0 ? { 'flint.stack': 'web', 'flint.name': 'other' } : i === 5 ? ODD : {},
);
const EVEN = MIXED.map((_, i) => `v${i}`).filter((_, i) => i % 2 === 0);

for (const backend of BACKENDS as readonly Backend[]) {
  const db = () => dbs.get(backend);

  test(`${backend}: a volume matches when it has every given key with exactly that value, dots and quotes in keys included`, async (t) => {
    const p = member(await insertProject(db()));
    await insertVolumes(db(), p.projectId, MIXED);
    const reads = new Reads(db());
    const names = async (metadata: Record<string, unknown> | undefined) => (await reads.volumes(p, { first: 50, filter: { metadata } })).rows.map((v) => v.name);

    t.deepEqual(await names({ 'flint.stack': 'web', 'flint.name': 'db' }), EVEN, 'both keys must match');
    t.deepEqual(await names({ 'flint.stack': 'web' }), MIXED.map((_, i) => `v${i}`).filter((_, i) => i % 2 === 0 || i % 3 === 0), 'one key: every value equal');
    t.deepEqual(await names({ 'flint.stack': 'web', extra: '0' }), ['v0']);
    t.deepEqual(await names({ 'k"q': 'quote', '$.x': 'dollar', "o'k": 'apostrophe' }), ['v5']);
    t.deepEqual(await names({ 'flint.stack': 'we' }), [], 'exact values, not prefixes');
    t.deepEqual(await names({ 'flint.stack': 'WEB' }), [], 'values are compared as they are');
    t.deepEqual(await names({ flint: 'web' }), [], 'a dotted key is one key, not a path');
    t.deepEqual(await names({ 'flint.stack': 'web', 'flint.name': 'db', absent: '' }), [], 'a missing key does not match, even for an empty value');
    t.deepEqual(await names({}), MIXED.map((_, i) => `v${i}`), 'an empty condition matches every volume');
    t.deepEqual(await names(undefined), MIXED.map((_, i) => `v${i}`));
    const deleted = await reads.volumes(p, { first: 50, filter: { metadata: WEB, status: ['deleted'] } });
    t.deepEqual(deleted.rows.map((v) => v.name), ['gone'], 'it goes with the other conditions');
  });

  test(`${backend}: paging under a metadata condition walks only the matching volumes, with their count on every page`, async (t) => {
    const p = member(await insertProject(db()));
    await insertVolumes(db(), p.projectId, MIXED);
    const reads = new Reads(db());
    const filter = { metadata: { 'flint.stack': 'web', 'flint.name': 'db' } };
    const walked: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await reads.volumes(p, { first: 2, ...(after ? { after } : {}), filter });
      pages++;
      t.is(page.totalCount, EVEN.length);
      t.is(page.hasPreviousPage, pages > 1);
      walked.push(...page.rows.map((v) => v.name));
      if (!page.hasNextPage) break;
      const last = page.rows.at(-1)!;
      after = encodeCursor(last.createdAt, last.id);
    }
    t.deepEqual(walked, EVEN);
    t.is(pages, Math.ceil(EVEN.length / 2));
    const backward = await reads.volumes(p, { last: 2, filter });
    t.deepEqual(backward.rows.map((v) => v.name), EVEN.slice(-2));
    t.true(backward.hasPreviousPage);
  });

  test(`${backend}: snapshots filter by metadata with their other conditions, and page under it`, async (t) => {
    const p = member(await insertProject(db()));
    const v1 = randomUUID();
    const v2 = randomUUID();
    await insertSnapshots(db(), p.projectId, v1, MIXED);
    await insertSnapshots(db(), p.projectId, v2, [WEB, ODD]);
    const reads = new Reads(db());
    const names = async (filter: Record<string, unknown>, first = 50) => reads.snapshots(p, { first, filter });

    // v2's s0 was taken at the time of v1's s0 and s1: the id orders them.
    const web = await names({ metadata: { 'flint.stack': 'web', 'flint.name': 'db' } }, 3);
    t.is(web.totalCount, EVEN.length + 1);
    t.deepEqual(web.rows.map((s) => s.name), ['s0', 's0', 's2']);
    t.true(web.hasNextPage);
    const rest = await reads.snapshots(p, { first: 50, after: encodeCursor(web.rows[2]!.createdAt, web.rows[2]!.id), filter: { metadata: { 'flint.stack': 'web', 'flint.name': 'db' } } });
    t.deepEqual(rest.rows.map((s) => s.name), ['s4', 's6', 's8', 's10']);
    t.deepEqual([rest.totalCount, rest.hasPreviousPage, rest.hasNextPage], [EVEN.length + 1, true, false]);
    const ofV1 = await names({ volumeId: v1, metadata: { 'flint.stack': 'web', 'flint.name': 'db' } });
    t.deepEqual(ofV1.rows.map((s) => s.name), EVEN.map((n) => n.replace('v', 's')));
    t.is(ofV1.totalCount, EVEN.length);
    const odd = await names({ metadata: { 'k"q': 'quote', 'flint.stack': 'odd' } });
    t.deepEqual(odd.rows.map((s) => `${s.name}@${s.volumeId === v1 ? 'v1' : 'v2'}`), ['s1@v2', 's5@v1']);
    t.is((await names({ metadata: { 'flint.stack': 'nope' } })).totalCount, 0);
    t.is((await names({ metadata: {} })).totalCount, MIXED.length + 2);
  });

  test(`${backend}: a metadata condition that is not an object of strings is BAD_USER_INPUT, reported with the page's problems`, async (t) => {
    const p = member(await insertProject(db()));
    const reads = new Reads(db());
    const refused = async (r: Parameters<Reads['volumes']>[1]) => (await t.throwsAsync(reads.volumes(p, r), { instanceOf: BadInputError })) as BadInputError;
    t.deepEqual((await refused({ first: 1, filter: { metadata: { a: 1 } } })).problems, ['filter.metadata value of "a" must be a string (got number)']);
    t.deepEqual((await refused({ first: 1, filter: { metadata: { a: null } } })).problems, ['filter.metadata value of "a" must be a string (got null)']);
    t.deepEqual((await refused({ first: 1, filter: { metadata: ['a'] } })).problems, ['filter.metadata must be a JSON object of string values, e.g. {"purpose": "db"}']);
    t.deepEqual((await refused({ first: 501, filter: { metadata: { '': 'x' } } })).problems, ['first must be from 0 to 500 (got 501)', 'filter.metadata key "" must be 1 to 255 characters']);
    const snap = (await t.throwsAsync(reads.snapshots(p, { first: 1, filter: { metadata: { a: { b: 'c' } } } }), { instanceOf: BadInputError })) as BadInputError;
    t.deepEqual(snap.problems, ['filter.metadata value of "a" must be a string (got object)']);
  });

  test(`${backend}: through the schema, volumes and snapshots take filter.metadata, and a bad one is BAD_USER_INPUT`, async (t) => {
    const p = member(await insertProject(db()));
    await insertVolumes(db(), p.projectId, MIXED);
    await insertSnapshots(db(), p.projectId, randomUUID(), [WEB, ODD]);
    const contextValue = { principal: p, requestId: 'test', ports: { reads: new Reads(db()) }, loaders: {} } as unknown as Context;
    const run = (source: string, variableValues: Record<string, unknown>) => graphql({ schema, source, variableValues, contextValue });
    const volumes = 'query ($m: JSONObject) { volumes(first: 50, filter: { metadata: $m }) { totalCount edges { node { name metadata } } } }';
    const r = (await run(volumes, { m: { 'flint.stack': 'web', 'flint.name': 'db' } })) as { data: { volumes: { totalCount: number; edges: Array<{ node: { name: string; metadata: Record<string, string> } }> } }; errors?: unknown };
    t.is(r.errors, undefined);
    t.is(r.data.volumes.totalCount, EVEN.length);
    t.deepEqual(r.data.volumes.edges.map((e) => e.node.name), EVEN);
    t.like(r.data.volumes.edges[1]!.node.metadata, WEB);
    const snapshots = 'query ($m: JSONObject) { snapshots(filter: { metadata: $m }) { totalCount edges { node { name metadata } } } }';
    const s = (await run(snapshots, { m: { "o'k": 'apostrophe' } })) as { data: { snapshots: { totalCount: number; edges: Array<{ node: { name: string; metadata: Record<string, string> } }> } } };
    t.deepEqual(s.data.snapshots.edges.map((e) => e.node), [{ name: 's1', metadata: ODD }]);
    const bad = await run(volumes, { m: { 'flint.stack': 7 } });
    t.is(bad.data, null);
    const formatted = formatError(bad.errors![0]!.toJSON(), bad.errors![0], pino({ level: 'silent' }));
    t.is(formatted.extensions?.code, 'BAD_USER_INPUT');
    t.regex(formatted.message, /filter\.metadata value of "flint\.stack" must be a string \(got number\)/);
  });

  /** An AVAILABLE volume on a pool, to snapshot. */
  async function availableVolume(d: ReturnType<typeof recordingDeps>['deps'], p: Principal): Promise<Volume> {
    const { volume } = await new VolumeMutations(d).create(p, { name: 'v', sizeGiB: 1 });
    return (await casVolume(db().fork(), volume.id, { from: ['creating'] }, { status: 'available', host: 'h1', pool: 'p1' }))!;
  }

  test(`${backend}: a snapshot keeps the metadata it was created with; an update replaces it and moves its generation; the same map again changes nothing`, async (t) => {
    const { deps: d } = recordingDeps(db());
    const p = member(await insertProject(db()));
    const v = await availableVolume(d, p);
    const snapshots = new SnapshotMutations(d);
    const { snapshot } = await snapshots.create(p, { volumeId: v.id, name: 's', metadata: { 'flint.stack': 'web', app: 'pg' } });
    t.deepEqual(snapshot.metadata, { 'flint.stack': 'web', app: 'pg' });
    t.deepEqual((await findSnapshot(db().fork(), snapshot.id))!.metadata, { 'flint.stack': 'web', app: 'pg' });
    const plain = await snapshots.create(p, { volumeId: v.id, name: 'plain' });
    t.deepEqual((await findSnapshot(db().fork(), plain.snapshot.id))!.metadata, {}, 'none given: {}');

    const taken = (await casSnapshot(db().fork(), snapshot.id, { from: ['creating'] }, { status: 'available' }))!;
    t.deepEqual([taken.generation, taken.version], [1, 2]);
    const changed = await snapshots.update(p, { id: snapshot.id, metadata: { 'flint.stack': 'web', app: 'mysql' } });
    t.deepEqual(changed.snapshot.metadata, { 'flint.stack': 'web', app: 'mysql' }, 'the whole map is replaced');
    t.deepEqual([changed.snapshot.generation, changed.snapshot.version], [2, 3]);
    t.is(changed.operation?.kind, 'update_snapshot');
    t.true(changed.snapshot.changeSeq > taken.changeSeq, 'the change is in the change feed');

    // The values it has, in another order: nothing to record.
    const same = await snapshots.update(p, { id: snapshot.id, metadata: { app: 'mysql', 'flint.stack': 'web' } });
    t.deepEqual([same.snapshot.generation, same.snapshot.version, same.operation], [2, 3, null]);
    const ops = await db().fork().count(Operation, { resourceId: snapshot.id, kind: 'update_snapshot' });
    t.is(ops, 1, 'a no-op makes no operation');

    const cleared = await snapshots.update(p, { id: snapshot.id, metadata: {} });
    t.deepEqual([cleared.snapshot.metadata, cleared.snapshot.generation, cleared.snapshot.version], [{}, 3, 4]);
  });

  test(`${backend}: snapshot metadata is checked as a volume's, with the same messages`, async (t) => {
    const { deps: d } = recordingDeps(db());
    const p = member(await insertProject(db()));
    const v = await availableVolume(d, p);
    const snapshots = new SnapshotMutations(d);
    const volumes = new VolumeMutations(d);
    const tooMany = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    for (const metadata of [{ a: 1 }, ['x'], tooMany, { k: 'x'.repeat(256) }]) {
      const s = (await t.throwsAsync(snapshots.create(p, { volumeId: v.id, name: 's', metadata }), { instanceOf: BadInputError })) as BadInputError;
      const u = (await t.throwsAsync(snapshots.update(p, { id: randomUUID(), metadata }), { instanceOf: BadInputError })) as BadInputError;
      const vol = (await t.throwsAsync(volumes.create(p, { name: 'v', sizeGiB: 1, metadata }), { instanceOf: BadInputError })) as BadInputError;
      t.is(s.code, 'BAD_USER_INPUT');
      t.deepEqual(s.problems, vol.problems);
      t.deepEqual(u.problems, vol.problems);
    }
    const none = (await t.throwsAsync(snapshots.update(p, { id: randomUUID() }), { instanceOf: BadInputError })) as BadInputError;
    t.deepEqual(none.problems, ['give at least one of name, description, metadata to change']);
  });

  test(`${backend}: createSnapshot's idempotency key covers its metadata: the same map (in any order) answers with the first snapshot, another is CONFLICT`, async (t) => {
    const { deps: d } = recordingDeps(db());
    const p = member(await insertProject(db()));
    const v = await availableVolume(d, p);
    const snapshots = new SnapshotMutations(d);
    const input = { volumeId: v.id, name: 's', idempotencyKey: 'snap-meta', metadata: { 'flint.stack': 'web', app: 'pg' } };
    const first = await snapshots.create(p, input);
    const again = await snapshots.create(p, { ...input, metadata: { app: 'pg', 'flint.stack': 'web' } });
    t.is(again.snapshot.id, first.snapshot.id);
    t.is(again.operation.id, first.operation.id);
    const other = (await t.throwsAsync(snapshots.create(p, { ...input, metadata: { 'flint.stack': 'web', app: 'mysql' } }), { instanceOf: FlintError })) as FlintError;
    t.is(other.code, 'CONFLICT');
    const without = (await t.throwsAsync(snapshots.create(p, { ...input, metadata: undefined }), { instanceOf: FlintError })) as FlintError;
    t.is(without.code, 'CONFLICT', 'no metadata is other metadata');
    t.is(await db().fork().count(Snapshot, { projectId: p.projectId }), 1);

    // Without metadata, the hash is the one it always was: {} and none are the same request.
    const bare = { volumeId: v.id, name: 'b', idempotencyKey: 'snap-bare' };
    const b1 = await snapshots.create(p, bare);
    t.is((await snapshots.create(p, { ...bare, metadata: {} })).snapshot.id, b1.snapshot.id);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
