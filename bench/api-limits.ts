/**
 * What the API limits cost (issue 11): `volume(id)` requests per second against a gateway
 * with the limits on and one with them off (FLINT_API_LIMITS=false), each in a Flint of
 * its own (tests/helpers/cluster.ts: nats-server, gateway and scheduler processes, no
 * agent; the volume read stays where the scheduler left it). The rounds alternate between
 * the two, so load from elsewhere on the machine falls on both alike; the figure is the
 * median of the rounds.
 *
 * With the limits on, every check runs on every request: the token bucket, the operation's
 * shape and cost, the deadline on each resolver. The token's rate is raised so the bucket
 * is consulted but never refuses: the rate limit caps one token by design, and this
 * measures what the checks cost, not the cap.
 *
 *   node dist/bench/run.js --only api-limits [--quick]
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { startCluster, type Cluster } from '../tests/helpers/cluster.js';
import type { Cleanup } from './cleanup.js';
import { round } from './stats.js';

const QUERY = 'query ($id: ID!) { volume(id: $id) { id name status sizeGiB version createdAt } }';

export interface ApiLimitsBenchResult {
  concurrency: number;
  roundSeconds: number;
  rounds: number;
  /** Requests per second of each round, in the order they ran. */
  on: number[];
  off: number[];
  medianOn: number;
  medianOff: number;
  /** (off − on) / off, in percent: what the limits cost; negative is noise in their favour. */
  overheadPercent: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** POSTs `body` over a keep-alive agent; resolves with the status and the body. */
function post(agent: Agent, url: URL, token: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `concurrency` closed loops of `volume(id)` for `seconds`: completed requests per second. Any failure ends the run. */
async function measure(url: string, token: string, volumeId: string, concurrency: number, seconds: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const body = JSON.stringify({ query: QUERY, variables: { id: volumeId } });
  let done = 0;
  const until = performance.now() + seconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          const r = await post(agent, target, token, body);
          if (r.status !== 200 || r.text.includes('"errors"')) throw new Error(`volume(id) failed: HTTP ${r.status} ${r.text.slice(0, 300)}`);
          done += 1;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return done / seconds;
}

async function createVolume(cluster: Cluster): Promise<string> {
  const res = await fetch(cluster.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${cluster.adminToken}` },
    body: JSON.stringify({ query: 'mutation { createVolume(input: { name: "bench", sizeGiB: 1 }) { volume { id } } }' }),
  });
  const r = (await res.json()) as { data?: { createVolume: { volume: { id: string } } }; errors?: unknown };
  if (!r.data) throw new Error(`createVolume failed: ${JSON.stringify(r.errors)}`);
  return r.data.createVolume.volume.id;
}

export async function apiLimitsBench(opts: { quick: boolean; log: (msg: string) => void; cleanup: Cleanup }): Promise<ApiLimitsBenchResult> {
  const concurrency = 16;
  const roundSeconds = opts.quick ? 2 : 5;
  const rounds = opts.quick ? 3 : 7;
  opts.log('api limits: starting two Flints (nats-server, gateway, scheduler), limits on and off');
  const on = await startCluster({ database: 'sqlite', agents: [], env: { FLINT_LOG_LEVEL: 'warn', FLINT_API_RATE_PER_SECOND: '1000000', FLINT_API_RATE_BURST: '1000000' } });
  opts.cleanup.add('api limits: cluster with limits', () => on.stop());
  const off = await startCluster({ database: 'sqlite', agents: [], env: { FLINT_LOG_LEVEL: 'warn', FLINT_API_LIMITS: 'false' } });
  opts.cleanup.add('api limits: cluster without limits', () => off.stop());
  const volumes = { on: await createVolume(on), off: await createVolume(off) };

  opts.log(`api limits: warm-up, then ${rounds} rounds of ${roundSeconds} s each way, ${concurrency} clients`);
  await measure(on.url, on.adminToken, volumes.on, concurrency, 1);
  await measure(off.url, off.adminToken, volumes.off, concurrency, 1);
  const result = { on: [] as number[], off: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so neither always follows the other.
    const order = i % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
    for (const which of order) {
      const c = which === 'on' ? on : off;
      result[which].push(await measure(c.url, c.adminToken, volumes[which], concurrency, roundSeconds));
    }
    opts.log(`api limits: round ${i + 1}: on ${result.on.at(-1)!.toFixed(0)}/s, off ${result.off.at(-1)!.toFixed(0)}/s`);
  }
  const medianOn = median(result.on);
  const medianOff = median(result.off);
  return {
    concurrency,
    roundSeconds,
    rounds,
    on: result.on.map((v) => round(v, 1)),
    off: result.off.map((v) => round(v, 1)),
    medianOn: round(medianOn, 1),
    medianOff: round(medianOff, 1),
    overheadPercent: round(((medianOff - medianOn) / medianOff) * 100, 2),
  };
}

export function printApiLimitsBench(r: ApiLimitsBenchResult): void {
  console.log(`\nvolume(id) requests per second, ${r.concurrency} clients, ${r.rounds} alternating rounds of ${r.roundSeconds} s`);
  console.log(`  limits on   median ${r.medianOn.toFixed(1)}/s   rounds ${r.on.join(' ')}`);
  console.log(`  limits off  median ${r.medianOff.toFixed(1)}/s   rounds ${r.off.join(' ')}`);
  console.log(`  cost of the limits: ${r.overheadPercent.toFixed(2)}% of throughput (target: under 5%)`);
}
