import test from 'ava';
import { StopStack } from '../../../src/lifecycle/index.js';

test('stops run newest first, each awaited before the next', async (t) => {
  const stack = new StopStack();
  const order: string[] = [];
  for (const what of ['bus', 'targets', 'consumer']) {
    stack.push(what, async () => {
      order.push(`${what} start`);
      await new Promise((r) => setTimeout(r, 5));
      order.push(`${what} end`);
    });
  }
  await stack.unwind();
  t.deepEqual(order, ['consumer start', 'consumer end', 'targets start', 'targets end', 'bus start', 'bus end']);
});

test('a failing stop is reported and the others still run', async (t) => {
  const stack = new StopStack();
  const ran: string[] = [];
  const failed: string[] = [];
  stack.push('a', () => ran.push('a'));
  stack.push('b', () => {
    throw new Error('b broke');
  });
  stack.push('c', () => ran.push('c'));
  const steps: string[] = [];
  await stack.unwind((err, what) => failed.push(`${what}: ${(err as Error).message}`), (what) => steps.push(what));
  t.deepEqual(ran, ['c', 'a']);
  t.deepEqual(failed, ['b: b broke']);
  t.deepEqual(steps, ['c', 'b', 'a']);
});

test('unwinding twice runs each stop once, and nothing can be registered once stopping', async (t) => {
  const stack = new StopStack();
  let runs = 0;
  stack.push('x', () => runs++);
  await Promise.all([stack.unwind(), stack.unwind()]);
  t.is(runs, 1);
  t.throws(() => stack.push('late', () => undefined), { message: 'cannot register the stop of late: already stopping' });
});
