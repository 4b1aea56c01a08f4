import test from 'ava';
import { busHold, HOLD_AT_MOST, holdMs, streamHasQuorum } from '../../../src/domain/bus-hold.js';

test('an operation gets half the timeout after the probe, 5 s to 5 min', (t) => {
  t.is(holdMs(60), 30_000);
  t.is(holdMs(4), 5_000);
  t.is(holdMs(3600), 300_000);
});

test('a hold reaches only operations younger than HOLD_AT_MOST timeouts, so a gateway cut off from the bus cannot hold them for ever', (t) => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const hold = busHold(now, 60);
  t.is(hold.deadlineAt.getTime(), now + 30_000);
  t.is(hold.createdAfter.getTime(), now - HOLD_AT_MOST * 60_000);
});

test('a stream of three works with its leader and one current follower, not with both followers behind or without a leader', (t) => {
  const f = (name: string, current: boolean) => ({ name, current });
  t.true(streamHasQuorum({ replicas: 3, leader: 'n1', followers: [f('n2', true), f('n3', true)] }));
  t.true(streamHasQuorum({ replicas: 3, leader: 'n1', followers: [f('n2', true), f('n3', false)] }), 'one node down');
  t.false(streamHasQuorum({ replicas: 3, leader: 'n1', followers: [f('n2', false), f('n3', false)] }), 'both followers resetting their copy');
  t.false(streamHasQuorum({ replicas: 3, leader: undefined, followers: [f('n2', true), f('n3', true)] }), 'no leader');
  t.true(streamHasQuorum({ replicas: 1, followers: [] }), 'one replica: nothing to wait for');
  t.false(streamHasQuorum({ replicas: 5, leader: 'n1', followers: [f('n2', true), f('n3', false), f('n4', false), f('n5', false)] }));
});
