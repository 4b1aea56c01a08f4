/**
 * Subscription fan-out: N graphql-ws subscribers, one WebSocket each, all following one volume
 * (`volumeChanged(id)`) on one gateway; the volume is renamed R times and each rename's latency
 * is the time from sending the mutation to each subscriber's frame with the new name. Reported
 * at 1k, 5k, 10k and 20k subscribers (`--quick`: 1k and 5k), with the gateway's RSS (now and
 * peak, from /proc) and its CPU per delivered event.
 *
 *   node dist/bench/fanout.js [--quick] [--subscribers 1000,5000] [--renames 20]
 *
 * The bench and the gateway each hold one file per socket: the bench raises its own open-files
 * limit with prlimit (it needs CAP_SYS_RESOURCE) before it starts the gateway, which inherits it.
 * Where the limit cannot hold one socket per subscriber, sockets carry several subscriptions each
 * (graphql-ws multiplexes them; each still gets its own frames), and the report says how many.
 * The client side only looks for the new name in each frame's text, so it costs the machine as
 * little as it can.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import WebSocket from 'ws';
import { startCluster, type Cluster } from '../tests/helpers/cluster.js';
import { percentile, round } from './stats.js';

export interface FanoutStep {
  subscribers: number;
  /** Subscriptions per WebSocket. */
  perSocket: number;
  renames: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Gateway RSS after the renames, and its peak so far (VmHWM). */
  rssMiB: number;
  peakRssMiB: number;
  /** Gateway CPU per delivered event, in microseconds. */
  gatewayCpuUsPerDelivery: number;
}

export interface FanoutResult {
  openFilesLimit: number;
  steps: FanoutStep[];
}

const SUBSCRIPTION = 'subscription($id: ID!) { volumeChanged(id: $id) { id name status version } }';

