/**
 * `flint cluster up|down|status`: the production topology of src/cli/cluster/topology.ts,
 * really started on this machine: a NATS cluster with JetStream (streams and buckets at
 * replicas 3), a PostgreSQL database, gateways, schedulers and agents, each its own detached
 * process. The state file (`cluster.json` in the directory) names every process, its pid and
 * how to start it again, so the chaos suite can kill, pause and restart any of them by name
 * and `down` can stop them all, leaving nothing running.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { provisionNats } from '../../bus/index.js';
import { dropDatabase, ensureDatabase, LOCAL_PG_ADMIN_URL } from '../../db/pg-admin.js';
import { freePort } from '../../net/free-port.js';
import { findNatsServerBinary, readInfo } from '../dev/nats-server.js';
import { CLUSTER_MARKER, isAlive, markedPids, signal, spawnDetached, stopAll } from './processes.js';
import { planCluster, portsNeeded, type ClusterPlan, type ClusterSpec, type PlannedProcess } from './topology.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const FLINT = join(ROOT, 'bin', 'flint.js');
const STATE_FILE = 'cluster.json';
/** How long a process may take to answer after it starts. */
const READY_TIMEOUT_MS = 60_000;
/** Between SIGTERM and SIGKILL when stopping. */
const STOP_GRACE_MS = 20_000;

export interface ClusterState {
  dir: string;
  /** The database `up` made (dropped by `down --purge`); absent when it was given. */
  madeDatabase?: { adminUrl: string; name: string };
  databaseUrl: string;
  natsUrls: string[];
  gatewayUrls: string[];
  adminTokenFile: string;
  processes: Array<PlannedProcess & { pid: number }>;
}

export interface UpOptions {
  spec: Omit<ClusterSpec, 'databaseUrl'> & { databaseUrl?: string };
  /** Admin connection where `up` makes the cluster's database when no databaseUrl is given. @default the local PostgreSQL */
  pgAdminUrl?: string;
  /** Told of each step. */
  say?: (line: string) => void;
}

/** A cluster that is up: its state and the handles the chaos suite uses. */
export interface RunningCluster {
  readonly state: ClusterState;
  adminToken(): string;
  /** A new API token of `project` (made when new) with `role`. */
  token(project: string, role: 'admin' | 'member' | 'reader'): string;
  /** The process of that name (`nats-2`, `gateway-1`, `agent-3`…). */
  process(name: string): ClusterState['processes'][number];
  /** Signals a process: SIGKILL (a crash), SIGSTOP/SIGCONT (a partition: it neither sends nor answers). */
  signal(name: string, sig: NodeJS.Signals): void;
  /** Waits until a killed process is gone. */
  waitGone(name: string): Promise<void>;
  /** Starts a process that is down again, with its settings; resolves when it answers. */
  start(name: string): Promise<void>;
  alive(name: string): boolean;
  /** Stops everything (see `clusterDown`). */
  down(opts?: { purge?: boolean }): Promise<void>;
}

