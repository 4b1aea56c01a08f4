/**
 * The execution timeout against a real gateway: a query running past FLINT_API_TIMEOUT_MS
 * is answered with one QUERY_TOO_COMPLEX error (limit `timeout`), over HTTP and over
 * WebSocket, while subscriptions (long-lived by design) are not cut. The timeout is set
 * to 1 ms here so that any query reading the database runs past it; that resolvers stop
 * at the deadline is unit-tested (tests/unit/gateway/limits-deadline.test.ts).
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { collect, wsClient, type Collected } from '../helpers/ws.js';
import { codeOf, post, seed, startFlint, type Flint } from './limits-harness.js';
import { noProcessesLeft } from '../helpers/processes.js';

let flint: Flint;
let slowUrl = '';
let normalUrl = '';
let member = '';
let volumeId = '';

const PAGE = '{ volumes(first: 50) { edges { node { id snapshots { id volume { id messages { message } } } messages { message } } } } }';

test.before(async () => {
  flint = await startFlint();
  slowUrl = (await flint.gateway({ FLINT_API_TIMEOUT_MS: '1' })).url;
  normalUrl = (await flint.gateway()).url;
  const a = await flint.token('team-slow');
  member = a.token;
  volumeId = (await seed(flint.db, a.projectId, 50, 4)).volumeIds[0]!;
});

test.after.always(async () => {
  await flint?.stop();
});

async function settled(op: Collected<unknown>): Promise<void> {
  for (let i = 0; i < 400 && !op.completed && op.errors.length === 0 && op.values.length === 0; i++) await sleep(25);
}

test('a query running past the timeout is cut off with one QUERY_TOO_COMPLEX error (timeout)', async (t) => {
  const a = await post(slowUrl, member, PAGE);
  t.is(codeOf(a), 'QUERY_TOO_COMPLEX');
  t.is(a.body.errors![0]!.extensions!.limit, 'timeout');
  t.is(a.body.errors!.length, 1);
  t.regex(a.body.errors![0]!.message, /FLINT_API_TIMEOUT_MS/);
});

test('the same query is answered in full by a gateway with the default timeout', async (t) => {
  const a = await post(normalUrl, member, PAGE);
  t.falsy(a.body.errors);
  t.is((a.body.data!.volumes as { edges: unknown[] }).edges.length, 50);
});

test('a query over WebSocket running past the timeout gets QUERY_TOO_COMPLEX (timeout)', async (t) => {
  const client = wsClient(slowUrl, member);
  t.teardown(() => client.dispose());
  const op = collect(client, PAGE, {}, (d) => d);
  await settled(op);
  await op.waitComplete(5000).catch(() => undefined);
  const errors = [...op.errors].flat() as Array<{ extensions?: { code?: string; limit?: string } }>;
  t.is(errors[0]?.extensions?.code, 'QUERY_TOO_COMPLEX');
  t.is(errors[0]?.extensions?.limit, 'timeout');
});

test('a subscription is not cut off by the execution timeout', async (t) => {
  const client = wsClient(slowUrl, member);
  t.teardown(() => client.dispose());
  const sub = collect(client, 'subscription ($id: ID!) { volumeChanged(id: $id) { id snapshots { id } } }', { id: volumeId }, (d) => d.volumeChanged as { id: string });
  t.teardown(() => sub.close());
  const first = await sub.waitFor((v) => v.id === volumeId, 10_000);
  t.is(first.id, volumeId);
  t.deepEqual(sub.errors, []);
});

test.after.always('no process is left behind', noProcessesLeft);
