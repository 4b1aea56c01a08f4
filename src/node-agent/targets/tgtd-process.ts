/**
 * One tgtd the iSCSI target owns: `tgtd -f -C N --iscsi portal=ADDR:PORT`. N (the control
 * port, socket `/var/run/tgtd/socket.N`) is picked free so several agents and tests can run
 * their own tgtd side by side.
 *
 * Facts this relies on (checked on Debian 12, tgt 1.0.85): a tgtd whose control port is
 * taken exits at once ("another tgtd is using …lock"); a tgtd whose portal cannot be bound
 * does NOT exit but silently listens on 0.0.0.0:3260 instead, so readiness checks the portal
 * list; tgtd ignores SIGTERM, SIGINT stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError } from '../drivers/index.js';
import { commandOf, portIsFree } from './proc-util.js';
import { parsePortals, tgtadm, type Tgtadm } from './tgtadm.js';

export const DEFAULT_TGTD = 'tgtd';

export interface TgtdOptions {
  address: string;
  port: number;
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

/** Starts a tgtd on a free control port; resolves once it answers and listens on exactly the portal. */
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
  const child = spawn(binary, ['-f', '-C', String(controlPort), '--iscsi', `portal=${portal}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 16384) stderr += chunk;
  });
  const exited = new Promise<string>((resolve) => {
    // 'close', not 'exit': by then all of stderr has been read (the reason of an early exit is in it).
    child.once('close', (code, signal) => resolve(signal ?? `exit ${code}`));
    child.once('error', (err) => resolve(`error ${err.message}`));
  });
  let gone = false;
  void exited.then(() => (gone = true));
  const adm = tgtadm(controlPort);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
  for (;;) {
    if (gone) {
      const how = await exited;
      if (how.startsWith('error') && how.includes('ENOENT')) throw new DriverError(`${binary} is not installed or not on PATH; install the tgt package`, { retryable: false });
      if (/another tgtd is using/.test(stderr)) return 'control-port-taken';
      throw new DriverError(`tgtd exited at start (${how}): ${lastLines(stderr)}`);
    }
    const portals = await adm(['--op', 'show', '--mode', 'portal']).then(parsePortals, () => undefined);
    if (portals !== undefined && !gone) {
      if (portals.length === 1 && portals[0] === portal) break;
      await stop(child, exited);
      // Another tgtd answered on this control port, or ours could not bind the portal.
      if (!portals.includes(portal) && !/failed to create\/bind/.test(stderr)) return 'control-port-taken';
      throw new DriverError(`tgtd could not listen on ${portal} (it offered ${portals.join(', ') || 'no portal'}): ${lastLines(stderr)}`);
    }
    if (Date.now() > deadline) {
      await stop(child, exited);
      throw new DriverError(`tgtd did not answer on control port ${controlPort} within ${opts.readyTimeoutMs ?? 10_000} ms: ${lastLines(stderr)}`);
    }
    await sleep(30);
  }
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? -1,
    controlPort,
    adm,
    exited,
    get alive() {
      return !gone;
    },
    stop: () =>
      (stopping ??= (async () => {
        if (!gone) await adm(['--op', 'delete', '--mode', 'system']).catch(() => undefined);
        await stop(child, exited);
        if (opts.pidFile) await fs.rm(opts.pidFile, { force: true });
        await fs.rm(`/var/run/tgtd/socket.${controlPort}`, { force: true }).catch(() => undefined);
        await fs.rm(`/var/run/tgtd/socket.${controlPort}.lock`, { force: true }).catch(() => undefined);
      })()),
  };
}

async function stop(child: ChildProcess, exited: Promise<string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Stops a tgtd a previous (killed) agent left running, found through its pid file. */
export async function stopStaleTgtd(pidFile: string): Promise<void> {
  const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 1 && (await commandOf(pid)).includes('tgtd')) {
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 100 && (await commandOf(pid)).includes('tgtd'); i++) await sleep(50);
    if ((await commandOf(pid)).includes('tgtd')) process.kill(pid, 'SIGKILL');
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
