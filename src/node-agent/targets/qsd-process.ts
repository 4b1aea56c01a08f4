/**
 * Starting and stopping one qemu-storage-daemon process: what the FUSE exports behind qcow2
 * iSCSI LUNs (`fuse-export.ts`) and the qcow2 NBD exports (`qsd-nbd.ts`) share.
 *
 * The daemon writes its pid file once every command-line option has been processed (the
 * blockdevs opened, the NBD server bound, the FUSE mount made): the caller's `ready` check
 * starts from that. A daemon that cannot start (an image it cannot open or lock, a port some
 * other process holds) exits with its reason on stderr, which the error carries.
 */
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessGroup } from '../../lifecycle/index.js';
import { DriverError } from '../drivers/index.js';

export const DEFAULT_QSD = 'qemu-storage-daemon';

export interface QsdStart {
  args: string[];
  /** The `--pidfile` in `args`: removed before the start and after the stop. */
  pidFile: string;
  /** The QMP socket in `args`: a socket left by a dead daemon would make the new one fail to bind. */
  qmpSocket: string;
  /** What the daemon serves, for messages ("export /p/v.qcow2"). */
  what: string;
  /** Extra readiness check once the pid file names the daemon (e.g. the FUSE mount is there). @default ready at once */
  ready?: () => Promise<boolean>;
  /** @default DEFAULT_QSD */
  binary?: string;
  /** @default 15000 */
  readyTimeoutMs?: number;
  /** Runs when the start fails (the daemon is gone by then), e.g. to remove a mountpoint. */
  cleanUp?: () => Promise<void>;
  /** Owns the daemon: closing the group stops it, even while it is starting. */
  processes: ProcessGroup;
}

export interface QsdProcess {
  readonly pid: number;
  readonly qmpSocket: string;
  readonly alive: boolean;
  /** Resolves when the process has exited for any reason, with its exit code or signal. */
  readonly exited: Promise<string>;
  /** SIGTERM (SIGKILL after 10 s), then removes the pid file and the QMP socket. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts the daemon and resolves once it is ready. @throws DriverError with the daemon's stderr when it exits early or is not ready in time. */
export async function startQsd(opts: QsdStart): Promise<QsdProcess> {
  const binary = opts.binary ?? DEFAULT_QSD;
  await fs.rm(opts.pidFile, { force: true });
  await fs.rm(opts.qmpSocket, { force: true });
  const child = opts.processes.spawn({ binary, args: opts.args, killAfterMs: 10_000, stderrLimit: 8192 });
  const timeoutMs = opts.readyTimeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!child.alive) {
      const how = await child.exited;
      await opts.cleanUp?.().catch(() => undefined);
      await fs.rm(opts.qmpSocket, { force: true });
      if (how.includes('ENOENT')) throw new DriverError(`${binary} is not installed or not on PATH; install the qemu-system-common package`, { retryable: false });
      throw new DriverError(`qemu-storage-daemon could not ${opts.what} (${how}): ${child.stderr().trim() || 'no message'}`);
    }
    const pid = Number((await fs.readFile(opts.pidFile, 'utf8').catch(() => '')).trim());
    if (pid === child.pid && (opts.ready ? await opts.ready() : true)) break;
    if (Date.now() > deadline) {
      await child.stop();
      await opts.cleanUp?.().catch(() => undefined);
      await fs.rm(opts.pidFile, { force: true });
      await fs.rm(opts.qmpSocket, { force: true });
      throw new DriverError(`qemu-storage-daemon did not ${opts.what} within ${timeoutMs} ms: ${child.stderr().trim() || 'no message'}`);
    }
    await sleep(20);
  }
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid,
    qmpSocket: opts.qmpSocket,
    exited: child.exited,
    get alive() {
      return child.alive;
    },
    stop: () =>
      (stopping ??= (async () => {
        await child.stop();
        await fs.rm(opts.pidFile, { force: true });
        await fs.rm(opts.qmpSocket, { force: true });
      })()),
  };
}

/** The `--chardev`/`--monitor` arguments of a QMP monitor on the unix socket `path` (commas doubled). */
export function qmpMonitorArgs(path: string): string[] {
  return ['--chardev', `socket,id=qmp0,path=${path.replaceAll(',', ',,')},server=on,wait=off`, '--monitor', 'chardev=qmp0'];
}
