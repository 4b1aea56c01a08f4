/**
 * Introspection over a real gateway: callers with a token may read the schema (with
 * its descriptions), anonymous callers get UNAUTHENTICATED saying how to send a
 * token, and FLINT_INTROSPECTION=false refuses it to everyone, over HTTP and
 * graphql-ws, while ordinary queries keep working.
 */
import anyTest, { type TestFn } from 'ava';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { ViewerDocument, type FlintApiError } from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { EventLog } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  on: Cluster;
  off: Cluster;
  reader: string;
}

const test = anyTest as TestFn<Ctx>;

type Errors = Array<{ message: string; extensions?: { code?: string } }>;
type NoVariables = Record<string, never>;

// Introspection is what these tests are about, and the SDK's operations hold none: the
// queries are written here, typed documents all the same (no casts of the answers).
const SCHEMA = '{ __schema { queryType { name } types { name } } }';
const SchemaDocument: TypedDocumentNode<{ __schema: { queryType: { name: string }; types: Array<{ name: string }> } }, NoVariables> = parse(SCHEMA);
const InputTypeDocument: TypedDocumentNode<{ __type: { description: string | null; inputFields: Array<{ name: string; description: string | null }> | null } | null }, NoVariables> = parse(
  '{ __type(name: "CreateVolumeInput") { description inputFields { name description } } }',
);
const VolumeTypeNameDocument: TypedDocumentNode<{ __type: { name: string } | null }, NoVariables> = parse('{ __type(name: "Volume") { name } }');
const TypenameDocument: TypedDocumentNode<{ __typename: string }, NoVariables> = parse('{ __typename }');

test.before(async (t) => {
  // No agents: nothing here places volumes.
  const [on, off] = await Promise.all([
    startCluster({ database: 'sqlite', agents: [] }),
    startCluster({ database: 'sqlite', agents: [], env: { FLINT_INTROSPECTION: 'false' } }),
  ]);
  t.context = { on, off, reader: await on.token('alpha', 'reader') };
});

test.after.always(async (t) => {
  await Promise.all([t.context.on?.stop(), t.context.off?.stop()]);
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(t.context.on?.logs(), t.context.off?.logs());
});

test('a caller with a token reads the schema and its descriptions', async (t) => {
  const { on, reader } = t.context;
  for (const token of [on.adminToken, reader]) {
    const r = await on.client(token).raw(SchemaDocument);
    t.falsy(r.errors);
    const schema = r.data!.__schema;
    t.is(schema.queryType.name, 'Query');
    t.true(schema.types.some((x) => x.name === 'Volume'));
  }
  const type = (await on.client(reader).request(InputTypeDocument)).__type!;
  t.truthy(type.description);
  t.regex(type.inputFields!.find((f) => f.name === 'sizeGiB')!.description!, /GiB/);
});

// Raw HTTP on purpose: the status, the WWW-Authenticate header and the body of a refused
// anonymous request are the point, and the last query hides its introspection in a fragment.
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
  t.deepEqual(await t.context.on.client(null).request(TypenameDocument), { __typename: 'Query' });
});

test('FLINT_INTROSPECTION=false refuses introspection even to admins, over HTTP and WebSocket', async (t) => {
  const { off } = t.context;
  const r = await off.client().raw(SchemaDocument);
  t.is(r.data, undefined);
  t.is(errorCode(r), 'BAD_USER_INPUT');
  t.regex(r.errors![0]!.message, /^Introspection is turned off on this gateway \(FLINT_INTROSPECTION=false\)/);
  t.notRegex(r.errors![0]!.message, /Apollo/);

  t.is(errorCode(await off.client().raw(VolumeTypeNameDocument)), 'BAD_USER_INPUT');

  const sub = EventLog.of(off.client().subscribe(SchemaDocument), 'introspection over graphql-ws');
  const err = (await sub.waitError()) as FlintApiError;
  t.is(err.code, 'BAD_USER_INPUT');
  t.regex(err.errors[0]!.message, /^Introspection is turned off on this gateway/);
});

test('FLINT_INTROSPECTION=false leaves ordinary queries alone', async (t) => {
  const { off } = t.context;
  const { viewer } = await off.client().request(ViewerDocument);
  t.like(viewer, { role: 'ADMIN', projectName: 'admin' });
  t.deepEqual(await off.client().request(TypenameDocument), { __typename: 'Query' });

  const sub = EventLog.of(off.client().subscribe(ViewerDocument), 'a query over graphql-ws');
  t.teardown(() => sub.close());
  const overWs = await sub.waitFor(() => true);
  t.like(overWs.viewer, { role: 'ADMIN' });
});

test.after.always('no process is left behind', noProcessesLeft);
