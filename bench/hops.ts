/**
 * The per-hop breakdown of creates: where the time between a client's POST and its
 * subscription's AVAILABLE goes. The roles log each hop at level `trace` (src/metrics/hops.ts);
 * the client knows when it sent the request and when the event came. Pure: the log lines and the
 * client's times are passed in.
 */
import { HOPS, type Hop } from '../src/metrics/hops.js';
import { percentile, round } from './stats.js';

/** One create as its client saw it, in milliseconds since the epoch. */
export interface ClientTimes {
  operationId: string;
  sentAt: number;
  seenAt: number;
}

export interface HopSegment {
  /** `from → to`. */
  segment: string;
  n: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * The chain a create passes, each point caused by the one before: its segments add up to the
 * latency. A publish's acknowledgement comes back after the consumer already has the message,
 * so the acks are shown beside the chain (`alongside`), not in it.
 */
const CHAIN = ['sent', 'gateway.committed', 'scheduler.received', 'agent.received', 'agent.done', 'gateway.recorded', 'seen'] as const;
type Point = (typeof CHAIN)[number] | Hop;
const SEGMENT_NAMES: Record<string, string> = {
  'sent→gateway.committed': 'gateway: request read, checked, committed',
  'gateway.committed→scheduler.received': 'command to the scheduler (JetStream)',
  'scheduler.received→agent.received': 'scheduler: pool picked and reserved; command to the agent',
  'agent.received→agent.done': 'agent: image made, outcome sent',
  'agent.done→gateway.recorded': 'gateway: outcome received and committed',
  'gateway.recorded→seen': 'subscriber: event delivered',
};
const ALONGSIDE: ReadonlyArray<readonly [Hop, Hop, string]> = [
  ['gateway.committed', 'gateway.published', '(beside) gateway: until JetStream acks the command'],
  ['scheduler.received', 'scheduler.placed', '(beside) scheduler: until JetStream acks the agent command'],
];

/** Each operation's first time at each hop, from the roles' JSON log lines. */
export function hopTimes(lines: Iterable<string>): Map<string, Partial<Record<Hop, number>>> {
  const out = new Map<string, Partial<Record<Hop, number>>>();
  for (const line of lines) {
    if (!line.includes('"hop":"')) continue;
    let rec: { hop?: string; operationId?: string; at?: number };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (!rec.operationId || typeof rec.at !== 'number' || !(HOPS as readonly string[]).includes(rec.hop ?? '')) continue;
    const times = out.get(rec.operationId) ?? {};
    const h = rec.hop as Hop;
    if (times[h] === undefined) times[h] = rec.at;
    out.set(rec.operationId, times);
  }
  return out;
}

/** The p50 and p99 of each segment of the chain (and of the acks beside it) over the creates that passed every hop. */
export function hopBreakdown(clients: readonly ClientTimes[], times: Map<string, Partial<Record<Hop, number>>>): HopSegment[] {
  const deltas = new Map<string, number[]>();
  const add = (name: string, v: number) => deltas.set(name, [...(deltas.get(name) ?? []), v]);
  for (const c of clients) {
    const t = times.get(c.operationId);
    if (!t || HOPS.some((h) => t[h] === undefined)) continue;
    const at = (p: Point) => (p === 'sent' ? c.sentAt : p === 'seen' ? c.seenAt : t[p]!);
    for (let i = 1; i < CHAIN.length; i++) {
      const key = `${CHAIN[i - 1]}→${CHAIN[i]}`;
      add(SEGMENT_NAMES[key] ?? key, at(CHAIN[i]!) - at(CHAIN[i - 1]!));
    }
    for (const [from, to, name] of ALONGSIDE) add(name, at(to) - at(from));
  }
  return [...deltas].map(([segment, values]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { segment, n: sorted.length, p50Ms: round(percentile(sorted, 50), 2), p99Ms: round(percentile(sorted, 99), 2) };
  });
}

export function formatHops(title: string, segments: readonly HopSegment[]): string[] {
  if (segments.length === 0) return [`${title}: no create passed every hop (is FLINT_LOG_LEVEL=trace set on the roles?)`];
  const total = segments.filter((x) => !x.segment.startsWith('(beside)')).reduce((s, x) => s + x.p50Ms, 0);
  return [
    `${title} (n=${segments[0]!.n}; p50s add up to ${round(total, 1)} ms):`,
    ...segments.map((s) => `  ${s.segment.padEnd(58)} p50 ${s.p50Ms.toFixed(2).padStart(8)} ms   p99 ${s.p99Ms.toFixed(2).padStart(8)} ms`),
  ];
}
