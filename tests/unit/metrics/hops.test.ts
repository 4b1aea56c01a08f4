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

test('the breakdown takes each hop first time, skips creates that missed one, and measures the chain and the acks beside it', (t) => {
  const line = (operationId: string, h: string, at: number) => JSON.stringify({ level: 10, hop: h, operationId, at, msg: 'hop' });
  // As a real create: each publish is acknowledged after its consumer already has the message.
  const a: Record<string, number> = {
    'gateway.committed': 100,
    'scheduler.received': 101,
    'gateway.published': 102,
    'agent.received': 104,
    'scheduler.placed': 105,
    'agent.done': 110,
    'gateway.recorded': 113,
  };
  const lines = [
    ...Object.entries(a).map(([h, at]) => line('a', h, at)),
    line('a', 'agent.received', 500), // a redelivery: the first time counts
    ...HOPS.slice(0, 3).map((h, i) => line('b', h, 100 + i)), // never reached the agent
    'not json',
    '{"msg":"volume created"}',
  ];
  const segments = hopBreakdown(
    [
      { operationId: 'a', sentAt: 97, seenAt: 117 },
      { operationId: 'b', sentAt: 99, seenAt: 200 },
    ],
    hopTimes(lines),
  );
  t.true(segments.every((s) => s.n === 1), 'b is left out');
  t.deepEqual(Object.fromEntries(segments.map((s) => [s.segment, s.p50Ms])), {
    'gateway: request read, checked, committed': 3,
    'command to the scheduler (JetStream)': 1,
    'scheduler: pool picked and reserved; command to the agent': 3,
    'agent: image made, outcome sent': 6,
    'gateway: outcome received and committed': 3,
    'subscriber: event delivered': 4,
    '(beside) gateway: until JetStream acks the command': 2,
    '(beside) scheduler: until JetStream acks the agent command': 4,
  });
  const chain = segments.filter((s) => !s.segment.startsWith('(beside)')).reduce((sum, s) => sum + s.p50Ms, 0);
  t.is(chain, 117 - 97, 'the chain adds up to the latency');
});
