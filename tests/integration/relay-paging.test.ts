/**
 * Relay paging both ways (src/db/page.ts `keysetPage`, src/gateway/queries/page.ts
 * `pageRequest`, src/resolvers/types/relay.ts `connectionOf`) on both databases, through the
 * read side (src/gateway/queries/reads.ts): `first`/`after` and `last`/`before` walk the same
 * rows, every row once and in the list's order, on a list oldest first (volumes) and one
 * newest first (operations), with rows that share a creation time; both ends' flags; the
 * refusals; and `volumes(last:, before:)` through the GraphQL schema.
 */
import 'reflect-metadata';
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { graphql, type GraphQLSchema } from 'graphql';
import { pino } from 'pino';
import { Operation, Volume, type Db, type Page, type Principal } from '../../src/db/index.js';
import { BadInputError, type FlintError } from '../../src/domain/index.js';
import { formatError } from '../../src/gateway/http/errors.js';
import { Reads } from '../../src/gateway/queries/reads.js';
import { buildFlintSchema, type Context, type ListRequest } from '../../src/resolvers/index.js';
import { connectionOf, type Connection } from '../../src/resolvers/types/relay.js';
import { BACKENDS, openDatabases, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';

let dbs: Databases;
let schema: GraphQLSchema;
test.before(async () => {
  dbs = await openDatabases('flint-relay-paging-');
  schema = await buildFlintSchema();
});
test.after.always(async () => {
  await dbs?.close();
});

const ROWS = 11;
/** Rows i and i+1 (i even) share a creation time, so the id orders them. */
const createdAt = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(i / 2)));

const member = (): Principal => ({ tokenId: randomUUID(), projectId: randomUUID(), projectName: 'p', role: 'member' });

async function insertVolumes(db: Db, projectId: string): Promise<void> {
  const em = db.fork();
  for (let i = 0; i < ROWS; i++) {
    const at = createdAt(i);
    em.persist(em.create(Volume, { id: randomUUID(), projectId, name: `v${i}`, sizeGiB: 1, status: 'available', availabilityZone: 'nova', idempotencyKey: null, createdAt: at, updatedAt: at }));
  }
  await em.flush();
}

async function insertOperations(db: Db, projectId: string): Promise<void> {
  const em = db.fork();
  for (let i = 0; i < ROWS; i++) {
    em.persist(em.create(Operation, { id: randomUUID(), projectId, kind: 'create_volume', resourceType: 'volume', resourceId: randomUUID(), createdAt: createdAt(i) }));
  }
  await em.flush();
}

type Row = { id: string; createdAt: Date | string };
type List = (p: Principal, r: ListRequest<never>) => Promise<Page<Row>>;

/** The ids in the list's order, as the database orders them: (createdAt, id) ascending or descending. */
async function expectedOrder(db: Db, entity: typeof Volume | typeof Operation, projectId: string, order: 'asc' | 'desc'): Promise<string[]> {
  const rows = await db.fork().find(entity as typeof Volume, { projectId }, { orderBy: { createdAt: order, id: order }, disableIdentityMap: true });
  return rows.map((r) => r.id);
}

interface Walked {
  ids: string[];
  pages: number;
  flags: Array<{ hasPreviousPage: boolean; hasNextPage: boolean }>;
  totals: number[];
}

/** Every page from the start, following endCursor, as a client does. */
async function forward(list: List, p: Principal, size: number): Promise<Walked> {
  const walked: Walked = { ids: [], pages: 0, flags: [], totals: [] };
  let after: string | null = null;
  for (let guard = 0; guard < 50; guard++) {
    const c: Connection<string> = connectionOf(await list(p, { first: size, after }), (r) => r.id);
    walked.ids.push(...c.edges.map((e) => e.node));
    walked.pages++;
    walked.flags.push({ hasPreviousPage: c.pageInfo.hasPreviousPage, hasNextPage: c.pageInfo.hasNextPage });
    walked.totals.push(c.totalCount);
    if (!c.pageInfo.hasNextPage) return walked;
    after = c.pageInfo.endCursor;
  }
  throw new Error('forward paging did not end');
}

