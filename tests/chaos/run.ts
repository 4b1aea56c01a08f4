/**
 * The chaos suite: `npm run chaos -- --trials 100` (and a short run in `npm test`,
 * tests/chaos/chaos.test.ts). It starts the production topology (`flint cluster up`: 3 NATS
 * nodes at replicas 3, PostgreSQL, 2 gateways, 2 schedulers, 3 agents in 2 zones), runs a
 * steady mixed workload through both gateways, and in every trial injects one fault at a
 * random moment, holds it, recovers, lets the workload pause and the cluster settle, and has
 * the checker compare what was acknowledged with what the database, the pools, the canaries'
 * bytes and a subscriber on the other gateway show. It prints
 * `chaos: T trials, F faults, 0 lost, 0 stuck, …` and writes a JSON report.
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { clusterUp } from '../../src/cli/cluster/cluster.js';
import { agentsIn2Zones } from '../../src/cli/cluster/topology.js';
import { CATCH_UP_GRACE_MS, CATCH_UP_MS } from '../../src/gateway/live/catch-up.js';
import { Api } from './api.js';
import { FAULT_KINDS, inject, type FaultKind } from './faults.js';
import { mountPoolDisks, type PoolDisks } from './pool-disks.js';
import { startOwnPostgres, type OwnPostgres } from './own-postgres.js';
import { endState, EVIDENCE_DIR, settle, type Canary } from './probe.js';
import { Subscriber } from './subscriber.js';
import { distinctCounts, judge, lostOperations, summary, type Counts } from './verdict.js';
import { Workload } from './workload.js';

const run = promisify(execFile);

export interface ChaosOptions {
  trials: number;
  /** Seeds the choices (which process, when, how long). @default Date.now() */
  seed?: number;
  /** The cluster's directory (removed at the end unless `keep`). */
  dir: string;
  /** @default 4 */
  workers?: number;
  /** Leave the cluster running at the end (to look at it). */
  keep?: boolean;
  /** Which faults, in turn. @default every kind */
  faults?: readonly FaultKind[];
  /** Asked before each trial: true ends the run there (and it cleans up as at its end). */
  stopped?: () => boolean;
  say?: (line: string) => void;
}

export interface TrialReport {
  trial: number;
  fault: string;
  heldMs: number;
  settleMs: number;
  counts: Counts;
  details: string[];
}

export interface ChaosReport {
  seed: number;
  trials: number;
  faults: number;
  counts: Counts;
  workload: { acked: number; refused: number; unanswered: number };
  subscriberResumes: number;
  runs: TrialReport[];
  /** Fault kinds this machine could not inject, each with why. */
  notRun: string[];
  summary: string;
}

/** Operations past this are failed by the gateways; the checker waits this plus a margin before it calls anything stuck. */
const OPERATION_TIMEOUT_S = 60;
const SETTLE_MS = (OPERATION_TIMEOUT_S + 45) * 1000;

