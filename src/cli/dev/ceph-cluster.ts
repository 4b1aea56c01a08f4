/**
 * Boots a real single-node Ceph cluster in userspace (one mon, one BlueStore OSD on a sparse
 * file, cephx on, no mgr) under one directory, for dev mode (`flint dev --ceph`), the tests
 * and the benchmarks. The recipe and its pitfalls are in shared/PLATFORM.md, "Ceph":
 * - each daemon has its own keyring in its section (one in [global] only makes the OSD fail);
 * - every path (run, crash, tmp, logs, sockets, pid files, data) is under the directory;
 * - messenger v2 only, on 127.0.0.1, with the daemons' ports in a free range;
 * - `paxos_propose_interval = 0.05`, which takes a snapshot from ~1 s to ~0.2 s;
 * - the OSD stops before the mon, or it waits 5 s on exit.
 *
 * `startCephCluster` returns once `rbd` works; `createRbdPool` and `createClient` make what a
 * Flint pool names (an rbd pool, and a cephx user with rbd caps on it and a keyring).
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, isPortFree } from '../../net/free-port.js';

const run = promisify(execFile);

/** Size of the OSD's sparse block file. @default 20 GiB (thin: only what is written takes space) */
export const DEFAULT_OSD_GIB = 20;
const BOOT_TIMEOUT_MS = 60_000;

export interface StartCephOptions {
  /** Everything of the cluster lives here; a cluster already set up there is started again. */
  dir: string;
  /** OSD block file size. @default DEFAULT_OSD_GIB */
  osdGiB?: number;
  /**
   * Start the daemons in their own session, not as children of this process (a cluster that
   * outlives the process that booted it: the tests share one per run). The caller stops it
   * with `stopCephDaemons(dir)`.
   */
  detached?: boolean;
  /** Extra environment for the daemons (the tests remove their worker marker). */
  env?: NodeJS.ProcessEnv;
}

export interface CephCluster {
  readonly dir: string;
  /** The cluster's ceph.conf (admin's keyring included). */
  readonly conf: string;
  readonly fsid: string;
  /** Creates an rbd pool (idempotent). */
  createRbdPool(name: string): Promise<void>;
  /** Removes an rbd pool and its images. */
  deleteRbdPool(name: string): Promise<void>;
  /** Creates cephx user `client.<user>` with rbd caps on `pools` and writes its keyring; returns its path. */
  createClient(user: string, pools: readonly string[]): Promise<string>;
  /** Stops the OSD, then the mon. */
  stop(): Promise<void>;
}

/** Binaries of the packages the cluster needs (ceph-mon, ceph-osd, ceph-common). */
export const CEPH_BINARIES = ['ceph-mon', 'ceph-osd', 'ceph', 'ceph-authtool', 'monmaptool', 'rbd'] as const;

interface Layout {
  dir: string;
  conf: string;
  monKeyring: string;
  adminKeyring: string;
  osdData: string;
  state: string;
}

function layoutOf(dir: string): Layout {
  const abs = resolve(dir);
  return {
    dir: abs,
    conf: join(abs, 'ceph.conf'),
    monKeyring: join(abs, 'mon.keyring'),
    adminKeyring: join(abs, 'admin.keyring'),
    osdData: join(abs, 'osd'),
    state: join(abs, 'cluster.json'),
  };
}

/** The ceph.conf of the cluster (pure). */
export function renderCephConf(l: Layout, fsid: string, monPort: number, portMin: number, osdGiB: number): string {
  return `[global]
fsid = ${fsid}
mon_host = [v2:127.0.0.1:${monPort}]
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
ms_bind_msgr1 = false
ms_bind_port_min = ${portMin}
ms_bind_port_max = ${portMin + 9}
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
run_dir = ${l.dir}/run
crash_dir = ${l.dir}/crash
tmp_dir = ${l.dir}/tmp
log_file = ${l.dir}/log/$name.log
admin_socket = ${l.dir}/run/$name.asok
pid_file = ${l.dir}/run/$name.pid
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_warn_on_pool_no_redundancy = false
paxos_propose_interval = 0.05
mon_data_avail_warn = 1
mon_data_avail_crit = 0

[mon.a]
keyring = ${l.monKeyring}
mon_data = ${l.dir}/mon

[osd.0]
keyring = ${l.osdData}/keyring
osd_data = ${l.osdData}
osd_objectstore = bluestore
bluestore_block_path = ${l.osdData}/block.file
bluestore_block_create = true
bluestore_block_size = ${osdGiB * 1024 ** 3}
bluestore_fsck_on_mkfs = false
bluestore_fsck_on_mount = false
osd_memory_target = 1073741824
bluestore_cache_autotune = false
bluestore_cache_size = 134217728
osd_op_num_shards = 2

[client.admin]
keyring = ${l.adminKeyring}
`;
}