/** Every page from the end, following startCursor backward; the ids come out in the list's order. */
async function backward(list: List, p: Principal, size: number): Promise<Walked> {
  const walked: Walked = { ids: [], pages: 0, flags: [], totals: [] };
  let before: string | null = null;
  for (let guard = 0; guard < 50; guard++) {
    const c: Connection<string> = connectionOf(await list(p, { last: size, before }), (r) => r.id);
    walked.ids.unshift(...c.edges.map((e) => e.node));
    walked.pages++;
    walked.flags.push({ hasPreviousPage: c.pageInfo.hasPreviousPage, hasNextPage: c.pageInfo.hasNextPage });
    walked.totals.push(c.totalCount);
    if (!c.pageInfo.hasPreviousPage) return walked;
    before = c.pageInfo.startCursor;
  }
  throw new Error('backward paging did not end');
}

const LISTS = [
  { what: 'volumes, oldest first', entity: Volume, order: 'asc', insert: insertVolumes, list: (r: Reads): List => r.volumes as List },
  { what: 'operations, newest first', entity: Operation, order: 'desc', insert: insertOperations, list: (r: Reads): List => r.operations as List },
] as const;

for (const backend of BACKENDS) {
  for (const { what, entity, order, insert, list: listOf } of LISTS) {
    test(`${backend}: ${what}: first/after and last/before walk every row exactly once, in the list's order, with exact flags at both ends`, async (t) => {
      const db = dbs.get(backend);
      const p = member();
      await insert(db, p.projectId);
      const expected = await expectedOrder(db, entity, p.projectId, order);
      t.is(expected.length, ROWS);
      const list = listOf(new Reads(db));
      for (const size of [1, 2, 3, 4, ROWS, ROWS + 1]) {
        const pages = Math.ceil(ROWS / size);
        const expectedFlags = (i: number) => ({ start: i === 0, end: i === pages - 1 });
        const fwd = await forward(list, p, size);
        t.deepEqual(fwd.ids, expected, `forward, ${size} a page`);
        t.is(fwd.pages, pages);
        t.deepEqual(
          fwd.flags,
          fwd.flags.map((_, i) => ({ hasPreviousPage: !expectedFlags(i).start, hasNextPage: !expectedFlags(i).end })),
          `forward flags, ${size} a page`,
        );
        t.true(fwd.totals.every((n) => n === ROWS));

        const back = await backward(list, p, size);
        t.deepEqual(back.ids, expected, `backward, ${size} a page`);
        t.is(back.pages, pages);
        // Walked from the end: the first page read is the list's last.
        t.deepEqual(
          back.flags,
          back.flags.map((_, i) => ({ hasPreviousPage: i !== pages - 1, hasNextPage: i !== 0 })),
          `backward flags, ${size} a page`,
        );
        t.true(back.totals.every((n) => n === ROWS));
      }
    });

    test(`${backend}: ${what}: last/before from a page's startCursor gives back the page before it, and first/after from its endCursor the one after`, async (t) => {
      const db = dbs.get(backend);
      const p = member();
      await insert(db, p.projectId);
      const expected = await expectedOrder(db, entity, p.projectId, order);
      const list = listOf(new Reads(db));
      const one = connectionOf(await list(p, { first: 4 }), (r) => r.id);
      const two = connectionOf(await list(p, { first: 4, after: one.pageInfo.endCursor }), (r) => r.id);
      t.deepEqual(two.edges.map((e) => e.node), expected.slice(4, 8));
      const back = connectionOf(await list(p, { last: 4, before: two.pageInfo.startCursor }), (r) => r.id);
      t.deepEqual(back.edges, one.edges, 'the same items and cursors, in the same order');
      t.deepEqual(back.pageInfo, { ...one.pageInfo, hasNextPage: true });
      const ahead = connectionOf(await list(p, { first: 4, after: back.pageInfo.endCursor }), (r) => r.id);
      t.deepEqual(ahead.edges, two.edges);
      // Fewer than `last` before the cursor: what there is, and nothing before it.
      const short = connectionOf(await list(p, { last: 4, before: one.edges[2]!.cursor }), (r) => r.id);
      t.deepEqual(short.edges.map((e) => e.node), expected.slice(0, 2));
      t.false(short.pageInfo.hasPreviousPage);
      t.true(short.pageInfo.hasNextPage);
      // `before` alone pages back 50 (here: all before it).
      t.deepEqual((await list(p, { before: two.pageInfo.endCursor })).rows.map((r) => r.id), expected.slice(0, 7));
    });

    test(`${backend}: ${what}: empty pages still say what lies on each side of their cursor`, async (t) => {
      const db = dbs.get(backend);
      const p = member();
      await insert(db, p.projectId);
      const list = listOf(new Reads(db));
      const all = connectionOf(await list(p, { first: ROWS }), (r) => r.id);
      const mid = all.edges[5]!.cursor;
      t.like((await list(p, { first: 0 })), { rows: [], hasPreviousPage: false, hasNextPage: true });
      t.like((await list(p, { last: 0 })), { rows: [], hasPreviousPage: true, hasNextPage: false });
      t.like((await list(p, { first: 0, after: mid })), { rows: [], hasPreviousPage: true, hasNextPage: true });
      t.like((await list(p, { last: 0, before: mid })), { rows: [], hasPreviousPage: true, hasNextPage: true });
      const end = all.pageInfo.endCursor!;
      const start = all.pageInfo.startCursor!;
      t.like((await list(p, { first: 5, after: end })), { rows: [], hasPreviousPage: true, hasNextPage: false });
      t.like((await list(p, { last: 5, before: start })), { rows: [], hasPreviousPage: false, hasNextPage: true });
      const nobody = member();
      // A list in the change feed (volumes) also says its project's seq: none yet for a project with no change.
      const feed = what.startsWith('volumes') ? { changeSeq: 0 } : {};
      t.deepEqual(await list(nobody, { last: 5 }), { rows: [], hasPreviousPage: false, hasNextPage: false, totalCount: 0, ...feed });
    });
  }

  test(`${backend}: both directions at once, a bad last and a forged before are BAD_USER_INPUT naming each problem`, async (t) => {
    const reads = new Reads(dbs.get(backend));
    const p = member();
    const refused = async (r: ListRequest<never>) => (await t.throwsAsync(reads.volumes(p, r), { instanceOf: BadInputError })) as BadInputError;
    t.regex((await refused({ first: 2, last: 2 })).message, /^first and last cannot be used together: page forward with first/);
    t.regex((await refused({ last: 2, after: 'x', before: 'y' })).problems[0]!, /^after and before cannot be used together/);
    t.deepEqual((await refused({ last: 501 })).problems, ['last must be from 0 to 500 (got 501)']);
    t.deepEqual((await refused({ last: -1 })).problems, ['last must be from 0 to 500 (got -1)']);
    t.deepEqual((await refused({ last: 1, before: 'junk' })).problems, ['before is not a cursor this API gave out; pass pageInfo.startCursor of the page after the one you want']);
    t.is((await refused({ first: 1, before: 'junk' })).code, 'BAD_USER_INPUT');
    t.is(((await t.throwsAsync(reads.volumes(null, { last: 1, first: 1 }))) as FlintError).code, 'UNAUTHENTICATED', 'who asks is checked before what');
  });

  test(`${backend}: through the schema, volumes(last: 2) is the end of the list and its startCursor pages back`, async (t) => {
    const db = dbs.get(backend);
    const p = member();
    await insertVolumes(db, p.projectId);
    const contextValue = { principal: p, requestId: 'test', ports: { reads: new Reads(db) }, loaders: {} } as unknown as Context;
    const query = `query ($last: Int, $before: String, $first: Int) {
      volumes(last: $last, before: $before, first: $first) {
        totalCount edges { cursor node { name } } pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
      }
    }`;
    const run = (variableValues: Record<string, unknown>) => graphql({ schema, source: query, variableValues, contextValue });
    type Volumes = { volumes: { totalCount: number; edges: Array<{ cursor: string; node: { name: string } }>; pageInfo: Record<string, unknown> } };

    const end = (await run({ last: 2 })) as { data: Volumes; errors?: unknown };
    t.is(end.errors, undefined);
    const names = (await new Reads(db).volumes(p, { first: ROWS })).rows.map((v) => v.name);
    t.deepEqual(end.data.volumes.edges.map((e) => e.node.name), names.slice(-2));
    t.is(end.data.volumes.totalCount, ROWS);
    t.like(end.data.volumes.pageInfo, { hasPreviousPage: true, hasNextPage: false, startCursor: end.data.volumes.edges[0]!.cursor, endCursor: end.data.volumes.edges[1]!.cursor });

    const before = (await run({ last: 2, before: end.data.volumes.pageInfo.startCursor })) as { data: Volumes };
    t.deepEqual(before.data.volumes.edges.map((e) => e.node.name), names.slice(-4, -2));
    t.like(before.data.volumes.pageInfo, { hasPreviousPage: true, hasNextPage: true });

    const mixed = await run({ first: 1, last: 1 });
    t.is(mixed.data, null);
    const formatted = formatError(mixed.errors![0]!.toJSON(), mixed.errors![0], pino({ level: 'silent' }));
    t.is(formatted.extensions?.code, 'BAD_USER_INPUT');
    t.regex(formatted.message, /first and last cannot be used together/);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
