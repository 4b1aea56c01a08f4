/** `AuthFailureGuard` of src/gateway/limits/auth-guard.ts: failed authentication slowed per address, good tokens never locked out. */
import test from 'ava';
import { AuthFailureGuard } from '../../../src/gateway/limits/index.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

test('an address may fail as often as the limit per minute, then its tokens wait', (t) => {
  const c = clock();
  const g = new AuthFailureGuard(3, { now: c.now });
  for (let i = 0; i < 3; i++) {
    t.is(g.wait('10.0.0.1', `bad${i}`), 0);
    g.failed('10.0.0.1');
  }
  t.is(g.wait('10.0.0.1', 'bad3'), 20);
});

test('one more try comes back per sixtieth of a minute over the limit', (t) => {
  const c = clock();
  const g = new AuthFailureGuard(6, { now: c.now });
  for (let i = 0; i < 6; i++) g.failed('a');
  t.true(g.wait('a', 'x') > 0);
  c.advance(10_000);
  t.is(g.wait('a', 'x'), 0);
  g.failed('a');
  t.is(g.wait('a', 'y'), 10);
});

test('a token that authenticated before is checked even from a blocked address', (t) => {
  const c = clock();
  const g = new AuthFailureGuard(1, { now: c.now });
  g.succeeded('flint_good');
  g.failed('shared-nat');
  t.is(g.wait('shared-nat', 'flint_good'), 0);
  t.true(g.wait('shared-nat', 'flint_unknown') > 0);
});

test('a token stops counting as known a day after it last authenticated', (t) => {
  const c = clock();
  const g = new AuthFailureGuard(1, { now: c.now });
  g.succeeded('flint_good');
  c.advance(23 * 3600_000);
  g.succeeded('flint_good');
  c.advance(23 * 3600_000);
  g.failed('a');
  t.is(g.wait('a', 'flint_good'), 0);
  c.advance(2 * 3600_000);
  g.failed('a');
  t.true(g.wait('a', 'flint_good') > 0);
});

test('failures of one address do not block another', (t) => {
  const g = new AuthFailureGuard(1, { now: () => 0 });
  g.failed('a');
  t.true(g.wait('a', 'x') > 0);
  t.is(g.wait('b', 'x'), 0);
});
