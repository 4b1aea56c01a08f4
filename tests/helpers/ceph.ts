/**
 * One real Ceph cluster per test run, shared by the test files that need RBD, each file with
 * an rbd pool and a cephx user of its own.
 *
 * The first worker that asks boots the cluster (src/cli/dev/ceph-cluster.ts) under
 * `os.tmpdir()/flint-ceph-<ava's pid>`, under a lock that the others wait on; the others find
 * it running and use it. The daemons are started by a short-lived node process of their own
 * (so, once it exits, they are nobody's descendants), in their own session and without this
 * worker's marker: no test file owns them (`noProcessesLeft` does not count them). A small
 * watcher started the same way stops them and removes the directory once ava's main process
 * has exited, however the run ended.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { attachCephCluster, type CephCluster } from '../../src/cli/dev/ceph-cluster.js';
import { MARKER } from './processes.js';

/** An rbd pool of one test file: what a Flint `rbd` pool config names. */
export interface TestRbdPool {
  /** The cluster's ceph.conf (the admin keyring is in it). */
  conf: string;
  /** The rbd pool (`f<worker pid>`, or with a suffix). */
  rbdPool: string;
  /** The cephx user (without `client.`) with rbd caps on `rbdPool` only. */
  user: string;
  keyring: string;
  cluster: CephCluster;
  /** Removes the pool and everything in it. */
  remove(): Promise<void>;
}

const LOCK_STALE_MS = 120_000;

function clusterDir(): string {
  // Every worker of one `ava` run has the same parent: ava's main process.
  return join(tmpdir(), `flint-ceph-${process.ppid}`);
}

async function withLock<T>(lock: string, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs).catch(() => 0);
      if (age > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true });
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** The environment of the shared daemons: this worker's marker removed. */
function sharedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env[MARKER];
  return env;
}

/** The watcher's script: stops the cluster and removes its directory once ava's main process has gone. */
function watchScript(dir: string): string {
  return `while kill -0 ${process.ppid} 2>/dev/null; do sleep 1; done
for f in osd.0 mon.a; do p=$(cat "${dir}/run/$f.pid" 2>/dev/null) && kill "$p" 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done; kill -9 "$p" 2>/dev/null; done
rm -rf "${dir}"`;
}

/**
 * Boots the cluster (and, when `watch`, the watcher) from a node process of its own that exits
 * once the cluster answers: its detached children are then re-parented away from this worker.
 */
function bootApart(dir: string, watch: boolean): Promise<void> {
  const module = fileURLToPath(new URL('../../src/cli/dev/ceph-cluster.js', import.meta.url));
  const code = `import { spawn } from 'node:child_process';
const { startCephCluster } = await import(${JSON.stringify(module)});
await startCephCluster({ dir: ${JSON.stringify(dir)}, detached: true });
if (${watch}) spawn('sh', ['-c', ${JSON.stringify(watchScript(dir))}], { detached: true, stdio: 'ignore' }).unref();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'pipe'], env: sharedEnv() });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`booting the Ceph cluster in ${dir} failed (${code}): ${stderr.slice(-2000)}`))));
  });
}

let shared: Promise<CephCluster> | undefined;

/** The run's cluster, booted by whichever worker asks first. */
export function sharedCephCluster(): Promise<CephCluster> {
  return (shared ??= (async () => {
    const dir = clusterDir();
    return withLock(`${dir}.lock`, async () => {
      const booted = await readdir(dir).then(() => true).catch(() => false);
      return startCephClusterShared(dir, !booted);
    });
  })());
}

async function startCephClusterShared(dir: string, watch: boolean): Promise<CephCluster> {
  // A cluster another worker booted is running: starting it again would restart its daemons
  // under the other files' feet, so only its handle is made.
  const running = await attachCephCluster(dir);
  if (running) return running;
  await bootApart(dir, watch);
  const booted = await attachCephCluster(dir);
  if (!booted) throw new Error(`the Ceph cluster in ${dir} was booted but its daemons do not run`);
  return booted;
}

let pools = 0;

/** A new rbd pool and cephx user for this test file, on the run's cluster. */
export async function testRbdPool(suffix = ''): Promise<TestRbdPool> {
  const cluster = await sharedCephCluster();
  const rbdPool = `f${process.pid}${suffix || (pools++ === 0 ? '' : `-${pools}`)}`;
  const user = `flint-${rbdPool}`;
  await cluster.createRbdPool(rbdPool);
  const keyring = await cluster.createClient(user, [rbdPool]);
  return { conf: cluster.conf, rbdPool, user, keyring, cluster, remove: () => cluster.deleteRbdPool(rbdPool) };
}
