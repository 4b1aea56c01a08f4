import test from 'ava';
import { TokenUsage } from '../../../src/gateway/http/token-usage.js';

test('a token is queued for a write once per interval, with its latest use', (t) => {
  const u = new TokenUsage(60_000);
  u.seen('a', 0);
  u.seen('a', 10);
  u.seen('b', 20);
  t.deepEqual([...u.take()], [['a', 0], ['b', 20]]);
  u.seen('a', 59_999);
  t.is(u.take().size, 0);
  u.seen('a', 60_000);
  t.deepEqual([...u.take()], [['a', 60_000]]);
});

test('a failed write is put back without losing a newer use', (t) => {
  const u = new TokenUsage(60_000);
  u.seen('a', 0);
  const batch = u.take();
  u.seen('a', 70_000);
  u.requeue(batch);
  t.deepEqual([...u.take()], [['a', 70_000]]);
  u.requeue(new Map([['b', 5]]));
  t.deepEqual([...u.take()], [['b', 5]]);
});

test('the memory of write times is bounded', (t) => {
  const u = new TokenUsage(60_000, 2);
  u.seen('a', 0);
  u.seen('b', 0);
  u.seen('c', 0);
  u.take();
  // 'a' was forgotten, so its next use is queued again although the interval has not passed.
  u.seen('a', 1);
  u.seen('c', 1);
  t.deepEqual([...u.take().keys()], ['a']);
});
