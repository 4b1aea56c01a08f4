/**
 * Nested fields are batched per request (src/resolvers/loaders.ts): a page of volumes with
 * their snapshots, messages, attachments, backups and audits, and the volumes and parents
 * those point back to, costs the same few SQL statements for 1 volume as for 50. Counted
 * on a real gateway against a real SQLite file and a real PostgreSQL database, from the
 * statements the ORM's query builder runs for one request id.
 */
import test from 'ava';
import { currentRequestId } from '../../src/bus/index.js';
import { BACKENDS, type Backend } from '../helpers/databases.js';
import { post, seed, startFlint, type Flint } from './limits-harness.js';
import { noProcessesLeft } from '../helpers/processes.js';

const PAGE = `query Page($first: Int) {
  volumes(first: $first) {
    edges { node {
      id
      snapshots { id volumeId volume { id } messages { message } }
      messages { message }
      attachments { id volume { id } messages { message } }
      backups { id parent { id } volume { id } messages { message } }
      statusAudits { id }
    } }
  }
}`;

interface Node {
  id: string;
  snapshots: Array<{ volumeId: string; volume: { id: string } | null; messages: unknown[] }>;
  messages: unknown[];
  attachments: Array<{ volume: { id: string } | null; messages: unknown[] }>;
  backups: Array<{ id: string; parent: { id: string } | null; volume: { id: string } | null; messages: unknown[] }>;
  statusAudits: unknown[];
}

interface Setup {
  flint: Flint;
  url: string;
  admin: string;
  /** Statements run so far for each request id. */
  statements: Map<string, string[]>;
}

const setups = new Map<Backend, Promise<Setup>>();

async function setUp(backend: Backend): Promise<Setup> {
  const flint = await startFlint(backend);
  // This test is about statements, not limits: the page below is over the default cost (and rate).
  const gateway = await flint.gateway({ FLINT_API_MAX_COST: '1000000', FLINT_API_RATE_BURST: '1000000' });
  const { token: admin } = await flint.token('admin', 'admin');
  const { projectId } = await flint.token('team-batch', 'member');
  await seed(flint.db, projectId, 50, 2);
  const statements = new Map<string, string[]>();
  flint.db
    .fork()
    .getKnex()
    .on('query', (q: { sql: string }) => {
      const id = currentRequestId();
      if (id) statements.set(id, [...(statements.get(id) ?? []), q.sql]);
    });
  return { flint, url: gateway.url, admin, statements };
}

test.after.always(async () => {
  for (const s of setups.values()) await (await s.catch(() => undefined))?.flint.stop();
});

let requests = 0;
async function page(s: Setup, first: number): Promise<{ nodes: Node[]; sql: string[] }> {
  const requestId = `batching-${++requests}`;
  const a = await post(s.url, s.admin, PAGE, { first }, { 'x-request-id': requestId });
  if (a.body.errors) throw new Error(JSON.stringify(a.body.errors));
  const nodes = (a.body.data!.volumes as { edges: Array<{ node: Node }> }).edges.map((e) => e.node);
  return { nodes, sql: s.statements.get(requestId) ?? [] };
}

for (const backend of BACKENDS) {
  const setup = (): Promise<Setup> => {
    if (!setups.has(backend)) setups.set(backend, setUp(backend));
    return setups.get(backend)!;
  };

  test.serial(`${backend}: a page of 50 volumes with every nested list costs as many statements as a page of 1`, async (t) => {
    const s = await setup();
    await page(s, 1); // the token's lookup is cached from here on
    const one = await page(s, 1);
    const fifty = await page(s, 50);
    t.is(fifty.nodes.length, 50);
    t.log(`${backend}: ${one.sql.length} statements for 1 volume, ${fifty.sql.length} for 50`);
    // The same statements, but that the volume loader's reads for snapshots, attachments and
    // backups may fall in one batch or in up to three, as the database's answers arrive.
    t.true(Math.abs(fifty.sql.length - one.sql.length) <= 2, `${one.sql.join('\n')}\n---\n${fifty.sql.join('\n')}`);
  });

  test.serial(`${backend}: the page's nested lists are read with IN (…), a few statements in all`, async (t) => {
    const s = await setup();
    const { sql } = await page(s, 50);
    // listVolumes (rows, count), then one statement per loader and parent list (the volume
    // loader may run once for each of snapshots, attachments and backups): 14 at most.
    t.true(sql.length <= 14, sql.join('\n'));
    t.true(sql.filter((q) => /\bin\s*\(/i.test(q)).length >= 8, sql.join('\n'));
  });

  test.serial(`${backend}: batched nested fields belong to the right parents`, async (t) => {
    const s = await setup();
    const { nodes } = await page(s, 50);
    for (const v of nodes) {
      t.is(v.snapshots.length, 2);
      for (const snap of v.snapshots) {
        t.is(snap.volumeId, v.id);
        t.is(snap.volume?.id, v.id);
        t.is(snap.messages.length, 1);
      }
      t.is(v.messages.length, 2);
      t.is(v.attachments.length, 2);
      for (const a of v.attachments) {
        t.is(a.volume?.id, v.id);
        t.is(a.messages.length, 1);
      }
      t.is(v.backups.length, 2);
      t.is(v.backups[0]!.parent, null);
      t.is(v.backups[1]!.parent?.id, v.backups[0]!.id);
      for (const b of v.backups) t.is(b.volume?.id, v.id);
      t.is(v.statusAudits.length, 2);
    }
  });
}

test.after.always('no process is left behind', noProcessesLeft);