/** mulberry32: a small seeded generator, so a run can be replayed from its seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Copies the roles' and NATS nodes' logs of the cluster in `dir` to the evidence directory; returns where. */
function keepLogs(dir: string, seed: number): string {
  const to = join(EVIDENCE_DIR, `logs-${seed}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.log'))) copyFileSync(join(dir, name), join(to, name));
  return to;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const say = opts.say ?? (() => undefined);
  const seed = opts.seed ?? Date.now() % 2 ** 31;
  const rng = seeded(seed);
  let kinds = opts.faults ?? FAULT_KINDS;
  const dir = resolve(opts.dir);
  const agents = agentsIn2Zones(3, 50).map((a) => ({ ...a, poolDirectory: join(dir, 'disks', a.host) }));
  const notRun: string[] = [];
  let disks: PoolDisks | undefined;
  if (kinds.includes('full-disk')) {
    try {
      disks = await mountPoolDisks(agents.map((a) => a.poolDirectory));
    } catch (err) {
      notRun.push(`full-disk: ${(err as Error).message}`);
      kinds = kinds.filter((k) => k !== 'full-disk');
      say(`NOT RUN: ${notRun.at(-1)!}`);
    }
  }
  let postgres: OwnPostgres | undefined;
  if (kinds.includes('postgres-restart')) {
    try {
      postgres = await startOwnPostgres();
      say(`a PostgreSQL server of its own: ${new URL(postgres.databaseUrl).host}`);
    } catch (err) {
      notRun.push(`postgres-restart as a real restart (the cluster's database refuses connections instead): ${(err as Error).message}`);
      say(`NOT RUN: ${notRun.at(-1)!}`);
    }
  }
  say(`chaos: seed ${seed}, ${opts.trials} trials, faults ${kinds.join(', ')}`);
  const cluster = await clusterUp({
    spec: {
      dir,
      ...(postgres ? { databaseUrl: postgres.databaseUrl } : {}),
      natsNodes: 3,
      gateways: 2,
      schedulers: 2,
      agents,
      heartbeatSeconds: 1,
      env: {
        FLINT_OPERATION_TIMEOUT_SECONDS: String(OPERATION_TIMEOUT_S),
        FLINT_QUOTA_DEFAULTS: JSON.stringify({ volumes: -1, gigabytes: -1, snapshots: -1, backups: -1, backupGigabytes: -1 }),
        FLINT_API_RATE_PER_SECOND: '1000',
        FLINT_API_RATE_BURST: '2000',
      },
    },
    say,
  }).catch(async (err: unknown) => {
    await disks?.unmount();
    await postgres?.remove();
    throw err;
  });
  const runs: TrialReport[] = [];
  let subscriber: Subscriber | undefined;
  let workload: Workload | undefined;
  // Set once every trial ran: a run that throws keeps its logs, as one whose trials found problems does.
  let completed = false;
  try {
    const token = cluster.token('chaos', 'member');
    const api = new Api(cluster.state.gatewayUrls, token);
    const admin = new Api(cluster.state.gatewayUrls, cluster.adminToken());
    subscriber = new Subscriber(api, token, 1);
    await subscriber.start();
    const canaries = await makeCanaries(api, 2);
    say(`canaries ${canaries.map((c) => c.id).join(', ')} written through NBD`);
    workload = new Workload(api, opts.workers ?? 4, rng, (line) => say(`  ${line}`));
    for (let trial = 1; trial <= opts.trials && !opts.stopped?.(); trial++) {
      workload.resume();
      await sleep(1000 + rng() * 2000);
      const kind = kinds[(trial - 1) % kinds.length]!;
      const fault = await inject(cluster, kind, rng, { disks, postgres });
      const heldMs = Math.round(2000 + rng() * 3000);
      await sleep(heldMs);
      await fault.recover();
      await sleep(1000 + rng() * 1000);
      await workload.pause();
      const started = Date.now();
      await settle(admin, SETTLE_MS);
      // Let the subscriber see the last changes: a change whose notice was lost comes from the change log (src/gateway/live/catch-up.ts).
      await sleep(CATCH_UP_GRACE_MS + CATCH_UP_MS + 500);
      const settleMs = Date.now() - started;
      const end = await endState(api, admin, cluster, canaries, subscriber.events);
      const first = judge(workload.acks, end);
      // What looks lost may have failed in the open (e.g. an extend refused while its pool was silent): ask its operation.
      const verdict = judge(workload.acks, end, await failedOperations(admin, lostOperations(workload.acks, first)));
      runs.push({ trial, fault: fault.what, heldMs, settleMs, counts: verdict.counts, details: verdict.details });
      const bad = verdict.details.filter((d) => !d.startsWith('errored') && !d.startsWith('failed'));
      say(`trial ${trial}: ${fault.what}, held ${heldMs} ms, settled in ${settleMs} ms: ${bad.length === 0 ? 'clean' : bad.join('; ')}${verdict.counts.errored + verdict.counts.failed ? ` (${verdict.counts.errored} in an error status, ${verdict.counts.failed} failed with a message)` : ''}`);
    }
    completed = true;
  } finally {
    await workload?.pause();
    await subscriber?.stop();
    // The cluster's directory goes with it: what the roles logged is kept where the corrupt images are.
    const problems = runs.some((r) => r.details.some((d) => !d.startsWith('errored') && !d.startsWith('failed')));
    if (!completed || problems) say(`logs kept in ${keepLogs(dir, seed)}`);
    if (opts.keep && disks) say(`kept; the pools are tmpfs mounts: umount ${disks.directories.join(' ')} after \`flint cluster down\``);
    if (opts.keep && postgres) say(`kept; its PostgreSQL server runs from ${postgres.databaseUrl}: stop it with pg_ctl (as postgres) when done`);
    if (!opts.keep) {
      // The pools' filesystems go before the directory that holds them.
      await cluster.down();
      await disks?.unmount();
      await cluster.down({ purge: true });
      await postgres?.remove();
    }
  }
  // Each trial judges the whole state, so a problem that stays is found again in every later trial: count each once.
  const counts = distinctCounts(runs);
  return {
    seed,
    trials: runs.length,
    faults: runs.length,
    counts,
    workload: workload!.stats,
    subscriberResumes: subscriber?.resumes ?? 0,
    runs,
    notRun,
    summary: summary(runs.length, runs.length, counts, notRun),
  };
}

