import test from 'ava';
import { OutboxRetries } from '../../../src/gateway/sweepers/outbox.js';

test('a failed command waits twice as long after each failure, up to the cap', (t) => {
  const r = new OutboxRetries(1000, 8000);
  t.deepEqual(r.failed('op', 0), { attempts: 1, nextAt: 1000 });
  t.deepEqual(r.failed('op', 1000), { attempts: 2, nextAt: 3000 });
  t.deepEqual(r.failed('op', 3000), { attempts: 3, nextAt: 7000 });
  t.deepEqual(r.failed('op', 7000), { attempts: 4, nextAt: 15000 });
  t.deepEqual(r.failed('op', 15000), { attempts: 5, nextAt: 23000 });
});

test('only commands still waiting are left out of a sweep; a success forgets the failures', (t) => {
  const r = new OutboxRetries(1000, 8000);
  r.failed('a', 0);
  r.failed('b', 500);
  t.deepEqual(r.waiting(999), ['a', 'b']);
  t.deepEqual(r.waiting(1000), ['b']);
  t.deepEqual(r.waiting(1500), []);
  r.succeeded('a');
  t.is(r.failed('a', 2000).attempts, 1);
});

test('the failures remembered are bounded', (t) => {
  const r = new OutboxRetries(1000, 8000, 2);
  r.failed('a', 0);
  r.failed('b', 0);
  r.failed('c', 0);
  t.deepEqual(r.waiting(0), ['b', 'c']);
});
