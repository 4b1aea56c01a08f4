/**
 * WebSocket limits against a real gateway (graphql-ws over ws): the message size, the
 * operations open on one socket, and the sockets open per token and per address. Each
 * refusal carries its code (a close code and a RATE_LIMITED reason, an HTTP 429 upgrade
 * answer, or a RATE_LIMITED error), and the limit lets go once sockets or operations end.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { collect, wsClient, type Collected } from '../helpers/ws.js';
import { codeOf, post, startFlint, type Flint } from './limits-harness.js';
import { noProcessesLeft } from '../helpers/processes.js';

let flint: Flint;
let url = '';
let member = '';

test.before(async () => {
  flint = await startFlint();
  url = (await flint.gateway()).url;
  member = (await flint.token('team-ws')).token;
});

test.after.always(async () => {
  await flint?.stop();
});

const wsUrl = (httpUrl: string): string => httpUrl.replace(/^http/, 'ws');

/** A socket speaking graphql-ws's subprotocol; rejects with the HTTP status when the upgrade is refused. */
function open(httpUrl: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(httpUrl), 'graphql-transport-ws');
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, retryAfter: res.headers['retry-after'] })));
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Sends connection_init with the token and resolves on connection_ack (or the close that came instead). */
async function init(ws: WebSocket, token: string): Promise<'ack' | { code: number; reason: string }> {
  const end = closed(ws);
  const ack = new Promise<'ack'>((resolve) => ws.on('message', (m) => JSON.parse(m.toString()).type === 'connection_ack' && resolve('ack')));
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  return Promise.race([ack, end]);
}

/** Until `attempt` succeeds (the gateway may see a socket's close a moment after the client does), at most 10 s. */
async function eventually<T>(attempt: () => Promise<T | undefined>): Promise<T | undefined> {
  for (let i = 0; i < 100; i++) {
    const r = await attempt().catch(() => undefined);
    if (r !== undefined) return r;
    await sleep(100);
  }
  return undefined;
}

async function settled(op: Collected<unknown>): Promise<void> {
  for (let i = 0; i < 400 && !op.completed && op.errors.length === 0; i++) await sleep(25);
}

test('a WebSocket message over 1 MiB closes the socket with 1009 before it is read', async (t) => {
  const ws = await open(url);
  const end = closed(ws);
  // An anonymous connection_init of 2 MiB, as in the issue (there: 50 MB each).
  ws.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(2 * 1024 * 1024) } }));
  const { code } = await end;
  t.is(code, 1009);
  // The gateway goes on serving everyone else.
  t.falsy((await post(url, member, '{ viewer { role } }')).body.errors);
});

test('a message just under 1 MiB is still read', async (t) => {
  const ws = await open(url);
  t.teardown(() => ws.close());
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${member}`, pad: 'x'.repeat(1000 * 1024) } }));
  const ack = await new Promise<string>((resolve) => ws.once('message', (m) => resolve(JSON.parse(m.toString()).type)));
  t.is(ack, 'connection_ack');
});

test('one socket holding the most operations allowed gets RATE_LIMITED for one more, and room again when one ends', async (t) => {
  const gw = await flint.gateway({ FLINT_API_WS_MAX_SUBSCRIPTIONS: '10' });
  const client = wsClient(gw.url, member);
  t.teardown(() => client.dispose());
  const subs = Array.from({ length: 10 }, () => collect(client, 'subscription { volumeEvents { type } }', {}, (d) => d));
  t.teardown(() => subs.forEach((s) => s.close()));
  await sleep(300);
  t.true(subs.every((s) => s.errors.length === 0));
  const extra = collect(client, 'subscription { volumeEvents { type } }', {}, (d) => d);
  await settled(extra);
  t.is((extra.errors[0] as Array<{ extensions: { code: string } }>)[0]!.extensions.code, 'RATE_LIMITED');
  subs[0]!.close();
  await sleep(200);
  const again = collect(client, '{ viewer { role } }', {}, (d) => d);
  await settled(again);
  t.deepEqual(again.errors, []);
});

test('the default allows the 1,000 subscriptions of the issue no more: the 101st on one socket is refused', async (t) => {
  const client: Client = wsClient(url, member);
  t.teardown(() => client.dispose());
  const subs = Array.from({ length: 101 }, () => collect(client, 'subscription { volumeEvents { type } }', {}, (d) => d));
  t.teardown(() => subs.forEach((s) => s.close()));
  await settled(subs[100]!);
  await sleep(300);
  const refused = subs.filter((s) => s.errors.length > 0);
  t.is(refused.length, 1);
  t.is((refused[0]!.errors[0] as Array<{ extensions: { code: string } }>)[0]!.extensions.code, 'RATE_LIMITED');
});

test('a token with the most sockets allowed gets its next one closed with 4429 RATE_LIMITED, and may open one when another closes', async (t) => {
  const gw = await flint.gateway({ FLINT_API_WS_MAX_CONNECTIONS_PER_TOKEN: '2' });
  const first = await open(gw.url);
  const second = await open(gw.url);
  t.teardown(() => second.close());
  t.is(await init(first, member), 'ack');
  t.is(await init(second, member), 'ack');
  const third = await open(gw.url);
  const refused = await init(third, member);
  t.like(refused, { code: 4429 });
  t.regex((refused as { reason: string }).reason, /^RATE_LIMITED: /);
  // Another token is not affected.
  const another = await open(gw.url);
  t.teardown(() => another.close());
  t.is(await init(another, (await flint.token('team-ws-2')).token), 'ack');
  const gone = closed(first);
  first.close();
  await gone;
  const accepted = await eventually(async () => {
    const ws = await open(gw.url);
    t.teardown(() => ws.close());
    return (await init(ws, member)) === 'ack' ? true : undefined;
  });
  t.true(accepted);
});

test('an address with the most sockets allowed gets HTTP 429 on the next upgrade, and may connect again when one closes', async (t) => {
  const gw = await flint.gateway({ FLINT_API_WS_MAX_CONNECTIONS_PER_ADDRESS: '3' });
  const sockets = [await open(gw.url), await open(gw.url), await open(gw.url)];
  t.teardown(() => sockets.forEach((s) => s.close()));
  const refused = await open(gw.url).then(
    () => undefined,
    (err: { status?: number; retryAfter?: string }) => err,
  );
  t.is(refused?.status, 429);
  t.truthy(refused?.retryAfter);
  const gone = closed(sockets[0]!);
  sockets[0]!.close();
  await gone;
  const again = await eventually(() => open(gw.url));
  t.truthy(again);
  t.teardown(() => again?.close());
  t.is(await init(again!, member), 'ack');
  // HTTP requests from that address are not WebSocket connections: they are still answered.
  t.is(codeOf(await post(gw.url, member, '{ viewer { role } }')), undefined);
});

test.after.always('no process is left behind', noProcessesLeft);