/** Volumes whose bytes the checker knows: attached over NBD, a pattern written with qemu-io, detached. */
async function makeCanaries(api: Api, n: number): Promise<Canary[]> {
  const out: Canary[] = [];
  for (let i = 0; i < n; i++) {
    const { createVolume } = await api.must<{ createVolume: { volume: { id: string } } }>('mutation($input: CreateVolumeInput!) { createVolume(input: $input) { volume { id } } }', { input: { name: `canary-${i}`, sizeGiB: 1 } });
    const id = createVolume.volume.id;
    await waitFor(api, `query($id: ID!) { volume(id: $id) { status } }`, { id }, (d: { volume: { status: string } }) => d.volume.status === 'AVAILABLE');
    const { createAttachment } = await api.must<{ createAttachment: { attachment: { id: string } } }>('mutation($input: CreateAttachmentInput!) { createAttachment(input: $input) { attachment { id } } }', { input: { volumeId: id, instanceId: `canary-${i}`, connector: { host: 'checker', ip: '127.0.0.1' }, targetKind: 'NBD' } });
    const aid = createAttachment.attachment.id;
    const a = await waitFor(api, 'query($id: ID!) { attachment(id: $id) { status connectionInfo { data { uri } } } }', { id: aid }, (d: { attachment: { connectionInfo: { data: { uri: string } } | null } }) => d.attachment.connectionInfo !== null);
    const canary = { id, pattern: 0x41 + i, bytes: 8 * 1024 * 1024 };
    await run('qemu-io', ['-f', 'raw', '-c', `write -P ${canary.pattern} 0 ${canary.bytes}`, '-c', 'flush', a.attachment.connectionInfo!.data.uri]);
    await api.must('mutation($input: AttachmentIdInput!) { completeAttachment(input: $input) { attachment { id } } }', { input: { id: aid } });
    await api.must('mutation($input: AttachmentIdInput!) { deleteAttachment(input: $input) { alreadyDeleted } }', { input: { id: aid } });
    await waitFor(api, `query($id: ID!) { volume(id: $id) { status } }`, { id }, (d: { volume: { status: string } }) => d.volume.status === 'AVAILABLE');
    out.push(canary);
  }
  return out;
}

/** Which of these operations FAILED (with the error the API shows for them). */
async function failedOperations(api: Api, ids: readonly string[]): Promise<Set<string>> {
  const failed = new Set<string>();
  for (const id of ids) {
    const { operation } = await api.must<{ operation: { status: string } | null }>('query($id: ID!) { operation(id: $id) { status } }', { id });
    if (operation?.status === 'FAILED') failed.add(id);
  }
  return failed;
}

async function waitFor<T>(api: Api, query: string, variables: Record<string, unknown>, done: (d: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const d = await api.must<T>(query, variables);
    if (done(d)) return d;
    if (Date.now() > until) throw new Error(`timed out waiting: ${query} ${JSON.stringify(d)}`);
    await sleep(200);
  }
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const trials = Number(arg('trials') ?? 10);
  const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
  const dir = arg('dir') ?? join(root, '.flint-chaos');
  const faults = arg('faults')?.split(',') as FaultKind[] | undefined;
  const unknown = faults?.filter((f) => !FAULT_KINDS.includes(f));
  if (unknown?.length) throw new Error(`unknown fault ${unknown.join(', ')}: the kinds are ${FAULT_KINDS.join(', ')}`);
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) process.exit(130);
      stopping = true;
      process.stderr.write(`${sig}: stopping after this trial, then cleaning up (${sig} again leaves everything running)\n`);
    });
  }
  const report = await runChaos({ trials, seed: arg('seed') === undefined ? undefined : Number(arg('seed')), dir, keep: argv.includes('--keep'), faults, stopped: () => stopping, say: (l) => process.stderr.write(`${l}\n`) });
  const out = join(root, 'bench', 'results', `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${report.summary}\nreport: ${out}\n`);
  const c = report.counts;
  if (c.lost + c.stuck + c.orphaned + c.corrupted + c.drift + c.missed + c.disordered > 0) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
