/**
 * What the API limits cost (issue 11): `volume(id)` requests per second against a gateway
 * with the limits on and one with them off (FLINT_API_LIMITS=false), each in a Flint of
 * its own (tests/helpers/cluster.ts: nats-server, gateway and scheduler processes, no
 * agent; the volume read stays where the scheduler left it).
 *
 * Two identical gateway processes differ by several percent by themselves (an A/A run
 * of this bench, both off, measured 6–7%: code and memory layout, who shares a core), so
 * the run is in phases: each phase restarts both gateways, the limits on in one Flint and
 * off in the other, swapping every phase, and alternates short rounds between them. Each
 * round's two runs are compared with each other (paired), and the figure is the median of
 * those ratios over every phase: load drifting on a shared machine moves both halves of a
 * pair alike, and each setting runs in as many processes in each Flint.
 *
 * Besides requests per second, each round reads the CPU time the gateway process used
 * (/proc), per request: it swings less with other work than throughput does, and it is
 * what bounds throughput once the gateway has a core to itself.
 *
 * With the limits on, every check runs on every request: the token bucket, the operation's
 * shape and cost, the deadline on each resolver. The token's rate is raised so the bucket
 * is consulted but never refuses: the rate limit caps one token by design, and this
 * measures what the checks cost, not the cap.
 *
 *   node dist/bench/run.js --only api-limits [--quick]
 */
import { startCluster, type Cluster } from '../tests/helpers/cluster.js';
import type { Cleanup } from './cleanup.js';
import { closedLoop, gatewayPid, measuredRound, median } from './http-load.js';
import { round } from './stats.js';

const QUERY = 'query ($id: ID!) { volume(id: $id) { id name status sizeGiB version createdAt } }';

export interface ApiLimitsBenchResult {
  concurrency: number;
  roundSeconds: number;
  /** Phases (gateway restarts, settings swapped) and paired rounds in each. */
  phases: number;
  rounds: number;
  /** Requests per second of each round, in the order they ran. */
  on: number[];
  off: number[];
  medianOn: number;
  medianOff: number;
  /** Median over rounds of (off − on) / off, in percent: what the limits cost in throughput; negative is noise in their favour. */
  overheadPercent: number;
  /** Gateway CPU time per request (µs) of each round, and medians. */
  cpuOn: number[];
  cpuOff: number[];
  medianCpuOn: number;
  medianCpuOff: number;
  /** Median over rounds of (on − off) / off, in percent: what the limits cost in gateway CPU per request. */
  cpuOverheadPercent: number;
}

interface Target {
  cluster: Cluster;
  volumeId: string;
  pid: string;
}

/** `concurrency` closed loops of `volume(id)` (an admin token's, or one of its project) for `seconds`: completed requests per second. Any failure ends the run. */
export function load(url: string, token: string, volumeId: string, concurrency: number, seconds: number): Promise<number> {
  return closedLoop({ url, token, query: QUERY, variables: { id: volumeId } }, concurrency, seconds);
}

/** One round: requests per second, and the gateway's CPU microseconds per request. */
function measure(t: Target, concurrency: number, seconds: number): Promise<{ rps: number; cpuUs: number }> {
  return measuredRound({ url: t.cluster.url, token: t.cluster.adminToken, query: QUERY, variables: { id: t.volumeId } }, t.pid, concurrency, seconds);
}

