/**
 * A qcow2 or encrypted image shown as a raw file of plaintext: qemu-storage-daemon's FUSE
 * export mounted over a regular file under the target's state dir. tgt can read neither
 * qcow2 nor LUKS, so this file is the backing store of such a volume's LUN. An encrypted
 * image's key reaches the daemon in a `secret` object (image-opts.ts).
 *
 * The daemon is ready once it has written its pid file (after the mount). A daemon that
 * dies leaves a stale mount ("Transport endpoint is not connected"): `clearStaleMount`
 * unmounts it.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessGroup } from '../../lifecycle/index.js';
import { DriverError, formatBlockdev, protocolNode, secretObjectArgs, withSecretFiles, type ImageSource } from '../drivers/index.js';
import { DEFAULT_QSD, qmpMonitorArgs, startQsd } from './qsd-process.js';

export { DEFAULT_QSD } from './qsd-process.js';

export interface FuseExport {
  /** The raw view of the image: give it to tgt as the backing store. */
  readonly mountpoint: string;
  readonly pid: number;
  /** The daemon's QMP monitor (unix socket), e.g. for internal snapshots while it holds the image. */
  readonly qmpSocket: string;
  readonly alive: boolean;
  readonly exited: Promise<string>;
  /** Stops the daemon (which unmounts and flushes the image) and removes the mountpoint file. */
  stop(): Promise<void>;
}

/** Node name of the image's format layer in the daemon (QMP commands name it). */
export const FUSE_NODE = 'disk0';

/** The qemu-storage-daemon arguments (pure; exported for unit tests); `secretFile` holds the key of an encrypted image. */
export function qsdArgs(image: ImageSource, mountpoint: string, writable: boolean, pidFile: string, secretFile?: string): string[] {
  // JSON blockdev syntax: a path with a comma would break the key=value syntax.
  const file = JSON.stringify(protocolNode(image, { 'node-name': 'file0', 'read-only': !writable }));
  const fmt = JSON.stringify(formatBlockdev(image.format, secretFile !== undefined, { 'node-name': FUSE_NODE, file: 'file0', 'read-only': !writable }));
  return [
    ...(secretFile ? secretObjectArgs(secretFile) : []),
    '--blockdev',
    file,
    '--blockdev',
    fmt,
    '--export',
    `type=fuse,id=export0,node-name=${FUSE_NODE},mountpoint=${mountpoint},writable=${writable ? 'on' : 'off'}`,
    '--pidfile',
    pidFile,
    ...qmpMonitorArgs(qmpSocketOf(mountpoint)),
  ];
}

/** Where the daemon serving `mountpoint` listens for QMP. */
export function qmpSocketOf(mountpoint: string): string {
  return `${mountpoint}.qmp`;
}

/** @param processes owns the daemon (its owner's stop closes it, even while the export starts). */
export async function startFuseExport(image: ImageSource, mountpoint: string, writable: boolean, processes: ProcessGroup, binary = DEFAULT_QSD): Promise<FuseExport> {
  if (image.snapshotName !== undefined) {
    throw new DriverError(`an iSCSI export of the internal snapshot ${image.snapshotName} is not supported; export the volume or use NBD`, { retryable: false });
  }
  if (mountpoint.includes(',')) throw new DriverError(`FUSE mountpoint ${mountpoint} must not contain a comma`, { retryable: false });
  await clearStaleMount(mountpoint);
  await fs.writeFile(mountpoint, '');
  const pidFile = `${mountpoint}.pid`;
  // The daemon reads the key file while it starts: the file is gone once it is ready.
  const daemon = await withSecretFiles([image.key], ([secretFile]) => startQsd({
    args: qsdArgs(image, mountpoint, writable, pidFile, secretFile),
    pidFile,
    qmpSocket: qmpSocketOf(mountpoint),
    what: `export ${image.path} on ${mountpoint}`,
    ready: () => isMounted(mountpoint),
    binary,
    processes,
    cleanUp: async () => {
      await clearStaleMount(mountpoint);
      await fs.rm(mountpoint, { force: true });
    },
  }));
  let stopping: Promise<void> | undefined;
  return {
    mountpoint,
    pid: daemon.pid,
    qmpSocket: daemon.qmpSocket,
    exited: daemon.exited,
    get alive() {
      return daemon.alive;
    },
    stop: () =>
      (stopping ??= (async () => {
        await daemon.stop();
        await clearStaleMount(mountpoint);
        await fs.rm(mountpoint, { force: true });
      })()),
  };
}

/** FUSE mounts at or under `path`, from /proc/self/mountinfo. */
export async function fuseMountsUnder(path: string): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mounts', 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f.length > 2 && f[2]!.startsWith('fuse'))
    .map((f) => f[1]!.replace(/\\040/g, ' '))
    .filter((m) => m === path || m.startsWith(`${path}/`));
}

export async function isMounted(path: string): Promise<boolean> {
  return (await fuseMountsUnder(path)).includes(path);
}

/** Unmounts a FUSE mount left by a dead daemon (lazy, so a process holding it open does not block). */
export async function clearStaleMount(path: string): Promise<void> {
  if (!(await isMounted(path))) return;
  await new Promise<void>((resolve) => {
    execFile('umount', ['-l', path], () => resolve());
  });
  if (await isMounted(path)) {
    await new Promise<void>((resolve) => execFile('fusermount3', ['-u', '-z', path], () => resolve()));
  }
  if (await isMounted(path)) throw new DriverError(`could not unmount the stale FUSE mount ${path}; unmount it by hand`);
}

/** Stops a daemon a killed agent left behind, by its pid file next to the mountpoint. */
export async function stopStaleDaemon(mountpoint: string): Promise<void> {
  const pidFile = `${mountpoint}.pid`;
  const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 1) {
    const cmd = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
    if (cmd.includes('qemu-storage-daemon') && cmd.includes(mountpoint)) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 200 && (await fs.stat(`/proc/${pid}`).then(() => true, () => false)); i++) await sleep(50);
    }
  }
  await clearStaleMount(mountpoint);
  await fs.rm(pidFile, { force: true });
}
