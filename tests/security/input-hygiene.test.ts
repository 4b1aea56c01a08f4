/**
 * Input hygiene at the edge of a real Flint, over HTTP and graphql-ws, and regression tests
 * for what the fuzzer found (each named after what broke).
 */
import test from 'ava';
import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import { collect } from '../helpers/ws.js';
import { SUBSCRIPTIONS_OVER_WS } from '../../src/gateway/http/http-subscriptions.js';
import { startFlint, type Flint, type GraphQLResponse } from './harness.js';
import { noProcessesLeft } from '../helpers/processes.js';

let flint: Flint;
let member: string;
let volumeId: string;
const UNKNOWN = '6b1c1e0a-4f7e-4c55-9d36-0e7d2b4b9a11';

test.before(async () => {
  flint = await startFlint('hygiene');
  member = await flint.token('hygiene', 'member');
  const res = await flint.request(member, 'mutation { createVolume(input: { name: "plain", sizeGiB: 1 }) { volume { id } } }');
  volumeId = (res.data!.createVolume as { volume: { id: string } }).volume.id;
});

test.after.always(async () => {
  await flint?.stop();
});

const CREATE = 'mutation($i: CreateVolumeInput!) { createVolume(input: $i) { volume { id name description } } }';

function refusal(res: GraphQLResponse): { code: unknown; message: string } {
  return { code: res.errors?.[0]?.extensions?.code, message: res.errors?.[0]?.message ?? '' };
}

test('a NUL in an id, filter, name, description, metadata key or value, idempotency key or connector field is BAD_USER_INPUT naming the field', async (t) => {
  const nul = 'a\u0000b';
  // The inputs of issue 11 that answered INTERNAL (SQLite refuses NUL).
  const cases: Array<[string, string, Record<string, unknown>]> = [
    ['id', 'query($v: ID!) { volume(id: $v) { id } }', { v: nul }],
    ['id', 'query($v: ID!) { node(id: $v) { id } }', { v: nul }],
    ['filter.name', 'query($v: String) { volumes(filter: { name: $v }) { totalCount } }', { v: nul }],
    ['filter.name', 'query($v: String) { snapshots(filter: { name: $v }) { totalCount } }', { v: nul }],
    ['filter.kind', 'query($v: String) { operations(filter: { kind: $v }) { totalCount } }', { v: nul }],
    ['input.name', CREATE, { i: { name: nul, sizeGiB: 1 } }],
    ['input.description', CREATE, { i: { name: 'x', description: nul, sizeGiB: 1 } }],
    ['input.metadata.key "a\\u0000b"', CREATE, { i: { name: 'x', metadata: { [nul]: 'v' }, sizeGiB: 1 } }],
    ['input.metadata.k', CREATE, { i: { name: 'x', metadata: { k: nul }, sizeGiB: 1 } }],
    ['input.idempotencyKey', CREATE, { i: { name: 'x', idempotencyKey: nul, sizeGiB: 1 } }],
    ['input.name', 'mutation($v: String) { updateVolume(input: { id: "' + UNKNOWN + '", name: $v }) { volume { id } } }', { v: nul }],
    ['input.connector.host', 'mutation($v: String!) { createAttachment(input: { volumeId: "' + UNKNOWN + '", instanceId: "vm", connector: { host: $v } }) { attachment { id } } }', { v: nul }],
  ];
  for (const [path, query, variables] of cases) {
    const { code, message } = refusal(await flint.request(member, query, variables));
    t.is(code, 'BAD_USER_INPUT', `${path}: ${message}`);
    t.true(message.startsWith(`${path} contains U+0000, a control character`), message);
  }
});