/** Starts the cluster in `spec.dir`; refuses when one is up there already. */
export async function clusterUp(opts: UpOptions): Promise<RunningCluster> {
  const say = opts.say ?? (() => undefined);
  const dir = resolve(opts.spec.dir);
  const previous = readState(dir);
  if (previous && previous.processes.some((p) => isAlive(p.pid))) throw new Error(`a cluster is already up in ${dir}: run \`flint cluster down --dir ${dir}\` first`);
  const natsBinary = findNatsServerBinary();
  if (!natsBinary) throw new Error('nats-server not found in PATH or /usr/sbin: run `node scripts/ensure-system.mjs` (or apt-get install nats-server)');
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  let madeDatabase: ClusterState['madeDatabase'];
  let databaseUrl = opts.spec.databaseUrl;
  if (databaseUrl === undefined) {
    const adminUrl = opts.pgAdminUrl ?? LOCAL_PG_ADMIN_URL;
    const name = `flint_cluster_${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`;
    databaseUrl = await ensureDatabase(adminUrl, name);
    madeDatabase = { adminUrl, name };
    say(`database ${name} on ${new URL(adminUrl).host}`);
  }
  const spec: ClusterSpec = { ...opts.spec, dir, databaseUrl };
  const plan = planCluster(spec, await portSource(portsNeeded(spec)));
  ensureSecretKey(plan.files.secretKey);
  provisionNats({ dir: plan.files.natsAuthDir, agents: spec.agents.map((a) => a.host) });
  for (const p of plan.processes) mkdirSync(p.role === 'nats' ? join(dir, p.name, 'store') : p.env.FLINT_DATA_DIR!, { recursive: true, mode: 0o700 });

  const state: ClusterState = { dir, madeDatabase, databaseUrl, natsUrls: plan.natsUrls, gatewayUrls: plan.gatewayUrls, adminTokenFile: plan.files.adminToken, processes: [] };
  const cluster = handle(state, natsBinary);
  try {
    const byRole = (role: PlannedProcess['role']) => plan.processes.filter((p) => p.role === role);
    await startAll(state, byRole('nats'), natsBinary);
    say(`NATS cluster: ${plan.natsUrls.join(',')}`);
    const migrateEnv = baseEnv(dir, byRole('gateway')[0]!.env);
    flintSync(['migrate'], migrateEnv, 'flint migrate');
    if (!existsSync(plan.files.adminToken)) writeFileSync(plan.files.adminToken, `${flintSync(['token', 'create', '--project', 'admin', '--role', 'admin', '--name', 'cluster admin'], migrateEnv, 'flint token create').trim()}\n`, { mode: 0o600 });
    // Gateways first: they make the streams and buckets the others bind to.
    await startAll(state, byRole('gateway'), natsBinary);
    say(`gateways: ${plan.gatewayUrls.join(' ')}`);
    await startAll(state, [...byRole('scheduler'), ...byRole('agent')], natsBinary);
    await waitPoolsUp(plan, state, cluster.adminToken());
    say(`schedulers: ${byRole('scheduler').length}, agents: ${byRole('agent').map((a) => `${a.host} (${a.env.FLINT_AVAILABILITY_ZONE})`).join(', ')}`);
    return cluster;
  } catch (err) {
    await clusterDown(dir).catch(() => undefined);
    throw err;
  }
}

/** Stops every process of the cluster in `dir` (roles, then NATS, then whatever they left); `purge` also drops what `up` made. */
export async function clusterDown(dirIn: string, opts: { purge?: boolean } = {}): Promise<{ stopped: number }> {
  const dir = resolve(dirIn);
  const state = readState(dir);
  const pids = (roles: string[]) => (state?.processes ?? []).filter((p) => roles.includes(p.role)).map((p) => p.pid);
  const before = (state?.processes ?? []).filter((p) => isAlive(p.pid)).length;
  await stopAll(pids(['gateway', 'scheduler', 'agent']), STOP_GRACE_MS);
  await stopAll(pids(['nats']), STOP_GRACE_MS);
  // An agent killed with -9 leaves its tgtd and qemu behind, re-parented to init.
  await stopAll(markedPids(dir), 5_000);
  if (state) writeState({ ...state, processes: state.processes.map((p) => ({ ...p, pid: 0 })) });
  if (opts.purge) {
    if (state?.madeDatabase) await dropDatabase(state.madeDatabase.adminUrl, state.madeDatabase.name);
    rmSync(dir, { recursive: true, force: true });
  }
  return { stopped: before };
}

/** The cluster in `dir` as its state file says, or undefined when none was started there. */
export function readState(dir: string): ClusterState | undefined {
  const file = join(resolve(dir), STATE_FILE);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterState;
}

/** A handle on a cluster that `up` started (possibly in another process). */
export function openCluster(dir: string): RunningCluster {
  const state = readState(dir);
  if (!state) throw new Error(`no cluster in ${resolve(dir)}: run \`flint cluster up --dir ${dir}\``);
  const natsBinary = findNatsServerBinary();
  if (!natsBinary) throw new Error('nats-server not found');
  return handle(state, natsBinary);
}

function handle(state: ClusterState, natsBinary: string): RunningCluster {
  const proc = (name: string) => {
    const p = state.processes.find((x) => x.name === name);
    if (!p) throw new Error(`no process ${name} in the cluster (it has ${state.processes.map((x) => x.name).join(', ')})`);
    return p;
  };
  return {
    state,
    adminToken: () => readFileSync(state.adminTokenFile, 'utf8').trim(),
    token: (project, role) => flintSync(['token', 'create', '--project', project, '--role', role], baseEnv(state.dir, state.processes.find((p) => p.role === 'gateway')!.env), 'flint token create').trim(),
    process: proc,
    signal: (name, sig) => signal(proc(name).pid, sig),
    waitGone: async (name) => {
      while (isAlive(proc(name).pid)) await sleep(20);
    },
    alive: (name) => isAlive(proc(name).pid),
    start: async (name) => {
      const p = proc(name);
      if (isAlive(p.pid)) throw new Error(`${name} is running (pid ${p.pid})`);
      await startAll(state, [p], natsBinary);
    },
    down: async (opts) => void (await clusterDown(state.dir, opts)),
  };
}

