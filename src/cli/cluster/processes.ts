/**
 * The cluster's processes are daemons of their own: started detached (in their own session,
 * output to a log file), so `flint cluster up` can return and `flint cluster down`, another
 * process, can stop them. Each carries FLINT_CLUSTER_DIR in its environment, and so do the
 * processes it starts (an agent's tgtd and qemu): `down` finds and ends those too, even when
 * their parent was killed with -9 and they were re-parented to init.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** The environment entry that marks a process (and its children) as the cluster's in `dir`. */
export const CLUSTER_MARKER = 'FLINT_CLUSTER_DIR';

/** Starts `binary args` detached, output appended to `log`; returns its pid. */
export function spawnDetached(binary: string, args: readonly string[], env: NodeJS.ProcessEnv, log: string): number {
  const fd = openSync(log, 'a', 0o600);
  try {
    const child = spawn(binary, args, { env, detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`could not start ${binary}`);
    child.unref();
    // Reaped by this process while it lives (Node waits for its children); an error after start is the log's to tell.
    child.on('error', () => undefined);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Whether `pid` is a live process (not gone, not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Sends `signal` to `pid` (a gone process is fine). */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * SIGTERM to each pid (a SIGSTOPped one is continued so it can act on it), then SIGKILL to
 * those still alive after `graceMs`; resolves when all are gone.
 */
export async function stopAll(pids: readonly number[], graceMs: number): Promise<void> {
  const live = pids.filter(isAlive);
  for (const pid of live) {
    signal(pid, 'SIGTERM');
    signal(pid, 'SIGCONT');
  }
  const deadline = Date.now() + graceMs;
  while (live.some(isAlive) && Date.now() < deadline) await sleep(100);
  for (const pid of live.filter(isAlive)) signal(pid, 'SIGKILL');
  while (live.some(isAlive)) await sleep(50);
}

/** Pids of live processes whose environment carries the marker of the cluster in `dir`. */
export function markedPids(dir: string): number[] {
  const want = `${CLUSTER_MARKER}=${dir}`;
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(want) && isAlive(Number(entry))) out.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return out;
}
