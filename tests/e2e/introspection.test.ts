/**
 * Introspection over a real gateway: callers with a token may read the schema (with
 * its descriptions), anonymous callers get UNAUTHENTICATED saying how to send a
 * token, and FLINT_INTROSPECTION=false refuses it to everyone, over HTTP and
 * graphql-ws, while ordinary queries keep working.
 */
import anyTest, { type TestFn } from 'ava';
import type { Client } from 'graphql-ws';
import { gql, startCluster, type Cluster } from '../helpers/cluster.js';
import { collect, wsClient } from '../helpers/ws.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  on: Cluster;
  off: Cluster;
  reader: string;
  ws: Client[];
}

const test = anyTest as TestFn<Ctx>;

type Errors = Array<{ message: string; extensions?: { code?: string } }>;

const SCHEMA = '{ __schema { queryType { name } types { name } } }';

test.before(async (t) => {
  // No agents: nothing here places volumes.
  const [on, off] = await Promise.all([
    startCluster({ database: 'sqlite', agents: [] }),
    startCluster({ database: 'sqlite', agents: [], env: { FLINT_INTROSPECTION: 'false' } }),
  ]);
  t.context = { on, off, reader: await on.token('alpha', 'reader'), ws: [] };
});

test.after.always(async (t) => {
  for (const c of t.context.ws ?? []) await c.dispose();
  await Promise.all([t.context.on?.stop(), t.context.off?.stop()]);
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(t.context.on?.logs(), t.context.off?.logs());
});

test('a caller with a token reads the schema and its descriptions', async (t) => {
  const { on, reader } = t.context;
  for (const token of [on.adminToken, reader]) {
    const r = await gql(on.url, token, SCHEMA);
    t.falsy(r.errors);
    const schema = (r.data as { __schema: { queryType: { name: string }; types: Array<{ name: string }> } }).__schema;
    t.is(schema.queryType.name, 'Query');
    t.true(schema.types.some((x) => x.name === 'Volume'));
  }
  const r = await gql(on.url, reader, '{ __type(name: "CreateVolumeInput") { description inputFields { name description } } }');
  const type = (r.data as { __type: { description: string; inputFields: Array<{ name: string; description: string | null }> } }).__type;
  t.truthy(type.description);
  t.regex(type.inputFields.find((f) => f.name === 'sizeGiB')!.description!, /GiB/);
});

test('an anonymous introspection query is UNAUTHENTICATED and says how to send a token', async (t) => {
  const { on } = t.context;
  for (const query of [SCHEMA, '{ __type(name: "Volume") { name } }', 'query { ...F } fragment F on Query { __schema { types { name } } }']) {
    const res = await fetch(on.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    t.is(res.status, 401);
    t.is(res.headers.get('www-authenticate'), 'Bearer');
    const body = (await res.json()) as { data?: unknown; errors: Errors };
    t.is(body.data, undefined);
    t.is(body.errors[0]!.extensions?.code, 'UNAUTHENTICATED');
    t.regex(body.errors[0]!.message, /Authorization: Bearer <token>/);
  }
});

test('__typename is not introspection: anonymous callers may ask for it', async (t) => {
  const r = await gql(t.context.on.url, undefined, '{ __typename }');
  t.deepEqual(r.data, { __typename: 'Query' });
});

test('FLINT_INTROSPECTION=false refuses introspection even to admins, over HTTP and WebSocket', async (t) => {
  const { off } = t.context;
  const r = await gql(off.url, off.adminToken, SCHEMA);
  t.is(r.data, undefined);
  t.is(r.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  t.regex(r.errors![0]!.message, /^Introspection is turned off on this gateway \(FLINT_INTROSPECTION=false\)/);
  t.notRegex(r.errors![0]!.message, /Apollo/);

  const typeQuery = await gql(off.url, off.adminToken, '{ __type(name: "Volume") { name } }');
  t.is(typeQuery.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');

  const client = wsClient(off.url, off.adminToken);
  t.context.ws.push(client);
  const errors = (await collect(client, SCHEMA, {}, (d) => d).waitError()) as Errors;
  t.is(errors[0]?.extensions?.code, 'BAD_USER_INPUT');
  t.regex(errors[0]!.message, /^Introspection is turned off on this gateway/);
});

test('FLINT_INTROSPECTION=false leaves ordinary queries alone', async (t) => {
  const { off } = t.context;
  const r = await gql(off.url, off.adminToken, '{ viewer { role projectName } __typename }');
  t.falsy(r.errors);
  t.deepEqual(r.data, { viewer: { role: 'ADMIN', projectName: 'admin' }, __typename: 'Query' });

  const client = wsClient(off.url, off.adminToken);
  t.context.ws.push(client);
  const viewer = await collect(client, '{ viewer { role } }', {}, (d) => d).waitFor(() => true);
  t.deepEqual(viewer, { viewer: { role: 'ADMIN' } });
});

test.after.always('no process is left behind', noProcessesLeft);
