/**
 * `npm run bench`: a real Flint (every role its own process, tests/helpers/cluster.ts),
 * create → AVAILABLE latency as a subscriber sees it at 1 and 32 concurrent clients,
 * sustained creates per second, and the floors it is built on (NATS round trip,
 * JetStream publish, one DB commit) measured in the same run.
 *
 *   node dist/bench/run.js [--quick] [--database sqlite|postgresql] [--only backup|api-limits|quota|rbd|fanout|reads] [--topology cluster]
 *
 * `--topology cluster` runs Flint on `flint cluster up`'s topology instead (bench/cluster.ts): creates and reads with one
 * gateway and with two, and a JetStream publish at replicas 3 next to replicas 1.
 * `--only backup` runs only the backup engine benchmark (bench/backup.ts), which the full run ends with;
 * `--only api-limits` only what the API limits cost in `volume(id)` throughput (bench/api-limits.ts);
 * `--only quota` only what the quota check costs a create, on SQLite and PostgreSQL (bench/quota.ts);
 * `--only reads` only the read path against a bare Apollo Server's `{ hello }` (bench/reads.ts), which the full run also has;
 * `--only fanout` only the subscription fan-out at 1k, 5k, 10k and 20k subscribers (bench/fanout.ts; --quick: 1k and 5k), which the full run also has;
 * `--only rbd` only the rbd driver next to the file driver, iSCSI through tgt-rbd and rbd backups (bench/rbd.ts; boots its own Ceph), which the full run also ends with.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, type Cluster } from '../tests/helpers/cluster.js';
import { apiLimitsBench, printApiLimitsBench } from './api-limits.js';
import { attachIo, formatAttachIo } from './attach-io.js';
import { attachZeros, formatAttachZeros } from './attach-zeros.js';
import { attachLatency, formatAttachLatency } from './attach-latency.js';
import { backupBench, printBackupBench } from './backup.js';
import { natsBaselines, postgresCommit, sqliteCommit } from './baselines.js';
import { quotaBench } from './quota.js';
import { formatRbdBackup, rbdBench } from './rbd.js';
import { formatRbdIo } from './rbd-io.js';
import { fanoutBench, formatFanout } from './fanout.js';
import { formatReads, readsBench } from './reads.js';
import { formatHops, hopBreakdown, hopTimes } from './hops.js';
import { Cleanup } from './cleanup.js';
import { clusterBench } from './cluster.js';
import { cpuShare, cpuSnapshot } from './cpu.js';
import type { BenchClient } from './client.js';
import { deleteAllVolumes, latencyPhase, openClients, sustainedPhase, type LatencyRun } from './create-latency.js';
import { jsonRows, machineInfo, row, table, writeResult, type Row } from './report.js';
import { snapshotBench } from './snapshot-latency.js';
import { round } from './stats.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

interface Options {
  quick: boolean;
  database: 'sqlite' | 'postgresql';
  only?: 'backup' | 'api-limits' | 'quota' | 'rbd' | 'fanout' | 'reads';
  topology?: 'cluster';
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { quick: false, database: 'sqlite' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') opts.quick = true;
    else if (a === '--database' || a.startsWith('--database=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v !== 'sqlite' && v !== 'postgresql') throw new Error(`--database must be sqlite or postgresql, not ${String(v)}`);
      opts.database = v;
    } else if (a === '--only' || a.startsWith('--only=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v !== 'backup' && v !== 'api-limits' && v !== 'quota' && v !== 'rbd' && v !== 'fanout' && v !== 'reads') throw new Error(`--only must be backup, api-limits, quota, rbd, fanout or reads, not ${String(v)}`);
      opts.only = v;
    } else if (a === '--topology' || a.startsWith('--topology=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v !== 'cluster') throw new Error(`--topology must be cluster (the default is one gateway, one scheduler, two agents), not ${String(v)}`);
      opts.topology = v;
    } else if (a === '--help' || a === '-h') {
      console.log('usage: node dist/bench/run.js [--quick] [--database sqlite|postgresql] [--only backup|api-limits|quota|rbd|fanout|reads] [--topology cluster]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

function checkRun(name: string, r: { errors: string[] }): void {
  if (r.errors.length > 0) throw new Error(`${name}: ${r.errors.length} client(s) failed, first: ${r.errors[0]}`);
}

async function closeAll(clients: BenchClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
}

async function main(opts: Options, cleanup: Cleanup): Promise<void> {
  const startedAt = new Date();
  if (opts.only === 'backup') {
    const r = await backupBench({ log });
    printBackupBench(r);
    console.log(`\nwritten ${writeResult(ROOT, 'backup', startedAt, { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine: machineInfo(ROOT), results: r })}`);
    return;
  }
  if (opts.topology === 'cluster') {
    const r = await clusterBench({ quick: opts.quick, log, cleanup });
    await cleanup.run();
    console.log(`\nthe production topology (3 NATS nodes at R3, PostgreSQL, 2 gateways, 2 schedulers, 3 agents), ${startedAt.toISOString()}, load average ${loadavg().map((v) => round(v, 2)).join(' ')}\n`);
    console.log(`  creates/s (${r.clients} clients, each creates and waits for AVAILABLE)   one gateway ${r.createsPerSecond.oneGateway.toFixed(1)}   two gateways ${r.createsPerSecond.twoGateways.toFixed(1)}   (${(r.createsPerSecond.twoGateways / r.createsPerSecond.oneGateway).toFixed(2)}x)`);
    console.log(`  volume(id)/s (${r.clients * 2} clients)                                  one gateway ${r.readsPerSecond.oneGateway.toFixed(0)}   two gateways ${r.readsPerSecond.twoGateways.toFixed(0)}   (${(r.readsPerSecond.twoGateways / r.readsPerSecond.oneGateway).toFixed(2)}x)\n`);
    console.log(table(r.rows));
    const results = { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), quick: opts.quick, machine: machineInfo(ROOT), ...r, rows: jsonRows(r.rows) };
    console.log(`\nwritten ${writeResult(ROOT, 'cluster', startedAt, results)}`);
    return;
  }
  if (opts.only === 'api-limits') {
    const r = await apiLimitsBench({ quick: opts.quick, log, cleanup });
    await cleanup.run();
    printApiLimitsBench(r);
    const results = { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), quick: opts.quick, machine: machineInfo(ROOT), results: r };
    console.log(`\nwritten ${writeResult(ROOT, 'api-limits', startedAt, results)}`);
    return;
  }
  if (opts.only === 'rbd') {
    const r = await rbdBench({ n: opts.quick ? 5 : 20, imageMiB: opts.quick ? 128 : 512, ioRuns: opts.quick ? 1 : 3, log, cleanup });
    await cleanup.run();
    console.log(`\nrbd and file drivers, ${startedAt.toISOString()}, load average ${loadavg().map((v) => round(v, 2)).join(' ')}\n`);
    console.log(table(r.rows));
    console.log(`\n${formatRbdIo(r.io)}`);
    console.log(`\n${formatRbdBackup(r.backup)}`);
    const results = { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), quick: opts.quick, machine: machineInfo(ROOT), rows: jsonRows(r.rows), io: r.io, backup: r.backup };
    console.log(`\nwritten ${writeResult(ROOT, 'rbd', startedAt, results)}`);
    return;
  }
  const fanoutCounts = opts.quick ? [1000, 5000] : [1000, 5000, 10000, 20000];
  const fanoutRenames = opts.quick ? 5 : 20;
  if (opts.only === 'fanout') {
    const r = await fanoutBench({ counts: fanoutCounts, renames: fanoutRenames, say: log });
    console.log(`\n${formatFanout(r).join('\n')}`);
    console.log(`\nwritten ${writeResult(ROOT, 'fanout', startedAt, { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), quick: opts.quick, machine: machineInfo(ROOT), results: r })}`);
    return;
  }
  if (opts.only === 'reads') {
    const r = await readsBench({ quick: opts.quick, log, cleanup });
    await cleanup.run();
    console.log(`\n${formatReads(r).join('\n')}`);
    console.log(`\nwritten ${writeResult(ROOT, 'reads', startedAt, { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), quick: opts.quick, machine: machineInfo(ROOT), results: r })}`);
    return;
  }
  if (opts.only === 'quota') {
    const rows = [...(await quotaBench('sqlite', opts.quick, cleanup)), ...(await quotaBench('postgresql', opts.quick, cleanup))];
    await cleanup.run();
    console.log(`\nquota check cost, ${startedAt.toISOString()}, load average ${loadavg().map((v) => round(v, 2)).join(' ')}\n`);
    console.log(table(rows));
    console.log(`\nwritten ${writeResult(ROOT, 'quota', startedAt, { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), quick: opts.quick, machine: machineInfo(ROOT), rows: jsonRows(rows) })}`);
    return;
  }
  const loadAvgAtStart = loadavg().map((v) => round(v, 2));
  const p = opts.quick
    ? { baselineN: 300, c1: 20, c1Warmup: 3, c32PerClient: 3, sustainedS: 3, snap: { snapC1: 10, snapPerClient: 2, clonePerClient: 1 } }
    : { baselineN: 2000, c1: 200, c1Warmup: 10, c32PerClient: 20, sustainedS: 15, snap: { snapC1: 100, snapPerClient: 10, clonePerClient: 3 } };
  const CONC = 32;

  log(`baselines: ${p.baselineN} samples each`);
  const nats = await natsBaselines(p.baselineN, cleanup);
  await cleanup.run(); // the baseline nats-server is not needed any more
  const sqlite = await sqliteCommit(p.baselineN, cleanup);
  const pg = opts.database === 'postgresql' ? await postgresCommit(p.baselineN, cleanup) : undefined;
  await cleanup.run();

  log(`starting a Flint cluster (${opts.database}): nats-server, gateway, scheduler, 2 agents`);
  const cluster: Cluster = await startCluster({
    database: opts.database,
    agents: [
      { host: 'bench-a', pools: [{ name: 'p1', imageFormat: 'qcow2' }] },
      { host: 'bench-b', pools: [{ name: 'p2', imageFormat: 'raw' }] },
    ],
    // Every client uses the admin token, and the cleanup deletes hundreds of volumes at once:
    // this measures what Flint can do, not one token's rate limit (--only api-limits measures the limits).
    // Level trace: each role logs the hops of every operation (src/metrics/hops.ts), for the per-hop breakdown.
    env: { FLINT_API_RATE_PER_SECOND: '1000000', FLINT_API_RATE_BURST: '1000000', FLINT_LOG_LEVEL: 'trace' },
  });
  cleanup.add('cluster', () => cluster.stop());
  let failed = true;
  cleanup.add('cluster logs', () => {
    if (failed) console.error(cluster.logs());
  });

  log(`c=1: ${p.c1} creates`);
  const one = await openClients(cluster.url, cluster.adminToken, 1, 'c1');
  cleanup.add('c=1 client', () => closeAll(one));
  checkRun('c=1 warm-up', await latencyPhase(one, p.c1Warmup, 'c1w'));
  await deleteAllVolumes(one);
  one[0]!.forget();
  let cpu0 = cpuSnapshot();
  const c1: LatencyRun = await latencyPhase(one, p.c1, 'c1');
  const cpuC1 = cpuShare(cpu0, cpuSnapshot(), c1.wallMs);
  checkRun('c=1', c1);
  await deleteAllVolumes(one);
  await closeAll(one);

  log(`c=${CONC}: ${CONC}×${p.c32PerClient} creates`);
  const many = await openClients(cluster.url, cluster.adminToken, CONC, 'c32');
  cleanup.add('c=32 clients', () => closeAll(many));
  await deleteAllVolumes(many);
  many.forEach((c) => c.forget());
  cpu0 = cpuSnapshot();
  const c32 = await latencyPhase(many, p.c32PerClient, 'c32');
  const cpuC32 = cpuShare(cpu0, cpuSnapshot(), c32.wallMs);
  checkRun(`c=${CONC}`, c32);
  await deleteAllVolumes(many);
  many.forEach((c) => c.forget());

  log(`sustained: ${CONC} clients for ${p.sustainedS} s`);
  cpu0 = cpuSnapshot();
  const sustained = await sustainedPhase(many, p.sustainedS, 'sus');
  const cpuSustained = cpuShare(cpu0, cpuSnapshot(), sustained.wallMs);
  checkRun('sustained', sustained);
  await deleteAllVolumes(many);
  many.forEach((c) => c.forget());

  const hopLines = cluster.logFiles().flatMap((f) => readFileSync(f, 'utf8').split('\n'));
  const hops = { c1: hopBreakdown(c1.times, hopTimes(hopLines)), c32: hopBreakdown(c32.times, hopTimes(hopLines)) };

  log(`snapshots: c=1 ${p.snap.snapC1}, c=${CONC} ${CONC}×${p.snap.snapPerClient}, clones c=${CONC} ${CONC}×${p.snap.clonePerClient}`);
  const snaps = await snapshotBench(cluster.url, cluster.adminToken, many, p.snap);
  await deleteAllVolumes(many);
  await closeAll(many);
  log('attach latency: createAttachment until connectionInfo and a live iSCSI target');
  const attach = await attachLatency(cluster.url, cluster.adminToken, opts.quick ? 5 : 30);
  failed = false;
  await cleanup.run(); // the cluster is done: the read benchmark gets the machine to itself

  log('reads: volume(id) and a page of volumes next to a bare Apollo Server');
  const reads = await readsBench({ quick: opts.quick, log, cleanup });
  await cleanup.run();

  log(`subscription fan-out: ${fanoutCounts.join(', ')} subscribers, ${fanoutRenames} renames each`);
  const fanout = await fanoutBench({ counts: fanoutCounts, renames: fanoutRenames, say: log });

  log('attach I/O: sequential read through iSCSI, NBD and the image file');
  const io = await attachIo({ sizeGiB: 1, runs: opts.quick ? 1 : 3 });

  log('attach zeros: WRITE SAME through iSCSI into raw and qcow2 volumes, next to data');
  const zeros = await attachZeros({ sizeMiB: opts.quick ? 64 : 256 });

  log('backup engine: full, incremental (1% changed) and restore of one 1 GiB image, with cat and restic as baselines');
  const backup = await backupBench({ log });

  log('rbd: the rbd driver next to the file driver, iSCSI through tgt-rbd, rbd diff backups (its own Ceph cluster)');
  const rbd = await rbdBench({ n: opts.quick ? 5 : 20, imageMiB: opts.quick ? 128 : 512, ioRuns: opts.quick ? 1 : 3, log, cleanup });
  await cleanup.run();

  const rows: Row[] = [
    row('create→AVAILABLE (subscriber), c=1', c1.samples),
    row(`create→AVAILABLE (subscriber), c=${CONC}`, c32.samples),
    row(`create→AVAILABLE during sustained, c=${CONC}`, sustained.samples),
    row('NATS request-reply RTT (core)', nats.natsRtt),
    row('JetStream publish + ack (file)', nats.jsPublish),
    row('SQLite insert+commit (WAL, sync=NORMAL)', sqlite),
    ...(pg ? [row('PostgreSQL insert+commit', pg)] : []),
    ...snaps.rows.map(([metric, samples]) => row(metric, samples)),
  ];
  const machine = machineInfo(ROOT) as { cpus: number };
  const p50 = (i: number) => rows[i]!.summary.p50;
  const ratios: Record<string, number> = {
    createP50_over_natsRttP50: round(p50(0) / p50(3), 1),
    createP50_over_sqliteCommitP50: round(p50(0) / p50(5), 1),
    createP50_over_jsPublishP50: round(p50(0) / p50(4), 1),
  };
  if (pg) ratios.createP50_over_postgresCommitP50 = round(p50(0) / p50(6), 1);

  console.log(`\nFlint bench, ${opts.database}${opts.quick ? ' (quick)' : ''}, ${startedAt.toISOString()}\n`);
  console.log(table(rows));
  console.log(`\nsustained: ${sustained.completed} volumes AVAILABLE in ${sustained.seconds} s with ${CONC} clients = ${sustained.perSecond.toFixed(1)} creates/s (${sustained.late} more finished after the window)`);
  console.log(`c=1 wall ${(c1.wallMs / 1000).toFixed(1)} s = ${((c1.samples.length * 1000) / c1.wallMs).toFixed(1)} creates/s; c=${CONC} wall ${(c32.wallMs / 1000).toFixed(1)} s = ${((c32.samples.length * 1000) / c32.wallMs).toFixed(1)} creates/s`);
  console.log('ratios (create c=1 p50 over):');
  for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(32)} ${v}×`);
  const cpuLine = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  console.log(`CPU used (cores; machine has ${machine.cpus}, load average at start ${loadAvgAtStart.join(' ')}):`);
  console.log(`  c=1        ${cpuLine(cpuC1)}`);
  console.log(`  c=${CONC}       ${cpuLine(cpuC32)}`);
  console.log(`  sustained  ${cpuLine(cpuSustained)}`);
  console.log(`\n${formatHops('where a create\'s time goes, c=1', hops.c1).join('\n')}`);
  console.log(`\n${formatHops(`where a create's time goes, c=${CONC}`, hops.c32).join('\n')}`);
  console.log(`\n${formatAttachLatency(attach)}`);
  console.log(`\n${formatReads(reads).join('\n')}`);
  console.log(`\n${formatFanout(fanout).join('\n')}`);
  console.log(`\n${formatAttachIo(io)}`);
  console.log(`\n${formatAttachZeros(zeros)}`);
  printBackupBench(backup);
  console.log(`\n${table(rbd.rows)}\n\n${formatRbdIo(rbd.io)}\n\n${formatRbdBackup(rbd.backup)}`);

  const file = writeResult(ROOT, opts.database, startedAt, {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    database: opts.database,
    quick: opts.quick,
    machine: { ...machine, loadAvgAtStart },
    parameters: { ...p, concurrentClients: CONC, volumeSizeGiB: 1, pools: ['bench-a/p1 qcow2', 'bench-b/p2 raw'], subscription: 'volumeEvents, no filter, admin token (every client sees every volume)' },
    results: jsonRows(rows),
    sustained: { clients: CONC, seconds: sustained.seconds, completed: sustained.completed, perSecond: round(sustained.perSecond, 2), lateAfterWindow: sustained.late },
    throughputInLatencyRuns: { c1PerSecond: round((c1.samples.length * 1000) / c1.wallMs, 2), c32PerSecond: round((c32.samples.length * 1000) / c32.wallMs, 2) },
    ratios,
    cpuCores: { c1: cpuC1, c32: cpuC32, sustained: cpuSustained },
    hops,
    attachIo: io,
    reads,
    fanout,
    attachZeros: zeros,
    attachLatency: { n: attach.n, p50Ms: round(attach.p50Ms, 1), p99Ms: round(attach.p99Ms, 1) },
    backup,
    rbd: { rows: jsonRows(rbd.rows), io: rbd.io, backup: rbd.backup },
  });
  console.log(`\nwritten ${file}`);
}

const cleanup = new Cleanup();
let exiting = false;
const finish = async (code: number): Promise<never> => {
  exiting = true;
  await cleanup.run();
  process.exit(code);
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    if (!exiting) void finish(130);
  });
}
// A wedged run must still end and clean up.
const watchdog = setTimeout(() => {
  log('watchdog: the run took longer than 30 minutes');
  void finish(1);
}, 30 * 60_000);
watchdog.unref();

try {
  await main(parseArgs(process.argv.slice(2)), cleanup);
  await finish(0);
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
  await finish(1);
}
