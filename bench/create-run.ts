/**
 * The create phases of `npm run bench` alone (c=1 and c=32 create → AVAILABLE, as a subscriber
 * sees it), on the same cluster shape, for a quick before/after of a change on the create path:
 *
 *   node dist/bench/create-run.js [--c1 N] [--per-client N] [--format both|qcow2|raw]
 *
 * `--format both` (the default) is run.ts's cluster: two agents, a qcow2 pool and a raw pool;
 * `qcow2` or `raw` gives one agent with one pool of that format. It also prints where a
 * create's time goes, hop by hop (bench/hops.ts), as the full run does.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { startCluster, type AgentSpec } from '../tests/helpers/cluster.js';
import { Cleanup } from './cleanup.js';
import { cpuShare, cpuSnapshot } from './cpu.js';
import { deleteAllVolumes, latencyPhase, openClients } from './create-latency.js';
import { formatHops, hopBreakdown, hopTimes } from './hops.js';
import { row, table } from './report.js';
import { round } from './stats.js';

interface Options {
  c1: number;
  perClient: number;
  format: 'both' | 'qcow2' | 'raw';
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { c1: 100, perClient: 5, format: 'both' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--c1') opts.c1 = Number(value());
    else if (a === '--per-client') opts.perClient = Number(value());
    else if (a === '--format') {
      const v = value();
      if (v !== 'both' && v !== 'qcow2' && v !== 'raw') throw new Error(`--format must be both, qcow2 or raw, not ${v}`);
      opts.format = v;
    } else if (a === '--help' || a === '-h') {
      console.log('usage: node dist/bench/create-run.js [--c1 N] [--per-client N] [--format both|qcow2|raw]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!(opts.c1 > 0 && opts.perClient > 0)) throw new Error('--c1 and --per-client must be positive');
  return opts;
}

const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const CONC = 32;

async function main(opts: Options, cleanup: Cleanup): Promise<void> {
  const load = loadavg().map((v) => round(v, 2));
  const agents: AgentSpec[] =
    opts.format === 'both'
      ? [
          { host: 'bench-a', pools: [{ name: 'p1', imageFormat: 'qcow2' }] },
          { host: 'bench-b', pools: [{ name: 'p2', imageFormat: 'raw' }] },
        ]
      : [{ host: 'bench-a', pools: [{ name: 'p1', imageFormat: opts.format }] }];
  log(`starting a Flint cluster (sqlite), pools: ${opts.format}`);
  const cluster = await startCluster({ database: 'sqlite', agents, env: { FLINT_API_RATE_PER_SECOND: '1000000', FLINT_API_RATE_BURST: '1000000', FLINT_LOG_LEVEL: 'trace' } });
  cleanup.add('cluster', () => cluster.stop());

  const one = await openClients(cluster.url, cluster.adminToken, 1, 'c1');
  cleanup.add('c=1 client', () => Promise.all(one.map((c) => c.close())));
  await latencyPhase(one, 3, 'c1w');
  await deleteAllVolumes(one);
  one[0]!.forget();
  log(`c=1: ${opts.c1} creates`);
  let cpu0 = cpuSnapshot();
  const c1 = await latencyPhase(one, opts.c1, 'c1');
  const cpuC1 = cpuShare(cpu0, cpuSnapshot(), c1.wallMs);
  await deleteAllVolumes(one);

  const many = await openClients(cluster.url, cluster.adminToken, CONC, 'c32');
  cleanup.add('c=32 clients', () => Promise.all(many.map((c) => c.close())));
  await deleteAllVolumes(many);
  many.forEach((c) => c.forget());
  log(`c=${CONC}: ${CONC}×${opts.perClient} creates`);
  cpu0 = cpuSnapshot();
  const c32 = await latencyPhase(many, opts.perClient, 'c32');
  const cpuC32 = cpuShare(cpu0, cpuSnapshot(), c32.wallMs);
  await deleteAllVolumes(many);
  for (const r of [c1, c32]) if (r.errors.length > 0) throw new Error(`${r.errors.length} client(s) failed, first: ${r.errors[0]}`);

  console.log(`\ncreate latency, pools ${opts.format}, ${new Date().toISOString()}, load average at start ${load.join(' ')}, at end ${loadavg().map((v) => round(v, 2)).join(' ')}\n`);
  console.log(table([row('create→AVAILABLE (subscriber), c=1', c1.samples), row(`create→AVAILABLE (subscriber), c=${CONC}`, c32.samples)]));
  const cpuLine = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  console.log(`CPU used (cores): c=1 ${cpuLine(cpuC1)}; c=${CONC} ${cpuLine(cpuC32)}`);
  const times = hopTimes(cluster.logFiles().flatMap((f) => readFileSync(f, 'utf8').split('\n')));
  console.log(`\n${formatHops("where a create's time goes, c=1", hopBreakdown(c1.times, times)).join('\n')}`);
  console.log(`\n${formatHops(`where a create's time goes, c=${CONC}`, hopBreakdown(c32.times, times)).join('\n')}`);
}

const cleanup = new Cleanup();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup.run().then(() => process.exit(130)));
try {
  await main(parseArgs(process.argv.slice(2)), cleanup);
  await cleanup.run();
  process.exit(0);
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
  await cleanup.run();
  process.exit(1);
}
