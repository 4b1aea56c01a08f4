/**
 * One tgtd the iSCSI target owns: `tgtd -f -C N --iscsi portal=ADDR:PORT`. N (the control
 * port, socket `/var/run/tgtd/socket.N`) is picked free so several agents and tests can run
 * their own tgtd side by side.
 *
 * Facts this relies on (checked on Debian 12, tgt 1.0.85): a tgtd whose control port is
 * taken exits at once ("another tgtd is using …lock"); a tgtd whose portal cannot be bound
 * does NOT exit but silently listens on 0.0.0.0:3260 instead, so readiness checks the portal
 * list; tgtd ignores SIGTERM, SIGINT stops it.
 *
 * A control port answers for whichever tgtd holds it, so an answer alone does not prove the
 * tgtd is ours: a tgtd we just spawned on a taken port answers with the OTHER tgtd's state
 * until it exits. Ours is the one holding the POSIX lock on `socket.N.lock` (tgtd takes it
 * before it listens), which `/proc/locks` names by pid. Nothing is sent to a control port
 * before that check, so this agent never drives (or deletes) another process's tgtd.
 */
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Daemon, ProcessGroup } from '../../lifecycle/index.js';
import { DriverError } from '../drivers/index.js';
import { commandOf, portIsFree } from './proc-util.js';
import { parsePortals, tgtadm, type Tgtadm } from './tgtadm.js';

export const DEFAULT_TGTD = 'tgtd';
/** Where tgtd keeps its control sockets and their lock files. */
export const TGTD_RUN_DIR = '/var/run/tgtd';

export interface TgtdOptions {
  address: string;
  port: number;
  /** Owns the tgtd process: closing the group stops it, even while it is starting. */
  processes: ProcessGroup;
  /** First control port tried. @default 1000 + portal port % 30000 (tgtds with different portals start apart) */
  firstControlPort?: number;
  binary?: string;
  readyTimeoutMs?: number;
  /** The pid is written here, so a later agent can stop a tgtd left behind by a killed one. */
  pidFile?: string;
}

