/** `ConnectionCounter` of src/gateway/limits/connection-counter.ts. */
import test from 'ava';
import { ConnectionCounter } from '../../../src/gateway/limits/index.js';

test('a key opens up to the maximum, and one more after one closes', (t) => {
  const c = new ConnectionCounter(2);
  t.true(c.tryOpen('k'));
  t.true(c.tryOpen('k'));
  t.false(c.tryOpen('k'));
  t.is(c.count('k'), 2);
  c.close('k');
  t.true(c.tryOpen('k'));
});

test('keys are counted apart, and a closed key is forgotten', (t) => {
  const c = new ConnectionCounter(1);
  t.true(c.tryOpen('a'));
  t.true(c.tryOpen('b'));
  c.close('a');
  c.close('a');
  t.is(c.count('a'), 0);
  t.true(c.tryOpen('a'));
});
