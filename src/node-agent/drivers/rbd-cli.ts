/**
 * The `rbd` driver's access to Ceph: the `rbd` and `ceph` tools (package ceph-common) with
 * `-c CONF --id USER [--keyring K]` and `--format json`, image naming, and the qemu file
 * name of an image. Failures become `RbdError`s carrying Ceph's errno (parsed from the
 * tool's `(2) No such file or directory`) and its own message, which is what an operator
 * needs to see.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { RbdCluster, RbdPoolConfig } from '../../config/index.js';
import { DriverError, type RbdLocation } from './driver.js';

/** A single `rbd` call taking longer than this is killed (a copy or flatten may take long). @default 3_600_000 */
export const DEFAULT_RBD_TIMEOUT_MS = 3_600_000;
/** How long a client waits for the monitors before giving up (`client_mount_timeout`), seconds. @default 15 */
export const RBD_MOUNT_TIMEOUT_S = 15;

/** Ceph's errnos the driver tells apart. */
export const ENOENT = 2;
export const EPERM = 1;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;

export const VOLUME_IMAGE_RE = /^volume-([A-Za-z0-9_-]{1,128})$/;
export const SNAPSHOT_RE = /^snapshot-([A-Za-z0-9_-]{1,128})$/;
/** A temporary image (a copy under construction), removed by `setup()` after a crash. */
export const TEMP_IMAGE_RE = /^\.volume-.*\.tmp-[0-9a-f]+$/;
/** Prefix of an image given back by `unmanage`. */
export const UNMANAGED_PREFIX = 'unmanaged-';

/** A failed `rbd`/`ceph` call; `errno` is Ceph's (e.g. `ENOENT`), undefined when it printed none. */
export class RbdError extends DriverError {
  readonly errno: number | undefined;
  constructor(message: string, errno: number | undefined, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options);
    this.name = 'RbdError';
    this.errno = errno;
  }
}

export function imageOf(volumeId: string): string {
  return `volume-${volumeId}`;
}

export function snapshotOf(snapshotId: string): string {
  return `snapshot-${snapshotId}`;
}

/** A hidden temporary name for a volume's image under construction. */
export function tempImageOf(volumeId: string): string {
  return `.volume-${volumeId}.tmp-${randomBytes(4).toString('hex')}`;
}

/** `POOL/IMAGE[@SNAP]` as the rbd tool names it. */
export function spec(pool: RbdPoolConfig, image: string, snapshot?: string): string {
  return `${pool.rbdPool}/${image}${snapshot === undefined ? '' : `@${snapshot}`}`;
}

/** qemu's `rbd:` file name escape: `:`, `@` and `\` are taken literally after a backslash. */
function qemuEscape(s: string): string {
  return s.replace(/[\\:@]/g, (c) => `\\${c}`);
}

/** The qemu file name of an RBD image or snapshot: `rbd:POOL/IMAGE[@SNAP]:conf=CONF:id=USER[:keyring=K]`. */
export function rbdFilename(loc: RbdLocation): string {
  const name = `${qemuEscape(loc.pool)}/${qemuEscape(loc.image)}${loc.snapshot === undefined ? '' : `@${qemuEscape(loc.snapshot)}`}`;
  return `rbd:${name}:conf=${qemuEscape(loc.conf)}:id=${qemuEscape(loc.user)}${loc.keyring === undefined ? '' : `:keyring=${qemuEscape(loc.keyring)}`}`;
}

/** The qemu file name of image `image` (or its snapshot) of the pool. */
export function qemuFilename(pool: RbdPoolConfig, image: string, snapshot?: string): string {
  return rbdFilename({ pool: pool.rbdPool, image, ...(snapshot === undefined ? {} : { snapshot }), ...pool.cluster });
}

/** The options every call gets: the cluster, the user, and a bounded wait for the monitors. */
export function clusterArgs(pool: CephClient): string[] {
  const { conf, user, keyring } = pool.cluster;
  return ['-c', conf, '--id', user, ...(keyring === undefined ? [] : ['--keyring', keyring]), '--client-mount-timeout', String(RBD_MOUNT_TIMEOUT_S)];
}

/** The lines of a tool's stderr that say something (Ceph prefixes its log lines with a timestamp). */
function meaningful(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !/^\d{4}-\d\d-\d\dT/.test(l) && !/% complete/.test(l));
  return (lines.length > 0 ? lines : stderr.split('\n').filter((l) => l.trim())).slice(-3).join('; ').slice(0, 600);
}