function writeState(state: ClusterState): void {
  writeFileSync(join(state.dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

/** What every process gets: PATH and HOME, the cluster's marker (and a test worker's), and its own settings. */
function baseEnv(dir: string, own: Record<string, string>): NodeJS.ProcessEnv {
  const pass = ['PATH', 'HOME', 'FLINT_TEST_WORKER'].filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]);
  return { ...Object.fromEntries(pass), [CLUSTER_MARKER]: dir, ...own };
}

/** Starts the processes (in parallel) and waits until each answers; records their pids as they start. */
async function startAll(state: ClusterState, procs: readonly PlannedProcess[], natsBinary: string): Promise<void> {
  for (const p of procs) {
    const [binary, args] = p.role === 'nats' ? [natsBinary, p.args] : [process.execPath, [FLINT, ...p.args]];
    const pid = spawnDetached(binary, args, baseEnv(state.dir, p.env), p.log);
    state.processes = [...state.processes.filter((x) => x.name !== p.name), { ...p, pid }];
    writeState(state);
  }
  await Promise.all(procs.map((p) => waitReady(state, p.name)));
}

async function waitReady(state: ClusterState, name: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const p = state.processes.find((x) => x.name === name)!;
    if (!isAlive(p.pid)) throw new Error(`${name} exited while starting; the end of ${p.log}:\n${tail(p.log)}`);
    if (p.ready.kind === 'nats') {
      const info = await readInfo('127.0.0.1', p.ready.port);
      if (info?.server_name === name && info.jetstream === true) return;
    } else if ((await fetch(p.ready.url).catch(() => undefined))?.ok) {
      return;
    }
    if (Date.now() > deadline) throw new Error(`${name} did not answer at ${p.ready.kind === 'nats' ? `NATS port ${p.ready.port}` : p.ready.url} within ${READY_TIMEOUT_MS / 1000} s; the end of ${p.log}:\n${tail(p.log)}`);
    await sleep(100);
  }
}

/** Waits until a gateway lists every agent's pool as UP. */
async function waitPoolsUp(plan: ClusterPlan, state: ClusterState, token: string): Promise<void> {
  const want = plan.spec.agents.length;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    let answer = 'nothing';
    let body: { data?: { pools?: Array<{ state: string }> } } | undefined;
    try {
      const res = await fetch(plan.gatewayUrls[0]!, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ pools { id state } }' }) });
      const text = await res.text();
      answer = `${res.status} ${text.slice(0, 300)}`;
      body = JSON.parse(text) as typeof body;
    } catch (err) {
      if (answer === 'nothing') answer = `no answer (${err instanceof Error ? err.message : String(err)})`;
    }
    const up = body?.data?.pools?.filter((p) => p.state === 'UP').length ?? 0;
    if (up >= want) return;
    if (Date.now() > deadline) {
      // Every process's log: a gateway or agent that lost the bus, or a NATS node that did not join, shows it in its own.
      const logs = plan.processes.map((p) => `--- ${p.log}${isAlive(state.processes.find((x) => x.name === p.name)?.pid ?? 0) ? '' : ' (exited)'}\n${tail(p.log)}`);
      throw new Error(`only ${up} of ${want} pools are UP after ${READY_TIMEOUT_MS / 1000} s (the first gateway answered ${answer}); the logs:\n${logs.join('\n')}`);
    }
    await sleep(200);
  }
}

function flintSync(args: string[], env: NodeJS.ProcessEnv, what: string): string {
  const r = spawnSync(process.execPath, [FLINT, ...args], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr}`);
  return r.stdout;
}

/** `n` distinct free ports, handed out in turn. */
async function portSource(n: number): Promise<() => number> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  const list = [...ports];
  return () => {
    const p = list.shift();
    if (p === undefined) throw new Error('the cluster plan asked for more ports than portsNeeded counted');
    return p;
  };
}

function ensureSecretKey(file: string): void {
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}
