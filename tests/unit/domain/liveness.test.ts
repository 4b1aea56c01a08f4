/** The heartbeat liveness rule of src/domain/liveness.ts. */
import test from 'ava';
import { downAt, isUp, MISSED_BEATS_DOWN, silenceLimitMs, staleBefore } from '../../../src/domain/liveness.js';

const beat = '2024-05-01T12:00:00.000Z';
const beatMs = Date.parse(beat);

test('a sender may miss three heartbeats and still be UP', (t) => {
  t.is(MISSED_BEATS_DOWN, 3);
  t.is(silenceLimitMs(10), 30_000);
});

test('a sender is UP up to three intervals after its last heartbeat, and DOWN after', (t) => {
  t.true(isUp(beat, 10, beatMs));
  t.true(isUp(beat, 10, beatMs + 30_000));
  t.false(isUp(beat, 10, beatMs + 30_001));
});

test('a heartbeat given as a Date counts like its ISO text', (t) => {
  t.true(isUp(new Date(beatMs), 5, beatMs + 15_000));
  t.false(isUp(new Date(beatMs), 5, beatMs + 15_001));
});

test('an unreadable heartbeat time is DOWN', (t) => {
  t.false(isUp('not a time', 10, beatMs));
  t.true(Number.isNaN(downAt('not a time', 10)));
});

test('downAt is the last heartbeat plus three intervals', (t) => {
  t.is(downAt(beat, 10), beatMs + 30_000);
});

test('staleBefore is now less three intervals: a heartbeat older than it is DOWN', (t) => {
  const now = beatMs + 60_000;
  const limit = staleBefore(10, now);
  t.is(limit.getTime(), now - 30_000);
  t.false(isUp(new Date(limit.getTime() - 1), 10, now));
  t.true(isUp(limit, 10, now));
});
