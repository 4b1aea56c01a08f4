/**
 * The read path against its floor (issue 15): `volume(id)` and a page of `volumes(first: 50)`
 * (each volume with its snapshots and attachments) at 32 concurrent keep-alive clients,
 * beside a bare Apollo Server 5 answering `{ hello }` in a process of its own
 * (bench/bare-apollo.ts), on the same machine in the same run. The targets: `volume(id)` at
 * 0.7x the bare server's requests per second, the page at 0.3x.
 *
 * The three take turns in short rounds, in an order that rotates, so load drifting on the
 * machine moves all of them alike; the figures are medians over the rounds. Each round also
 * reads the server process's CPU time per request (/proc): what bounds throughput once the
 * server has a core to itself, and steadier than throughput on a shared machine.
 *
 * Flint runs as `npm run bench` starts it (tests/helpers/cluster.ts, SQLite), with the API
 * limits on and the token's rate raised so the bucket is consulted but never refuses.
 *
 *   node dist/bench/run.js --only reads [--quick]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startCluster } from '../tests/helpers/cluster.js';
import type { Cleanup } from './cleanup.js';
import { openClients } from './create-latency.js';
import { gatewayPid, measuredRound, median, type LoadSpec } from './http-load.js';
import { round } from './stats.js';

const CLIENTS = 32;
const PAGE = 50;
/** Volumes of the page that get snapshots, and how many each. */
const SNAPSHOTTED = 10;
const SNAPSHOTS_EACH = 2;

const VOLUME = 'query ($id: ID!) { volume(id: $id) { id name status sizeGiB version createdAt } }';
const PAGE_QUERY = `query { volumes(first: ${PAGE}) { totalCount edges { node { id name status sizeGiB version createdAt snapshots { id status } attachments { id status } } } } }`;

export interface ReadsSeries {
  /** Requests per second of each round, in order, and their median. */
  rps: number[];
  medianRps: number;
  /** Server CPU microseconds per request of each round, and their median. */
  cpuUs: number[];
  medianCpuUs: number;
}

export interface ReadsBenchResult {
  clients: number;
  roundSeconds: number;
  rounds: number;
  bare: ReadsSeries;
  volume: ReadsSeries;
  page: ReadsSeries;
  /** Median requests per second against the bare server's: the targets are 0.7 and 0.3. */
  volumeRatio: number;
  pageRatio: number;
}

/** Starts bench/bare-apollo.js; resolves with its URL and pid once it listens. */
async function startBareApollo(cleanup: Cleanup): Promise<{ url: string; pid: number }> {
  const script = fileURLToPath(new URL('./bare-apollo.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.add('bare Apollo server', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bare Apollo server exited (${code}) before it listened`)));
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  return { url, pid: child.pid! };
}

function series(rps: number[], cpuUs: number[]): ReadsSeries {
  return { rps: rps.map((v) => round(v, 0)), medianRps: round(median(rps), 0), cpuUs: cpuUs.map((v) => round(v, 0)), medianCpuUs: round(median(cpuUs), 0) };
}

export async function readsBench(opts: { quick: boolean; log: (msg: string) => void; cleanup: Cleanup }): Promise<ReadsBenchResult> {
  const roundSeconds = opts.quick ? 2 : 3;
  const rounds = opts.quick ? 3 : 6;
  opts.log('reads: starting a bare Apollo Server and a Flint (nats-server, gateway, scheduler, one agent)');
  const bare = await startBareApollo(opts.cleanup);
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [{ host: 'reads-a', pools: [{ name: 'p1', imageFormat: 'qcow2', capacityGiB: 1000 }] }],
    env: { FLINT_LOG_LEVEL: 'warn', FLINT_API_RATE_PER_SECOND: '1000000', FLINT_API_RATE_BURST: '1000000' },
  });
  opts.cleanup.add('reads: Flint', () => cluster.stop());
  const token = cluster.adminToken;

  opts.log(`reads: ${PAGE} volumes, ${SNAPSHOTTED} of them with ${SNAPSHOTS_EACH} snapshots`);
  const [client] = await openClients(cluster.url, token, 1, 'reads');
  const ids: string[] = [];
  try {
    for (let i = 0; i < PAGE; i++) ids.push((await client!.createAndWait(`reads-${i}`)).id);
    for (const volumeId of ids.slice(0, SNAPSHOTTED)) {
      for (let s = 0; s < SNAPSHOTS_EACH; s++) {
        const r = await client!.gql('mutation ($input: CreateSnapshotInput!) { createSnapshot(input: $input) { snapshot { id } } }', { input: { volumeId, name: `s${s}` } });
        if (r.errors) throw new Error(`createSnapshot failed: ${JSON.stringify(r.errors)}`);
      }
    }
  } finally {
    await client!.close();
  }

  const gateway = gatewayPid(new URL(cluster.url).port);
  const targets: Record<'bare' | 'volume' | 'page', { spec: LoadSpec; pid: string | number }> = {
    bare: { spec: { url: bare.url, query: '{ hello }' }, pid: bare.pid },
    volume: { spec: { url: cluster.url, token, query: VOLUME, variables: { id: ids[0] } }, pid: gateway },
    page: { spec: { url: cluster.url, token, query: PAGE_QUERY }, pid: gateway },
  };
  const names = Object.keys(targets) as Array<keyof typeof targets>;
  opts.log(`reads: warm-up, then ${rounds} rounds of ${roundSeconds} s each for ${names.join(', ')}, ${CLIENTS} clients`);
  for (const n of names) await measuredRound(targets[n].spec, targets[n].pid, CLIENTS, opts.quick ? 2 : 5);
  const rps = { bare: [] as number[], volume: [] as number[], page: [] as number[] };
  const cpu = { bare: [] as number[], volume: [] as number[], page: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(r + k) % names.length]!;
      const m = await measuredRound(targets[n].spec, targets[n].pid, CLIENTS, roundSeconds);
      rps[n].push(m.rps);
      cpu[n].push(m.cpuUs);
    }
    opts.log(`reads:   ${names.map((n) => `${n} ${rps[n].at(-1)!.toFixed(0)}/s ${cpu[n].at(-1)!.toFixed(0)} µs`).join(', ')}`);
  }
  const result = {
    clients: CLIENTS,
    roundSeconds,
    rounds,
    bare: series(rps.bare, cpu.bare),
    volume: series(rps.volume, cpu.volume),
    page: series(rps.page, cpu.page),
  };
  return { ...result, volumeRatio: round(result.volume.medianRps / result.bare.medianRps, 3), pageRatio: round(result.page.medianRps / result.bare.medianRps, 3) };
}

export function formatReads(r: ReadsBenchResult): string[] {
  const line = (what: string, s: ReadsSeries, ratio: string) => `  ${what.padEnd(46)} ${String(s.medianRps).padStart(6)}/s  ${String(s.medianCpuUs).padStart(5)} µs CPU/request  ${ratio}`;
  return [
    `reads, ${r.clients} keep-alive clients, median of ${r.rounds} rounds of ${r.roundSeconds} s (requests per second, server CPU per request)`,
    line('bare Apollo Server 5, { hello }', r.bare, ''),
    line('volume(id)', r.volume, `${r.volumeRatio.toFixed(3)}x bare (target 0.7x)`),
    line(`volumes(first: ${PAGE}) with snapshots and attachments`, r.page, `${r.pageRatio.toFixed(3)}x bare (target 0.3x)`),
  ];
}
