/**
 * One real Ceph cluster per test run, shared by the test files that need RBD, each file with
 * an rbd pool and a cephx user of its own.
 *
 * The first worker that asks boots the cluster (src/cli/dev/ceph-cluster.ts) under
 * `os.tmpdir()/flint-ceph-<ava's pid>`, under a lock that the others wait on; the others find
 * it running and use it. The daemons run in their own session and without this worker's
 * marker, so no test file owns them (`noProcessesLeft` does not count them): a small watcher
 * started with them stops them and removes the directory once ava's main process has exited,
 * however the run ended.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { attachCephCluster, startCephCluster, type CephCluster } from '../../src/cli/dev/ceph-cluster.js';
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

/** Stops the cluster and removes its directory once ava's main process has gone. */
function watchRun(dir: string): void {
  const script = `while kill -0 ${process.ppid} 2>/dev/null; do sleep 1; done
for f in osd.0 mon.a; do p=$(cat "${dir}/run/$f.pid" 2>/dev/null) && kill "$p" 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done; kill -9 "$p" 2>/dev/null; done
rm -rf "${dir}"`;
  // Through a shell that exits at once: the watcher is not this worker's child, so it does not count as one of its processes.
  const child = spawn('sh', ['-c', 'sh -c "$0" >/dev/null 2>&1 &', script], { detached: true, stdio: 'ignore', env: sharedEnv() });
  child.unref();
}

let shared: Promise<CephCluster> | undefined;

/** The run's cluster, booted by whichever worker asks first. */
export function sharedCephCluster(): Promise<CephCluster> {
  return (shared ??= (async () => {
    const dir = clusterDir();
    return withLock(`${dir}.lock`, async () => {
      const booted = await readdir(dir).then(() => true).catch(() => false);
      const cluster = await startCephClusterShared(dir);
      if (!booted) watchRun(dir);
      return cluster;
    });
  })());
}

async function startCephClusterShared(dir: string): Promise<CephCluster> {
  // A cluster another worker booted is running: starting it again would restart its daemons
  // under the other files' feet, so only its handle is made.
  const running = await attachCephCluster(dir);
  return running ?? startCephCluster({ dir, detached: true, env: sharedEnv() });
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