/** Runs `binary` (rbd or ceph) with the cluster's options and `args`; resolves its stdout. */
export function runCeph(pool: CephClient, binary: 'rbd' | 'ceph', args: readonly string[], timeoutMs = DEFAULT_RBD_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, [...clusterArgs(pool), ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new RbdError(`${binary} is not installed or not on PATH; install the ceph-common package`, undefined, { cause: err }));
      }
      const detail = meaningful(stderr) || err.message;
      const errno = [...detail.matchAll(/\((\d+)\) [A-Z]/g)].map((m) => Number(m[1])).pop();
      const killed = (err as { killed?: boolean }).killed ? ` (killed after ${timeoutMs} ms: is the cluster in ${pool.cluster.conf} up?)` : '';
      reject(new RbdError(`${binary} ${args.find((a) => !a.startsWith('-')) ?? ''} failed${killed}: ${detail}`, errno, { cause: err }));
    });
  });
}

export function rbd(pool: CephClient, args: readonly string[], timeoutMs?: number): Promise<string> {
  return runCeph(pool, 'rbd', args, timeoutMs);
}

/** Who the `rbd` and `ceph` tools run as: a pool's cluster, or an image's (`{ cluster: RbdLocation }`). */
export interface CephClient {
  readonly cluster: RbdCluster;
}

/** `rbd … --format json`, parsed; an empty answer (some commands print nothing for nothing) is `empty`. */
export async function rbdJson<T>(pool: RbdPoolConfig, args: readonly string[], empty: T, timeoutMs?: number): Promise<T> {
  const out = (await rbd(pool, [...args, '--format', 'json'], timeoutMs)).trim();
  if (out === '') return empty;
  try {
    return JSON.parse(out) as T;
  } catch (err) {
    throw new RbdError(`rbd ${args[0] ?? ''} printed something that is not JSON: ${out.slice(0, 200)}`, undefined, { cause: err });
  }
}

/** Whether `err` is Ceph's "no such image / snapshot / pool". */
export function isMissing(err: unknown): boolean {
  return err instanceof RbdError && err.errno === ENOENT;
}

/** Runs `fn`; Ceph's ENOENT becomes `fallback`. */
export async function orMissing<T>(fn: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isMissing(err)) return fallback;
    throw err;
  }
}

export interface RbdSnap {
  name: string;
  size: number;
  protected: string;
}

export interface RbdDuEntry {
  name: string;
  snapshot?: string;
  provisioned_size: number;
  used_size: number;
}

/** An image's snapshots (`rbd snap ls`). @throws RbdError ENOENT when the image is missing */
export async function snaps(pool: RbdPoolConfig, image: string): Promise<RbdSnap[]> {
  return rbdJson<RbdSnap[]>(pool, ['snap', 'ls', spec(pool, image)], []);
}

/** Images made from `image@snapshot` (`POOL/IMAGE` each). */
export async function children(pool: RbdPoolConfig, image: string, snapshot: string): Promise<string[]> {
  const list = await rbdJson<{ pool: string; image: string }[]>(pool, ['children', spec(pool, image, snapshot)], []);
  return list.map((c) => `${c.pool}/${c.image}`);
}

/** An image's parent (`POOL/IMAGE@SNAP`) when it is a clone. */
export async function parentOf(pool: RbdPoolConfig, image: string): Promise<string | undefined> {
  const info = await rbdJson<{ parent?: { pool: string; image: string; snapshot: string } }>(pool, ['info', spec(pool, image)], {});
  return info.parent ? `${info.parent.pool}/${info.parent.image}@${info.parent.snapshot}` : undefined;
}

/**
 * Removes an image with every snapshot it has (`known`: its snapshots when the caller just
 * listed them); a missing one is success. Refuses (EBUSY) while clones of its snapshots exist.
 */
export async function removeImage(pool: RbdPoolConfig, image: string, known?: readonly RbdSnap[]): Promise<void> {
  const list = known ?? (await orMissing(() => snaps(pool, image), null));
  if (list === null) return;
  for (const s of list) {
    if (s.protected === 'true') await orMissing(() => rbd(pool, ['snap', 'unprotect', spec(pool, image, s.name)]), '');
  }
  if (list.length > 0) await orMissing(() => rbd(pool, ['snap', 'purge', '--no-progress', spec(pool, image)]), '');
  await orMissing(() => rbd(pool, ['rm', '--no-progress', spec(pool, image)]), '');
}
