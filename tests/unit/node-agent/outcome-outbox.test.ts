import test from 'ava';
import { OutcomeOutbox } from '../../../src/node-agent/outcome-outbox.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A bus that refuses publishes while `down`, and remembers what went out. */
function bus() {
  const state = { down: true, sent: [] as string[], tries: 0 };
  const publish = async (_subject: string, _kind: string, _payload: unknown, msgId: string) => {
    state.tries += 1;
    if (state.down) throw new Error('jetstream is not enabled: no responders');
    state.sent.push(msgId);
  };
  return { state, publish };
}

async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
}

test('a message whose publish failed goes out in the background once the bus takes it, with no redelivery of its command', async (t) => {
  const b = bus();
  const outbox = new OutcomeOutbox(b.publish, quiet, { firstRetryMs: 10, maxRetryMs: 40 });
  await t.throwsAsync(outbox.emit('s', 'k', {}, 'op1:delete.succeeded:1:h'), { message: /no responders/ });
  await t.throwsAsync(outbox.emit('s', 'k', {}, 'op2:create.succeeded:1:h'));
  t.is(outbox.size, 2);
  await sleep(60);
  t.true(b.state.tries > 2, 'it kept trying while the bus was away');
  t.deepEqual(b.state.sent, []);
  b.state.down = false;
  await until(() => b.state.sent.length === 2);
  t.deepEqual(b.state.sent, ['op1:delete.succeeded:1:h', 'op2:create.succeeded:1:h'], 'in the order they failed');
  t.is(outbox.size, 0);
  await outbox.stop();
});

test('a held message that its command\'s replay publishes first is not held any more', async (t) => {
  const b = bus();
  const outbox = new OutcomeOutbox(b.publish, quiet, { firstRetryMs: 200, maxRetryMs: 200 });
  await t.throwsAsync(outbox.emit('s', 'k', {}, 'm1'));
  b.state.down = false;
  await outbox.emit('s', 'k', {}, 'm1');
  t.is(outbox.size, 0);
  await sleep(300);
  t.deepEqual(b.state.sent, ['m1'], 'published once');
  await outbox.stop();
});

test('stop ends the background tries', async (t) => {
  const b = bus();
  const outbox = new OutcomeOutbox(b.publish, quiet, { firstRetryMs: 10, maxRetryMs: 10 });
  await t.throwsAsync(outbox.emit('s', 'k', {}, 'm1'));
  await outbox.stop();
  const tries = b.state.tries;
  b.state.down = false;
  await sleep(50);
  t.is(b.state.tries, tries);
  t.deepEqual(b.state.sent, []);
});

test('past its bound the outbox drops the oldest held message', async (t) => {
  const b = bus();
  const outbox = new OutcomeOutbox(b.publish, quiet, { firstRetryMs: 30, maxRetryMs: 30, maxHeld: 2 });
  for (const id of ['m1', 'm2', 'm3']) await t.throwsAsync(outbox.emit('s', 'k', {}, id));
  t.is(outbox.size, 2);
  b.state.down = false;
  await until(() => b.state.sent.length === 2);
  t.deepEqual(b.state.sent, ['m2', 'm3']);
  await outbox.stop();
});
