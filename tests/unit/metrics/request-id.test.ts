import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../../src/config/logger.js';
import { currentRequestId, decodeEnvelope, encode, ENVELOPE_VERSION, publish, withRequestId } from '../../../src/bus/index.js';
import { inCommandScope, noteEmitted, scopedLogger } from '../../../src/metrics/command-scope.js';

const decoder = new TextDecoder();

test('an envelope carries the request id it is given', (t) => {
  const env = decodeEnvelope(encode('k', { a: 1 }, 'id-1', { requestId: 'req-1' }));
  t.like(env, { v: ENVELOPE_VERSION, id: 'id-1', kind: 'k', requestId: 'req-1', payload: { a: 1 } });
});

test('an envelope without a request id has no requestId field, and still decodes', (t) => {
  const raw = JSON.parse(decoder.decode(encode('k', {}))) as Record<string, unknown>;
  t.false('requestId' in raw);
  t.is(decodeEnvelope(encode('k', {})).requestId, undefined);
});

test('a malformed request id is dropped, not a reason to reject the message', (t) => {
  const data = new TextEncoder().encode(JSON.stringify({ v: ENVELOPE_VERSION, id: 'x', kind: 'k', at: '2026-01-01T00:00:00Z', requestId: 42, payload: {} }));
  const env = decodeEnvelope(data);
  t.is(env.requestId, undefined);
  t.deepEqual(env.payload, {});
});

test('publish carries the request id of the scope it runs in, and an explicit one wins', async (t) => {
  const sent: Uint8Array[] = [];
  const bus = { js: { publish: async (_s: string, data: Uint8Array) => void sent.push(data) } } as never;
  await withRequestId('scoped', () => publish(bus, 's', 'k', {}, 'm1'));
  await withRequestId('scoped', () => publish(bus, 's', 'k', {}, 'm2', { requestId: 'explicit' }));
  await publish(bus, 's', 'k', {}, 'm3');
  t.deepEqual(sent.map((d) => decodeEnvelope(d).requestId), ['scoped', 'explicit', undefined]);
});

test('the request scope follows awaits and timers', async (t) => {
  const seen = await withRequestId('r-9', async () => {
    await new Promise((r) => setTimeout(r, 5));
    return currentRequestId();
  });
  t.is(seen, 'r-9');
  t.is(currentRequestId(), undefined);
});

function capture(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const out = new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) });
  const log = pino({ level: 'debug' }, out);
  return { log, lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('a command scope binds requestId and operationId to the logs of code that has only the base logger', async (t) => {
  const { log, lines } = capture();
  const inner = scopedLogger(log);
  await inCommandScope(log, { requestId: 'req-7', operationId: 'op-7' }, async () => {
    inner.info({ volumeId: 'v' }, 'inside');
  });
  inner.info('outside');
  const [inside, outside] = lines();
  t.like(inside, { requestId: 'req-7', operationId: 'op-7', volumeId: 'v', msg: 'inside' });
  t.false('requestId' in outside!);
});

test('a command scope records what it published and forwards its request id', async (t) => {
  const { log } = capture();
  const result = await inCommandScope(log, { requestId: 'req-8' }, async (scope) => {
    noteEmitted('volume.outcome', { outcome: 'create.succeeded' });
    return { emitted: scope.emitted, requestId: currentRequestId() };
  });
  t.deepEqual(result, { emitted: [{ kind: 'volume.outcome', payload: { outcome: 'create.succeeded' } }], requestId: 'req-8' });
});

test('concurrent command scopes do not mix', async (t) => {
  const { log } = capture();
  const run = (id: string, ms: number) =>
    inCommandScope(log, { requestId: id }, async (scope) => {
      await new Promise((r) => setTimeout(r, ms));
      noteEmitted(id, null);
      return scope.emitted.map((e) => e.kind);
    });
  t.deepEqual(await Promise.all([run('a', 10), run('b', 1)]), [['a'], ['b']]);
});
