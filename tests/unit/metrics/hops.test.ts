import test from 'ava';
import { pino } from 'pino';
import { hop, HOPS } from '../../../src/metrics/hops.js';
import { hopBreakdown, hopTimes } from '../../../bench/hops.js';

function capture(level: string) {
  const lines: string[] = [];
  const log = pino({ level }, { write: (s: string) => lines.push(s) });
  return { log, lines };
}

test('hop logs one trace line with the operation and a time to the microsecond, and nothing above trace', (t) => {
  const on = capture('trace');
  const before = Date.now();
  hop(on.log, 'agent.received', 'op-1');
  t.is(on.lines.length, 1);
  const rec = JSON.parse(on.lines[0]!) as { hop: string; operationId: string; at: number; level: number };
  t.like(rec, { hop: 'agent.received', operationId: 'op-1', level: 10 });
  t.true(rec.at >= before - 1 && rec.at <= Date.now() + 1);
  const off = capture('debug');
  hop(off.log, 'agent.received', 'op-1');
  t.is(off.lines.length, 0);
});

test('a logger bound to an operation names it without being told', (t) => {
  const { log, lines } = capture('trace');
  hop(log.child({ operationId: 'op-2' }), 'scheduler.placed');
  t.like(JSON.parse(lines[0]!), { hop: 'scheduler.placed', operationId: 'op-2' });
});

test('the breakdown takes each hop first time, skips creates that missed one, and measures each segment', (t) => {
  const line = (operationId: string, h: string, at: number) => JSON.stringify({ level: 10, hop: h, operationId, at, msg: 'hop' });
  const lines = [
    ...HOPS.map((h, i) => line('a', h, 100 + i * 2)),
    line('a', 'agent.received', 500), // a redelivery: the first time counts
    ...HOPS.slice(0, 3).map((h, i) => line('b', h, 100 + i)), // never reached the agent
    'not json',
    '{"msg":"volume created"}',
  ];
  const segments = hopBreakdown(
    [
      { operationId: 'a', sentAt: 99, seenAt: 100 + (HOPS.length - 1) * 2 + 3 },
      { operationId: 'b', sentAt: 99, seenAt: 200 },
    ],
    hopTimes(lines),
  );
  t.is(segments.length, HOPS.length + 1);
  t.true(segments.every((s) => s.n === 1));
  t.deepEqual(
    segments.map((s) => s.p50Ms),
    [1, ...HOPS.slice(1).map(() => 2), 3],
  );
});