test('a right-to-left override or an unpaired surrogate in a name is refused, and nothing is created', async (t) => {
  const names = ['invoice\u202egnp.exe', 'x\ud800', 'x\u2066y'];
  for (const name of names) {
    const res = await flint.request(member, CREATE, { i: { name, sizeGiB: 1 } });
    t.is(refusal(res).code, 'BAD_USER_INPUT', name);
    t.is(res.data, null);
  }
  const list = await flint.request(member, '{ volumes { edges { node { name } } } }');
  const made = (list.data!.volumes as { edges: Array<{ node: { name: string } }> }).edges.map((e) => e.node.name);
  t.deepEqual(made.filter((n) => names.includes(n) || n.startsWith('invoice') || n.startsWith('x')), []);
});

test('a description keeps its line feeds and tabs', async (t) => {
  const res = await flint.request(member, CREATE, { i: { name: 'notes', description: 'line 1\n\tline 2', sizeGiB: 1 } });
  t.is((res.data?.createVolume as { volume: { description: string } }).volume.description, 'line 1\n\tline 2');
});

test('an id that is not a UUID is BAD_USER_INPUT with a short quote of it, not INTERNAL or NOT_FOUND', async (t) => {
  const res = await flint.request(member, 'query($v: ID!) { volume(id: $v) { id } }', { v: 'x'.repeat(100_000) });
  const { code, message } = refusal(res);
  t.is(code, 'BAD_USER_INPUT');
  t.true(message.length < 300, `the message is ${message.length} characters`);
  t.regex(message, /^id "x+…" is not an id Flint gave out/);
  t.is(refusal(await flint.request(member, `mutation { deleteVolume(input: { id: "${volumeId}x" }) { volume { id } } }`)).code, 'BAD_USER_INPUT');
});

test('a subscription over graphql-ws refuses a NUL in its filter with BAD_USER_INPUT', async (t) => {
  const sub = collect(flint.ws(member), 'subscription($f: VolumeFilter) { volumeEvents(filter: $f) { type } }', { f: { name: 'a\u0000' } }, (d) => d);
  const errors = (await sub.waitError()) as Array<{ message: string; extensions: { code: string } }>;
  t.is(errors[0]!.extensions.code, 'BAD_USER_INPUT');
  t.regex(errors[0]!.message, /^filter\.name contains U\+0000/);
  sub.close();
});

test('a mutation over graphql-ws is checked as over HTTP', async (t) => {
  const sub = collect(flint.ws(member), CREATE, { i: { name: 'ws\u202e', sizeGiB: 1 } }, (d) => d);
  const errors = (await sub.waitError()) as Array<{ message: string; extensions: { code: string } }>;
  t.is(errors[0]!.extensions.code, 'BAD_USER_INPUT');
  t.regex(errors[0]!.message, /^input\.name contains U\+202E/);
  sub.close();
});

test('regression: a document that does not parse over graphql-ws closed the socket with 4500; now only that operation gets BAD_USER_INPUT', async (t) => {
  const client = flint.ws(member);
  const watching = collect(client, 'subscription { volumeEvents { type } }', {}, (d) => d);
  const bad = collect(client, '{ volume(id: "\\uD800") { id } }', {}, (d) => d);
  const errors = (await bad.waitError()) as Array<{ message: string; extensions: { code: string } }>;
  t.is(errors[0]!.extensions.code, 'BAD_USER_INPUT');
  t.regex(errors[0]!.message, /^Syntax Error/);
  // The same socket still serves, and the subscription opened before is still open.
  const after = collect(client, '{ viewer { role } }', {}, (d) => d);
  t.deepEqual(await after.waitFor(() => true), { viewer: { role: 'MEMBER' } });
  t.deepEqual(watching.errors, []);
  t.false(watching.completed);
  for (const s of [watching, bad, after]) s.close();
});

