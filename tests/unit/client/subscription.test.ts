import test from 'ava';
import type { FormattedExecutionResult } from 'graphql';
import type { Sink } from 'graphql-ws';
import { setImmediate as tick } from 'node:timers/promises';
import { FlintApiError } from '../../../src/client/errors.js';
import { PushSubscription } from '../../../src/client/subscription.js';

type Data = { n: number };

function harness() {
  let sink!: Sink<FormattedExecutionResult<Data>>;
  const calls = { unsubscribe: 0 };
  const sub = new PushSubscription<Data>((s) => {
    sink = s;
    return () => void calls.unsubscribe++;
  });
  return { sub, sink, calls };
}

test('values arrive in order, buffered or awaited', async (t) => {
  const { sub, sink } = harness();
  sink.next({ data: { n: 1 } });
  const pending = sub.next();
  t.deepEqual(await pending, { value: { n: 1 }, done: false });
  const later = sub.next();
  sink.next({ data: { n: 2 } });
  t.deepEqual(await later, { value: { n: 2 }, done: false });
});

test('a result with errors rejects with FlintApiError, then the iteration ends', async (t) => {
  const { sub, sink } = harness();
  sink.next({ errors: [{ message: 'Volume x does not exist.', extensions: { code: 'NOT_FOUND' } }] });
  const err = await t.throwsAsync(sub.next(), { instanceOf: FlintApiError });
  t.is(err.code, 'NOT_FOUND');
  t.deepEqual(await sub.next(), { value: undefined, done: true });
});

test('regression: a failure does not dispose inside the sink, where graphql-ws would release the operation twice', async (t) => {
  const { sink, calls } = harness();
  sink.next({ errors: [{ message: 'no', extensions: { code: 'NOT_FOUND' } }] });
  sink.complete(); // the server's complete, handled in the same socket read
  t.is(calls.unsubscribe, 0);
  await tick();
  t.is(calls.unsubscribe, 1);
});

test('complete ends a pending read', async (t) => {
  const { sub, sink } = harness();
  const pending = sub.next();
  sink.complete();
  t.deepEqual(await pending, { value: undefined, done: true });
});

test('close() unsubscribes once and ends the iteration', async (t) => {
  const { sub, calls } = harness();
  const pending = sub.next();
  sub.close();
  sub.close();
  t.is(calls.unsubscribe, 1);
  t.deepEqual(await pending, { value: undefined, done: true });
});

test('breaking out of for await closes the subscription', async (t) => {
  const { sub, sink, calls } = harness();
  sink.next({ data: { n: 1 } });
  for await (const v of sub) {
    t.is(v.n, 1);
    break;
  }
  t.is(calls.unsubscribe, 1);
});

test('a socket close 4403 rejects with UNAUTHENTICATED', async (t) => {
  const { sub, sink } = harness();
  sink.error({ code: 4403, reason: 'Forbidden' });
  const err = await t.throwsAsync(sub.next(), { instanceOf: FlintApiError });
  t.is(err.code, 'UNAUTHENTICATED');
});
