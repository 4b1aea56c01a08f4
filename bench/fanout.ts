/**
 * Subscription fan-out: N graphql-ws subscribers, one WebSocket each, all following one volume
 * (`volumeChanged(id)`) on one gateway; the volume is renamed R times and each rename's latency
 * is the time from sending the mutation to each subscriber's frame with the new name. Reported
 * at 1k, 5k, 10k and 20k subscribers (`--quick`: 1k and 5k), with the gateway's RSS (now and
 * peak, from /proc) and its CPU per delivered event. Beside each, the same subscribers and
 * renames against a bare ws server (bench/bare-ws.ts) that writes one frame per subscription
 * from bytes made once per change: the floor of this machine, which the latency targets are
 * read against.
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
import { execFileSync, spawn } from 'node:child_process';
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
  /** The same subscribers and renames against a bare ws server (bench/bare-ws.ts): the machine's floor. */
  floor: FanoutStep[];
}

/** A server the subscribers follow one volume on, and how to rename that volume. */
interface FanoutTarget {
  url: string;
  token: string;
  volumeId: string;
  pid: number;
  rename(name: string): Promise<void>;
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

/** Starts bench/bare-ws.js; resolves with its target once it listens. */
async function startBareWs(): Promise<{ target: FanoutTarget; stop(): void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./bare-ws.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bare ws server exited (${code}) before it listened`)));
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
  });
  const [url, volumeId] = line.split(' ') as [string, string];
  const rename = async (name: string) => {
    const res = await fetch(`${url.replace(/\/graphql$/, '')}/rename?name=${encodeURIComponent(name)}`, { method: 'POST' });
    if (res.status !== 204) throw new Error(`bare ws server answered ${res.status}`);
  };
  return { target: { url, token: 'none', volumeId, pid: child.pid!, rename }, stop: () => child.kill('SIGTERM') };
}

/** `n` subscriptions on `target` (as few per socket as the open-files limit allows), `renames` renames, each subscriber's latency. */
async function measure(target: FanoutTarget, n: number, renames: number, socketsAllowed: number, tag: string): Promise<FanoutStep> {
  const subscribers: Subscriber[] = [];
  try {
    const perSocket = Math.ceil(n / socketsAllowed);
    let opened = 0;
    while (opened < n) {
      // In batches, so the server's accept queue never overflows.
      const batch: Subscriber[] = [];
      for (let b = 0; b < 500 && opened < n; b++) {
        const k = Math.min(perSocket, n - opened);
        batch.push(new Subscriber(target.url, target.token, target.volumeId, k));
        opened += k;
      }
      subscribers.push(...batch);
      await Promise.all(batch.map((s) => s.ready));
    }
    const latencies: number[] = [];
    const cpuBefore = cpuMs(target.pid);
    for (let r = 0; r < renames; r++) {
      const name = `fanout-${tag}-${n}-${r}`;
      const arrivals = subscribers.map((s) => s.expect(name));
      const t0 = performance.now();
      await target.rename(name);
      for (const times of await Promise.all(arrivals)) for (const at of times) latencies.push(at - t0);
    }
    const cpu = cpuMs(target.pid) - cpuBefore;
    const mem = memoryMiB(target.pid);
    latencies.sort((a, b) => a - b);
    return {
      subscribers: n,
      perSocket,
      renames,
      p50Ms: round(percentile(latencies, 50), 1),
      p99Ms: round(percentile(latencies, 99), 1),
      maxMs: round(latencies.at(-1)!, 1),
      rssMiB: mem.rss,
      peakRssMiB: mem.peak,
      gatewayCpuUsPerDelivery: round((cpu * 1000) / (n * renames), 1),
    };
  } finally {
    for (const s of subscribers) s.close();
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
  const bare = await startBareWs().catch(async (err: unknown) => {
    await cluster.stop();
    throw err;
  });
  const steps: FanoutStep[] = [];
  const floor: FanoutStep[] = [];
  try {
    const token = cluster.adminToken;
    const { createVolume } = await gql<{ createVolume: { volume: { id: string } } }>(cluster.url, token, 'mutation { createVolume(input: { name: "fanout", sizeGiB: 1 }) { volume { id } } }', {});
    const volumeId = createVolume.volume.id;
    const flint: FanoutTarget = {
      url: cluster.url,
      token,
      volumeId,
      pid: pidOnPort(Number(new URL(cluster.url).port)),
      rename: async (name) => void (await gql(cluster.url, token, 'mutation($input: UpdateVolumeInput!) { updateVolume(input: $input) { volume { id } } }', { input: { id: volumeId, name } })),
    };
    for (const n of opts.counts) {
      const step = await measure(flint, n, opts.renames, socketsAllowed, 'flint');
      steps.push(step);
      say(`fan-out ${n} subscribers (${step.perSocket} per socket): p50 ${step.p50Ms} ms, p99 ${step.p99Ms} ms, max ${step.maxMs} ms; gateway RSS ${step.rssMiB} MiB (peak ${step.peakRssMiB}), ${step.gatewayCpuUsPerDelivery} µs CPU per delivery`);
      const f = await measure(bare.target, n, opts.renames, socketsAllowed, 'bare');
      floor.push(f);
      say(`fan-out floor, bare ws server, ${n} subscribers: p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms; ${f.gatewayCpuUsPerDelivery} µs CPU per delivery`);
    }
  } finally {
    bare.stop();
    await cluster.stop();
  }
  return { openFilesLimit: limit, steps, floor };
}

export function formatFanout(r: FanoutResult): string[] {
  const lines = ['subscription fan-out (volumeChanged, one socket per subscriber, one gateway; the floor: a bare ws server sending bytes made once per change):'];
  r.steps.forEach((s, i) => {
    const f = r.floor[i];
    lines.push(`  ${String(s.subscribers).padStart(6)} subscribers${s.perSocket > 1 ? ` (${s.perSocket} per socket: open-files limit ${r.openFilesLimit})` : ''}: p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms (target ≤ 100), gateway RSS ${s.rssMiB} MiB, peak ${s.peakRssMiB} MiB (target ≤ 1024), ${s.gatewayCpuUsPerDelivery} µs CPU per delivery`);
    if (f) lines.push(`  ${''.padStart(6)}   floor: p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, ${f.gatewayCpuUsPerDelivery} µs CPU per delivery; Flint's p99 ${round(s.p99Ms / f.p99Ms, 2)}x the floor's, CPU per delivery ${round(s.gatewayCpuUsPerDelivery / f.gatewayCpuUsPerDelivery, 2)}x`);
  });
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
