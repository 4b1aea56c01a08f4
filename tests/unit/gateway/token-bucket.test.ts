/** `TokenBuckets` of src/gateway/limits/token-bucket.ts, on a clock moved by hand. */
import test from 'ava';
import { retryAfterSeconds, TokenBuckets } from '../../../src/gateway/limits/index.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

test('a new key may take its whole burst at once, then waits', (t) => {
  const c = clock();
  const b = new TokenBuckets({ ratePerSecond: 2, burst: 3 }, { now: c.now });
  t.is(b.take('k'), 0);
  t.is(b.take('k'), 0);
  t.is(b.take('k'), 0);
  t.is(b.take('k'), 0.5);
});

test('tokens come back at the rate, up to the burst', (t) => {
  const c = clock();
  const b = new TokenBuckets({ ratePerSecond: 2, burst: 3 }, { now: c.now });
  for (let i = 0; i < 3; i++) b.take('k');
  c.advance(500);
  t.is(b.take('k'), 0);
  t.true(b.take('k') > 0);
  c.advance(60_000);
  for (let i = 0; i < 3; i++) t.is(b.take('k'), 0);
  t.true(b.take('k') > 0);
});

test('a refused take takes nothing', (t) => {
  const c = clock();
  const b = new TokenBuckets({ ratePerSecond: 1, burst: 1 }, { now: c.now });
  b.take('k');
  t.is(b.take('k'), 1);
  t.is(b.take('k'), 1);
  c.advance(1000);
  t.is(b.take('k'), 0);
});

test('taking several at once waits for all of them', (t) => {
  const c = clock();
  const b = new TokenBuckets({ ratePerSecond: 10, burst: 10 }, { now: c.now });
  t.is(b.take('k', 8), 0);
  t.is(b.take('k', 5), 0.3);
  t.is(b.wait('k', 2), 0);
  t.is(b.take('k', 2), 0);
});

test('keys have buckets of their own', (t) => {
  const c = clock();
  const b = new TokenBuckets({ ratePerSecond: 1, burst: 1 }, { now: c.now });
  t.is(b.take('a'), 0);
  t.true(b.take('a') > 0);
  t.is(b.take('b'), 0);
});

test('wait reports without taking', (t) => {
  const c = clock();
  const b = new TokenBuckets({ ratePerSecond: 1, burst: 2 }, { now: c.now });
  t.is(b.wait('k'), 0);
  b.take('k', 2);
  t.is(b.wait('k'), 1);
  t.is(b.wait('k'), 1);
});

test('memory stays bounded however many keys come: full buckets go first, then the least recently used', (t) => {
  const c = clock();
  const b = new TokenBuckets({ ratePerSecond: 1, burst: 5 }, { now: c.now, maxKeys: 100 });
  b.take('busy', 5);
  for (let i = 0; i < 1000; i++) {
    b.take(`k${i}`);
    if (i % 50 === 0) b.take('busy', 0); // keeps 'busy' recently used
  }
  t.true(b.size <= 100);
  // 'busy' was emptied and kept: it is still refused.
  t.true(b.take('busy', 5) > 0);
});

test('a bucket needs a positive rate and a burst of at least one', (t) => {
  t.throws(() => new TokenBuckets({ ratePerSecond: 0, burst: 1 }));
  t.throws(() => new TokenBuckets({ ratePerSecond: 1, burst: 0 }));
});

test('Retry-After is whole seconds, at least one', (t) => {
  t.is(retryAfterSeconds(0.01), 1);
  t.is(retryAfterSeconds(1), 1);
  t.is(retryAfterSeconds(1.2), 2);
});