export interface Tgtd {
  readonly pid: number;
  readonly controlPort: number;
  readonly adm: Tgtadm;
  /** Resolves when tgtd exits for any reason. */
  readonly exited: Promise<string>;
  readonly alive: boolean;
  /** Deletes what is left (`--op delete --mode system` needs no targets) then SIGINT, SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/** The portal as tgt prints it. */
export function portalText(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Starts a tgtd on a free control port; resolves once it is ours that answers and listens on exactly the portal. */
export async function startTgtd(opts: TgtdOptions): Promise<Tgtd> {
  const binary = opts.binary ?? DEFAULT_TGTD;
  if (!(await portIsFree(opts.address, opts.port))) {
    throw new DriverError(`iSCSI portal ${portalText(opts.address, opts.port)} is taken by another process; free it or configure another iSCSI port`);
  }
  let controlPort = opts.firstControlPort ?? 1000 + (opts.port % 30_000);
  for (let attempt = 0; attempt < 50; attempt++, controlPort++) {
    const started = await tryStart(binary, controlPort, opts);
    if (started === 'control-port-taken') continue;
    if (opts.pidFile) await fs.writeFile(opts.pidFile, `${started.pid}\n`);
    return started;
  }
  throw new DriverError(`no free tgtd control port from ${controlPort - 50} to ${controlPort - 1}`);
}

async function tryStart(binary: string, controlPort: number, opts: TgtdOptions): Promise<Tgtd | 'control-port-taken'> {
  const portal = portalText(opts.address, opts.port);
  const lockFile = `${TGTD_RUN_DIR}/socket.${controlPort}.lock`;
  // A lock some other live process holds: that tgtd's port, not ours to try.
  const holder = await lockHolder(lockFile);
  if (holder !== undefined && (await commandOf(holder)) !== '') return 'control-port-taken';
  const child = opts.processes.spawn({ binary, args: ['-f', '-C', String(controlPort), '--iscsi', `portal=${portal}`], stopSignal: 'SIGINT' });
  const adm = tgtadm(controlPort);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
  for (;;) {
    if (!child.alive) {
      const how = await child.exited;
      if (how.startsWith('error') && how.includes('ENOENT')) throw new DriverError(`${binary} is not installed or not on PATH; install the tgt package`, { retryable: false });
      if (/another tgtd is using/.test(child.stderr())) return 'control-port-taken';
      throw new DriverError(`tgtd exited at start (${how}): ${lastLines(child.stderr())}`);
    }
    const owner = await lockHolder(lockFile);
    if (owner !== undefined && owner !== child.pid) {
      // Another tgtd holds this control port: ours exits on its own ("another tgtd is using").
      await child.stop();
      return 'control-port-taken';
    }
    const portals = owner === child.pid ? await adm(['--op', 'show', '--mode', 'portal']).then(parsePortals, () => undefined) : undefined;
    if (portals !== undefined && child.alive) {
      if (portals.length === 1 && portals[0] === portal) break;
      await child.stop();
      throw new DriverError(`tgtd could not listen on ${portal} (it offered ${portals.join(', ') || 'no portal'}): ${lastLines(child.stderr())}`);
    }
    if (Date.now() > deadline) {
      await child.stop();
      throw new DriverError(`tgtd did not answer on control port ${controlPort} within ${opts.readyTimeoutMs ?? 10_000} ms: ${lastLines(child.stderr())}`);
    }
    await sleep(30);
  }
  return handle(child, controlPort, adm, opts.pidFile);
}

function handle(child: Daemon, controlPort: number, adm: Tgtadm, pidFile: string | undefined): Tgtd {
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid,
    controlPort,
    adm,
    exited: child.exited,
    get alive() {
      return child.alive;
    },
    stop: () =>
      (stopping ??= (async () => {
        if (child.alive) await adm(['--op', 'delete', '--mode', 'system']).catch(() => undefined);
        await child.stop();
        if (pidFile) await fs.rm(pidFile, { force: true });
        // Only while no live tgtd holds the port: another may have taken it since ours exited,
        // and removing its socket would cut it off from its agent (which then cannot stop it).
        const holder = await lockHolder(`${TGTD_RUN_DIR}/socket.${controlPort}.lock`);
        if (holder === undefined || (await commandOf(holder)) === '') {
          await fs.rm(`${TGTD_RUN_DIR}/socket.${controlPort}`, { force: true }).catch(() => undefined);
          await fs.rm(`${TGTD_RUN_DIR}/socket.${controlPort}.lock`, { force: true }).catch(() => undefined);
        }
      })()),
  };
}

/** The pid holding a POSIX lock on `path` (from /proc/locks), or undefined when none does or the file is missing. */
export async function lockHolder(path: string): Promise<number | undefined> {
  const st = await fs.stat(path).catch(() => undefined);
  if (!st) return undefined;
  const locks = await fs.readFile('/proc/locks', 'utf8').catch(() => '');
  return holderIn(locks, st.dev, st.ino);
}

/**
 * The pid of the lock on the file (`dev`, `ino`) in a /proc/locks text (pure). Lines read
 * `1: POSIX  ADVISORY  WRITE 9418 fe:00:16638943 0 EOF`: the device is major:minor in hex.
 */
export function holderIn(locks: string, dev: number, ino: number): number | undefined {
  const major = (dev >> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  for (const line of locks.split('\n')) {
    const f = line.trim().split(/\s+/);
    // A blocked waiter's line starts with "->"; only holders count.
    if (f.length < 6 || f[1] === '->') continue;
    const [maj, min, inode] = (f[5] ?? '').split(':');
    if (Number(inode) === ino && parseInt(maj ?? '', 16) === major && parseInt(min ?? '', 16) === minor) return Number(f[4]);
  }
  return undefined;
}

/** Stops a tgtd a previous (killed) agent left running on `portal`, found through its pid file. */
export async function stopStaleTgtd(pidFile: string, portal: string): Promise<void> {
  const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
  // The portal in the command line, not just "tgtd": the pid may have been reused by another agent's tgtd.
  const ours = async () => {
    const cmd = await commandOf(pid);
    return cmd.includes('tgtd') && cmd.includes(`portal=${portal}`);
  };
  if (Number.isInteger(pid) && pid > 1 && (await ours())) {
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 100 && (await ours()); i++) await sleep(50);
    if (await ours()) process.kill(pid, 'SIGKILL');
  }
  await fs.rm(pidFile, { force: true });
}

function lastLines(text: string): string {
  const lines = text
    .split('\n')
    .filter((l) => l.trim() && !/RDMA|oom-killer|nr_open|timer_fd|signalfd/.test(l))
    .slice(-3);
  return lines.join(' | ') || 'no message';
}