async function cmd(binary: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout } = await run(binary, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; code?: string | number; message: string };
    if (e.code === 'ENOENT') throw new Error(`${binary} is not installed: install ceph-mon ceph-osd ceph-common (scripts/ensure-system.mjs --ceph does it)`);
    throw new Error(`${binary} ${args.join(' ')}: ${(e.stderr ?? e.message).trim().slice(-800)}`);
  }
}

/** Two free ports 10 apart for the daemons' range, plus the mon's. */
async function freeRange(): Promise<{ monPort: number; portMin: number }> {
  for (let i = 0; i < 50; i++) {
    const monPort = await freePort();
    const portMin = await freePort();
    let free = true;
    for (let p = portMin; p < portMin + 10 && free; p++) free = p !== monPort && (await isPortFree(p));
    if (free) return { monPort, portMin };
  }
  throw new Error('no free port range for the Ceph daemons');
}

interface State {
  fsid: string;
  monPort: number;
  portMin: number;
}

/** Creates the mon's store and the OSD's BlueStore; run once per directory. */
async function mkfs(l: Layout, osdGiB: number): Promise<State> {
  const fsid = randomUUID();
  const { monPort, portMin } = await freeRange();
  for (const sub of ['run', 'crash', 'tmp', 'log', 'mon', 'osd']) await mkdir(join(l.dir, sub), { recursive: true });
  await writeFile(l.conf, renderCephConf(l, fsid, monPort, portMin, osdGiB));
  await cmd('ceph-authtool', ['--create-keyring', l.monKeyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
  await cmd('ceph-authtool', ['--create-keyring', l.adminKeyring, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *']);
  await cmd('ceph-authtool', [l.monKeyring, '--import-keyring', l.adminKeyring]);
  const monmap = join(l.dir, 'tmp', 'monmap');
  await cmd('monmaptool', ['--create', '--clobber', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, '--fsid', fsid, monmap]);
  await cmd('ceph-mon', ['-c', l.conf, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', l.monKeyring]);
  const state = { fsid, monPort, portMin };
  return state;
}

function daemonArgs(l: Layout, kind: 'mon' | 'osd'): string[] {
  return kind === 'mon' ? ['-f', '-c', l.conf, '-i', 'a'] : ['-f', '-c', l.conf, '-i', '0'];
}

/** Starts a daemon; its output goes to its log file. Returns its pid. */
function startDaemon(l: Layout, kind: 'mon' | 'osd', opts: StartCephOptions): number {
  const out = openSync(join(l.dir, 'log', `${kind}.out`), 'a');
  try {
    const child = spawn(`ceph-${kind}`, daemonArgs(l, kind), { detached: opts.detached === true, stdio: ['ignore', out, out], env: { ...(opts.env ?? process.env) } });
    if (opts.detached) child.unref();
    if (child.pid === undefined) throw new Error(`ceph-${kind} could not be started (is ceph-${kind} installed?)`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** Whether `pid` runs (a zombie, exited but not yet reaped by its parent, does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readFileOr(`/proc/${pid}/stat`);
  return stat === undefined || !/^\d+ \(.*\) Z/.test(stat);
}

function readFileOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function until<T>(what: string, l: Layout, fn: () => Promise<T | undefined>, timeoutMs = BOOT_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  const log = await readFile(join(l.dir, 'log', 'osd.out'), 'utf8').catch(() => '');
  throw new Error(`Ceph: ${what} did not happen within ${timeoutMs / 1000} s (${last instanceof Error ? last.message : 'no answer'}); logs in ${l.dir}/log ${log.slice(-400)}`);
}

function ceph(l: Layout, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  return cmd('ceph', ['-c', l.conf, '--connect-timeout', '10', ...args], timeoutMs);
}

/** The pids of the cluster's daemons, as their pid files say (running or not). */
async function pidsOf(l: Layout): Promise<{ osd?: number; mon?: number }> {
  const read = async (name: string): Promise<number | undefined> => {
    const text = await readFile(join(l.dir, 'run', `${name}.pid`), 'utf8').catch(() => '');
    const pid = Number(text.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  };
  const osd = await read('osd.0');
  const mon = await read('mon.a');
  return { ...(osd ? { osd } : {}), ...(mon ? { mon } : {}) };
}

async function stopPid(pid: number | undefined, graceMs: number): Promise<void> {
  if (!pid || !alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
    while (alive(pid)) await sleep(20);
  }
}

/** Stops the daemons of the cluster in `dir` (OSD first), whoever started them. Safe when none runs. */
export async function stopCephDaemons(dir: string): Promise<void> {
  const l = layoutOf(dir);
  const { osd, mon } = await pidsOf(l);
  await stopPid(osd, 10_000);
  await stopPid(mon, 10_000);
}

/** Boots (or boots again) the cluster under `opts.dir`; resolves once an rbd command works. */
export async function startCephCluster(opts: StartCephOptions): Promise<CephCluster> {
  const l = layoutOf(opts.dir);
  await mkdir(l.dir, { recursive: true });
  await stopCephDaemons(l.dir);
  const saved = await readFile(l.state, 'utf8').catch(() => undefined);
  const fresh = saved === undefined;
  const state: State = fresh ? await mkfs(l, opts.osdGiB ?? DEFAULT_OSD_GIB) : (JSON.parse(saved) as State);
  startDaemon(l, 'mon', opts);
  await until('the mon answering', l, async () => (await ceph(l, ['mon', 'stat'], 5_000)) || undefined);
  if (fresh) {
    const uuid = randomUUID();
    await ceph(l, ['osd', 'new', uuid]);
    await cmd('ceph-authtool', ['--create-keyring', join(l.osdData, 'keyring'), '--gen-key', '-n', 'osd.0']);
    await ceph(l, ['auth', 'add', 'osd.0', 'osd', 'allow *', 'mon', 'allow profile osd', '-i', join(l.osdData, 'keyring')]);
    await cmd('ceph-osd', ['-c', l.conf, '-i', '0', '--mkfs', '--osd-uuid', uuid], 120_000);
    await writeFile(l.state, JSON.stringify(state));
  }
  startDaemon(l, 'osd', opts);
  await until('the OSD up', l, async () => {
    const dump = JSON.parse(await ceph(l, ['osd', 'dump', '--format', 'json'], 5_000)) as { osds: { up: number }[] };
    return dump.osds.some((o) => o.up === 1) ? true : undefined;
  });
  return clusterHandle(l, state);
}

/** A handle on the cluster under `dir` when its daemons run already; undefined otherwise. */
export async function attachCephCluster(dir: string): Promise<CephCluster | undefined> {
  const l = layoutOf(dir);
  const saved = await readFile(l.state, 'utf8').catch(() => undefined);
  if (saved === undefined) return undefined;
  const { osd, mon } = await pidsOf(l);
  if (!osd || !mon || !alive(osd) || !alive(mon)) return undefined;
  return clusterHandle(l, JSON.parse(saved) as State);
}

function clusterHandle(l: Layout, state: State): CephCluster {
  return {
    dir: l.dir,
    conf: l.conf,
    fsid: state.fsid,
    async createRbdPool(name) {
      await ceph(l, ['osd', 'pool', 'create', name, '8', '8']);
      await ceph(l, ['osd', 'pool', 'application', 'enable', name, 'rbd', '--yes-i-really-mean-it']);
      // The first rbd command on a new pool waits for its PGs to be active.
      await until(`pool ${name} active`, l, async () => {
        await cmd('rbd', ['-c', l.conf, 'ls', name], 5_000);
        return true;
      });
    },
    async deleteRbdPool(name) {
      await ceph(l, ['osd', 'pool', 'delete', name, name, '--yes-i-really-really-mean-it']);
    },
    async createClient(user, pools) {
      const keyring = join(l.dir, `ceph.client.${user}.keyring`);
      const osdCaps = pools.map((p) => `profile rbd pool=${p}`).join(', ');
      const text = await ceph(l, ['auth', 'get-or-create', `client.${user}`, 'mon', 'profile rbd', 'osd', osdCaps]);
      // An existing user keeps its key; its caps follow the pools asked now.
      await ceph(l, ['auth', 'caps', `client.${user}`, 'mon', 'profile rbd', 'osd', osdCaps]);
      await writeFile(keyring, text, { mode: 0o600 });
      return keyring;
    },
    stop: () => stopCephDaemons(l.dir),
  };
}

/** Removes a cluster's directory after stopping it. */
export async function destroyCephCluster(dir: string): Promise<void> {
  await stopCephDaemons(dir);
  await rm(dir, { recursive: true, force: true });
}