test('regression: a WebSocket message larger than an HTTP body may be is refused (close 1009), not parsed', async (t) => {
  const ws = new WebSocket(flint.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  // Closed (with its code), or answered (the message was taken in).
  const outcome = new Promise<string>((resolve) => ws.once('close', (code) => resolve(`close ${code}`)).once('message', (m: Buffer) => resolve(`answered ${String(m)}`)));
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${member}`, pad: 'x'.repeat(2 * 1024 * 1024) } }));
  t.is(await outcome, 'close 1009');
  ws.terminate();
});

/** One raw POST: its status, headers and body, and whether the server then closed the connection. */
function rawPost(url: string, token: string, body: string): Promise<{ status: number; connection?: string; body: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        const socket = res.socket;
        const done = (closedByServer: boolean) => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text, closedByServer });
        if (!socket || socket.destroyed) return done(true);
        const timer = setTimeout(() => (socket.destroy(), done(false)), 2_000);
        socket.once('close', () => (clearTimeout(timer), done(true)));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('regression: a body over 1 MiB is refused with 413 and the connection closed (it left the shutdown drain waiting)', async (t) => {
  const res = await rawPost(flint.url, member, JSON.stringify({ query: '{ viewer { role } }', variables: { pad: 'x'.repeat(3 * 1024 * 1024) } }));
  t.is(res.status, 413);
  const error = (JSON.parse(res.body) as GraphQLResponse).errors?.[0];
  t.is(error?.extensions?.code, 'BAD_USER_INPUT');
  t.regex(error?.message ?? '', /over 1048576 bytes \(1 MiB\); send a smaller request/);
  t.is(res.connection, 'close');
  t.true(res.closedByServer);
});

test('regression: a gateway that refused a body over 1 MiB stops cleanly (it threw from Apollo\'s drain after 10 s)', async (t) => {
  const other = await startFlint('hygiene');
  try {
    const token = await other.token('hygiene', 'member');
    t.is((await rawPost(other.url, token, 'x'.repeat(3 * 1024 * 1024))).status, 413);
  } finally {
    // Without the fix, stop() waited for the drain's grace period and then an uncaught
    // TypeError ended this worker.
    await other.stop();
  }
  t.pass();
});

test('regression: createVolumeType with isPublic: null answered INTERNAL (null for a non-null field); null now means the default, public', async (t) => {
  const admin = await flint.token('admin', 'admin');
  const res = await flint.request(admin, 'mutation { createVolumeType(input: { name: "null-public", isPublic: null }) { name isPublic } }');
  t.deepEqual(res.data, { createVolumeType: { name: 'null-public', isPublic: true } });
  const listed = await flint.request(member, '{ volumeTypes { name isPublic } }');
  t.deepEqual((listed.data!.volumeTypes as Array<{ name: string; isPublic: boolean }>).filter((v) => v.name === 'null-public'), [{ name: 'null-public', isPublic: true }]);
});

test('regression: a forged cursor whose id has a NUL answered INTERNAL in every list; now BAD_USER_INPUT', async (t) => {
  const forged = Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000Z', 'a\u0000b'])).toString('base64url');
  for (const list of ['volumes', 'snapshots', 'backups', 'attachments', 'operations', 'messages']) {
    const res = await flint.request(member, `query($c: String) { ${list}(after: $c) { totalCount } }`, { c: forged });
    t.deepEqual(refusal(res), { code: 'BAD_USER_INPUT', message: 'after is not a cursor this API gave out; pass pageInfo.endCursor of the previous page' }, list);
  }
});

test('regression: a subscription sent over HTTP answered INTERNAL (its resolver got no event); now BAD_USER_INPUT saying to use graphql-ws', async (t) => {
  const admin = await flint.token('admin', 'admin');
  for (const [token, query] of [
    [admin, 'subscription { poolsChanged { id } }'],
    [member, `subscription { volumeChanged(id: "${volumeId}") { id } }`],
  ] as const) {
    const res = await flint.request(token, query);
    t.is(res.status, 400);
    t.deepEqual(refusal(res), { code: 'BAD_USER_INPUT', message: SUBSCRIPTIONS_OVER_WS });
  }
});

test.after.always('no process is left behind', noProcessesLeft);
