/**
 * Leftover processes fail loudly instead of hanging the run.
 *
 * A test worker cannot exit while a child it spawned is alive (a tgtd an agent forgot, say),
 * and ava's timeout does not fire once the tests are done: the run just hangs. So every test
 * file that starts processes ends with
 *
 *     test.after.always('no process is left behind', noProcessesLeft);
 *
 * which waits a while for the file's other cleanup hooks, then kills whatever is left and
 * fails, naming each process. It finds the worker's descendants through /proc, and also
 * processes that were re-parented to init (their parent, an agent process, was killed): every
 * child carries `FLINT_TEST_WORKER=<worker pid>` in its environment (set by
 * `worker-setup.ts`; pass `processMarker()` into the env of processes started with an
 * explicit environment).
 *
 * It also fails when a daemon of this worker was started on one of the default ports (tests
 * must take free ports, as the e2e clusters do, so that they neither collide with each other
 * nor with a real agent on the machine).
 */
import type { ExecutionContext } from 'ava';
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { observeDaemonSpawns, ProcessGroup } from '../../src/lifecycle/index.js';

export const MARKER = 'FLINT_TEST_WORKER';
/** Ports only a test of the defaults may use: iSCSI 3260, NBD 10809–10899, NATS 4222. */
export const DEFAULT_PORTS: ReadonlySet<number> = new Set([3260, 4222, ...Array.from({ length: 91 }, (_, i) => 10809 + i)]);
/** The control socket (/var/run/tgtd/socket.4260) of a tgtd on the default iSCSI port: a test must not talk to a real agent's tgtd. */
export const DEFAULT_TGTD_CONTROL = 4260;
/** How long `noProcessesLeft` waits for the file's own cleanup before it kills (FLINT_TEST_LEFTOVER_WAIT_MS). @default 30_000 */
const WAIT_MS = Number(process.env.FLINT_TEST_LEFTOVER_WAIT_MS ?? 30_000);

/** The environment entry that marks a process as this worker's (for spawns with an explicit env). */
export function processMarker(): NodeJS.ProcessEnv {
  return { [MARKER]: String(process.pid) };
}

const defaultPortSpawns: string[] = [];

/** Called once per worker by worker-setup.ts: records every daemon started on a default port. */
export function watchDaemonPorts(): void {
  observeDaemonSpawns((d) => {
    const bad = defaultsIn(d.args);
    if (bad.length) defaultPortSpawns.push(`${d.binary} ${d.args.join(' ')} (default ${bad.join(', ')})`);
  });
}

/** The defaults a daemon's arguments name: default TCP ports, and tgtd's default control socket (pure). */
export function defaultsIn(args: readonly string[]): string[] {
  const found = portsIn(args)
    .filter((p) => DEFAULT_PORTS.has(p))
    .map((p) => `port ${p}`);
  const c = args.indexOf('-C');
  if (c >= 0 && args[c + 1] === String(DEFAULT_TGTD_CONTROL)) found.push(`tgtd control socket ${DEFAULT_TGTD_CONTROL}`);
  return found;
}

/**
 * TCP ports named in a daemon's arguments: `--port N`, `-p N`, `portal=H:N`, `"port":"N"` (pure).
 * Not tgtd's `-C N`: that names a unix socket (/var/run/tgtd/socket.N), derived from the iSCSI
 * port, so a free iSCSI port may well give a number in the NBD range.
 */
export function portsIn(args: readonly string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if ((a === '--port' || a === '-p') && /^\d+$/.test(args[i + 1] ?? '')) out.push(Number(args[i + 1]));
    for (const m of a.matchAll(/portal=(?:\[[^\]]*\]|[^:,]*):(\d+)/g)) out.push(Number(m[1]));
    for (const m of a.matchAll(/"port":\s*"?(\d+)"?/g)) out.push(Number(m[1]));
  }
  return out;
}

interface Proc {
  pid: number;
  ppid: number;
  command: string;
}

async function processes(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await fs.readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // "pid (comm) S ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (!stat || rest[0] === 'Z' || rest[0] === 'X') continue;
    const command = (await fs.readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ').trim();
    out.push({ pid: Number(name), ppid: Number(rest[1]), command });
  }
  return out;
}

async function marked(pid: number, me: string): Promise<boolean> {
  const env = await fs.readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
  return env.split('\0').includes(`${MARKER}=${me}`);
}

/** This worker's live descendants, and the marked processes that were re-parented away from it. */
export async function leftoverProcesses(): Promise<Proc[]> {
  const all = await processes();
  const children = new Map<number, Proc[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const found = new Map<number, Proc>();
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      if (found.has(c.pid)) continue;
      found.set(c.pid, c);
      walk(c.pid);
    }
  };
  walk(process.pid);
  const me = String(process.pid);
  for (const p of all) {
    if (p.pid !== process.pid && !found.has(p.pid) && (await marked(p.pid, me))) {
      found.set(p.pid, p);
      walk(p.pid);
    }
  }
  return [...found.values()];
}

/**
 * The `test.after.always` hook every test file that starts processes ends with: waits up to
 * WAIT_MS for this worker's processes to end, then SIGKILLs what is left and fails naming it.
 * Fails too when a daemon was started on a default port.
 */
export async function noProcessesLeft(t: ExecutionContext): Promise<void> {
  t.timeout(WAIT_MS + 15_000);
  const deadline = Date.now() + WAIT_MS;
  let left = await leftoverProcesses();
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(200);
    left = await leftoverProcesses();
  }
  // Kill until nothing comes back: a supervisor (an agent's target) may restart what was killed.
  const killed = new Map<number, Proc>();
  for (let pass = 0; pass < 10 && left.length > 0; pass++) {
    for (const p of left) {
      killed.set(p.pid, p);
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    await sleep(300);
    left = await leftoverProcesses();
  }
  left = [...killed.values()];
  const problems = [
    ...left.map((p) => `left running (killed now): pid ${p.pid} (parent ${p.ppid}): ${p.command}`),
    ...defaultPortSpawns.map((s) => `started on a default port (take a free one): ${s}`),
  ];
  if (problems.length) t.fail(`${t.title}:\n${problems.join('\n')}`);
  else t.pass();
}

/** A process group for a test that starts daemons itself (serveNbd, createTargets…); closed at the test's teardown. */
export function testProcesses(t: Pick<ExecutionContext, 'teardown'>, name = 'test'): ProcessGroup {
  const group = new ProcessGroup(name);
  t.teardown(() => group.close());
  return group;
}