/** Raises this process's open-files limit (children inherit it); returns the limit it has. */
function raiseOpenFiles(want: number): number {
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${want}`], { stdio: 'ignore' });
  } catch {
    // Not root: keep what we have.
  }
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

/** The pid listening on `port` (ss -ltnp). */
function pidOnPort(port: number): number {
  const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  const m = /pid=(\d+)/.exec(out);
  if (!m) throw new Error(`no process listens on port ${port}: ${out}`);
  return Number(m[1]);
}

function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: round(kb('VmRSS') / 1024, 0), peak: round(kb('VmHWM') / 1024, 0) };
}

/** User plus system CPU of a process, in milliseconds. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function gql<T>(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** One socket carrying `count` subscriptions of the volume (ids 1…count); only each frame's arrival time is kept. */
class Subscriber {
  private readonly socket: WebSocket;
  private waiting: { name: string; left: Set<string>; times: number[]; resolve: (times: number[]) => void } | undefined;
  readonly ready: Promise<void>;

  constructor(url: string, token: string, volumeId: string, readonly count: number) {
    this.socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws', { perMessageDeflate: false });
    const started = new Set<string>();
    this.ready = new Promise<void>((ready, fail) => {
      this.socket.once('error', fail);
      this.socket.on('open', () => this.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
      this.socket.on('message', (data: Buffer) => {
        const text = data.toString();
        if (text.includes('"connection_ack"')) {
          for (let i = 1; i <= count; i++) this.socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { id: volumeId } } }));
        } else if (text.includes('"next"')) {
          const id = /"id":"(\d+)"/.exec(text)?.[1] ?? '';
          // The first frame of each is the volume as it is: that subscription is in place.
          started.add(id);
          if (started.size === count) ready();
          const w = this.waiting;
          if (w && w.left.has(id) && text.includes(`"name":"${w.name}"`)) {
            w.left.delete(id);
            w.times.push(performance.now());
            if (w.left.size === 0) {
              this.waiting = undefined;
              w.resolve(w.times);
            }
          }
        } else if (text.includes('"error"') || text.includes('"complete"')) fail(new Error(`subscription ended: ${text}`));
      });
      this.socket.on('close', (code, reason) => fail(new Error(`socket closed ${code} ${reason.toString()}`)));
    });
  }

  /** Resolves with the arrival times of every subscription's frame that names `name`. */
  expect(name: string): Promise<number[]> {
    return new Promise((resolve) => (this.waiting = { name, left: new Set(Array.from({ length: this.count }, (_, i) => String(i + 1))), times: [], resolve }));
  }

  close(): void {
    this.socket.terminate();
  }
}

export async function fanoutBench(opts: { counts: number[]; renames: number; say?: (line: string) => void }): Promise<FanoutResult> {
  const say = opts.say ?? (() => undefined);
  const max = Math.max(...opts.counts);
  const limit = raiseOpenFiles(max + 10_000);
  // Sockets each process may open, leaving room for its other files.
  const socketsAllowed = Math.max(100, limit - 2_000);
  const cluster: Cluster = await startCluster({
    database: 'sqlite',
    agents: [{ host: 'fanout-a', pools: [{ name: 'p1', imageFormat: 'qcow2' }] }],
    env: {
      FLINT_LOG_LEVEL: 'warn',
      FLINT_API_WS_MAX_CONNECTIONS_PER_TOKEN: String(max + 100),
      FLINT_API_WS_MAX_CONNECTIONS_PER_ADDRESS: String(max + 100),
      FLINT_API_WS_MAX_SUBSCRIPTIONS: '1000',
      FLINT_API_RATE_PER_SECOND: '1000000',
      FLINT_API_RATE_BURST: '1000000',
    },
  });
  const subscribers: Subscriber[] = [];
  const steps: FanoutStep[] = [];
  try {
    const token = cluster.adminToken;
    const { createVolume } = await gql<{ createVolume: { volume: { id: string } } }>(cluster.url, token, 'mutation { createVolume(input: { name: "fanout", sizeGiB: 1 }) { volume { id } } }', {});
    const id = createVolume.volume.id;
    const gateway = pidOnPort(Number(new URL(cluster.url).port));
    for (const n of opts.counts) {
      // One socket each where the open-files limit allows it, else as few per socket as fit.
      const perSocket = Math.ceil(n / socketsAllowed);
      for (const s of subscribers.splice(0)) s.close();
      let opened = 0;
      while (opened < n) {
        // In batches, so the gateway's accept queue never overflows.
        const batch: Subscriber[] = [];
        for (let b = 0; b < 500 && opened < n; b++) {
          const k = Math.min(perSocket, n - opened);
          batch.push(new Subscriber(cluster.url, token, id, k));
          opened += k;
        }
        await Promise.all(batch.map((s) => s.ready));
        subscribers.push(...batch);
      }
      const latencies: number[] = [];
      const cpuBefore = cpuMs(gateway);
      for (let r = 0; r < opts.renames; r++) {
        const name = `fanout-${n}-${r}`;
        const arrivals = subscribers.map((s) => s.expect(name));
        const t0 = performance.now();
        await gql(cluster.url, token, 'mutation($input: UpdateVolumeInput!) { updateVolume(input: $input) { volume { id } } }', { input: { id, name } });
        for (const times of await Promise.all(arrivals)) for (const at of times) latencies.push(at - t0);
      }
      const cpu = cpuMs(gateway) - cpuBefore;
      const mem = memoryMiB(gateway);
      latencies.sort((a, b) => a - b);
      const step: FanoutStep = {
        subscribers: n,
        perSocket,
        renames: opts.renames,
        p50Ms: round(percentile(latencies, 50), 1),
        p99Ms: round(percentile(latencies, 99), 1),
        maxMs: round(latencies.at(-1)!, 1),
        rssMiB: mem.rss,
        peakRssMiB: mem.peak,
        gatewayCpuUsPerDelivery: round((cpu * 1000) / (n * opts.renames), 1),
      };
      steps.push(step);
      say(`fan-out ${n} subscribers (${perSocket} per socket): p50 ${step.p50Ms} ms, p99 ${step.p99Ms} ms, max ${step.maxMs} ms; gateway RSS ${step.rssMiB} MiB (peak ${step.peakRssMiB}), ${step.gatewayCpuUsPerDelivery} µs CPU per delivery`);
    }
  } finally {
    for (const s of subscribers) s.close();
    await cluster.stop();
  }
  return { openFilesLimit: limit, steps };
}

export function formatFanout(r: FanoutResult): string[] {
  const lines = ['subscription fan-out (volumeChanged, one socket per subscriber, one gateway):'];
  for (const s of r.steps) lines.push(`  ${String(s.subscribers).padStart(6)} subscribers${s.perSocket > 1 ? ` (${s.perSocket} per socket: open-files limit ${r.openFilesLimit})` : ''}: p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms (target ≤ 100), gateway RSS ${s.rssMiB} MiB, peak ${s.peakRssMiB} MiB (target ≤ 1024), ${s.gatewayCpuUsPerDelivery} µs CPU per delivery`);
  return lines;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  const counts = (arg('subscribers') ?? (quick ? '1000,5000' : '1000,5000,10000,20000')).split(',').map(Number);
  fanoutBench({ counts, renames: Number(arg('renames') ?? (quick ? 5 : 20)), say: (l) => process.stderr.write(`${l}\n`) })
    .then((r) => process.stdout.write(`${formatFanout(r).join('\n')}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