export async function createVolume(cluster: Cluster): Promise<string> {
  const res = await fetch(cluster.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${cluster.adminToken}` },
    body: JSON.stringify({ query: 'mutation { createVolume(input: { name: "bench", sizeGiB: 1 }) { volume { id } } }' }),
  });
  const r = (await res.json()) as { data?: { createVolume: { volume: { id: string } } }; errors?: unknown };
  if (!r.data) throw new Error(`createVolume failed: ${JSON.stringify(r.errors)}`);
  return r.data.createVolume.volume.id;
}

const ON: NodeJS.ProcessEnv = { FLINT_API_LIMITS: 'true', FLINT_API_RATE_PER_SECOND: '1000000', FLINT_API_RATE_BURST: '1000000' };
const OFF: NodeJS.ProcessEnv = { FLINT_API_LIMITS: 'false' };

export async function apiLimitsBench(opts: { quick: boolean; log: (msg: string) => void; cleanup: Cleanup }): Promise<ApiLimitsBenchResult> {
  const concurrency = 16;
  const roundSeconds = opts.quick ? 2 : 3;
  const phases = opts.quick ? 2 : 4;
  const rounds = opts.quick ? 2 : 4;
  opts.log('api limits: starting two Flints (nats-server, gateway, scheduler)');
  const flints: Cluster[] = [];
  for (const name of ['a', 'b']) {
    const c = await startCluster({ database: 'sqlite', agents: [], env: { FLINT_LOG_LEVEL: 'warn' } });
    opts.cleanup.add(`api limits: Flint ${name}`, () => c.stop());
    flints.push(c);
  }
  const volumeIds = [await createVolume(flints[0]!), await createVolume(flints[1]!)];
  const port = (c: Cluster) => new URL(c.url).port;

  const rps = { on: [] as number[], off: [] as number[] };
  const cpu = { on: [] as number[], off: [] as number[] };
  for (let phase = 0; phase < phases; phase++) {
    // Phase 0: limits on in Flint a; phase 1: in Flint b; and so on.
    const onIndex = phase % 2;
    await Promise.all(flints.map((c, i) => c.restartGateway(i === onIndex ? ON : OFF)));
    const targets = {
      on: { cluster: flints[onIndex]!, volumeId: volumeIds[onIndex]!, pid: gatewayPid(port(flints[onIndex]!)) },
      off: { cluster: flints[1 - onIndex]!, volumeId: volumeIds[1 - onIndex]!, pid: gatewayPid(port(flints[1 - onIndex]!)) },
    };
    opts.log(`api limits: phase ${phase + 1} of ${phases} (limits on in Flint ${'ab'[onIndex]}): warm-up, then ${rounds} paired rounds of ${roundSeconds} s, ${concurrency} clients`);
    // Long enough for the JIT to settle in both: the first seconds cost twice as much.
    await measure(targets.on, concurrency, opts.quick ? 2 : 5);
    await measure(targets.off, concurrency, opts.quick ? 2 : 5);
    for (let i = 0; i < rounds; i++) {
      // Alternate which goes first, so neither always follows the other.
      const order = i % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const which of order) {
        const m = await measure(targets[which], concurrency, roundSeconds);
        rps[which].push(m.rps);
        cpu[which].push(m.cpuUs);
      }
      opts.log(`api limits:   on ${rps.on.at(-1)!.toFixed(0)}/s ${cpu.on.at(-1)!.toFixed(0)} µs, off ${rps.off.at(-1)!.toFixed(0)}/s ${cpu.off.at(-1)!.toFixed(0)} µs`);
    }
  }
  return {
    concurrency,
    roundSeconds,
    phases,
    rounds,
    on: rps.on.map((v) => round(v, 1)),
    off: rps.off.map((v) => round(v, 1)),
    medianOn: round(median(rps.on), 1),
    medianOff: round(median(rps.off), 1),
    overheadPercent: round(median(rps.on.map((v, i) => (rps.off[i]! - v) / rps.off[i]!)) * 100, 2),
    cpuOn: cpu.on.map((v) => round(v, 1)),
    cpuOff: cpu.off.map((v) => round(v, 1)),
    medianCpuOn: round(median(cpu.on), 1),
    medianCpuOff: round(median(cpu.off), 1),
    cpuOverheadPercent: round(median(cpu.on.map((v, i) => (v - cpu.off[i]!) / cpu.off[i]!)) * 100, 2),
  };
}

export function printApiLimitsBench(r: ApiLimitsBenchResult): void {
  console.log(`\nvolume(id) requests per second, ${r.concurrency} clients, ${r.phases} phases (gateways restarted, settings swapped between the two Flints) of ${r.rounds} paired rounds of ${r.roundSeconds} s`);
  console.log(`  limits on   median ${r.medianOn.toFixed(1)}/s, ${r.medianCpuOn.toFixed(0)} µs gateway CPU per request   rounds ${r.on.join(' ')}`);
  console.log(`  limits off  median ${r.medianOff.toFixed(1)}/s, ${r.medianCpuOff.toFixed(0)} µs gateway CPU per request   rounds ${r.off.join(' ')}`);
  console.log(`  cost of the limits (median of the paired rounds): ${r.overheadPercent.toFixed(2)}% of throughput, ${r.cpuOverheadPercent.toFixed(2)}% of gateway CPU per request (target: under 5%)`);
}
