/**
 * Small pieces the `file` driver's modules share (see file-driver.ts for the design):
 * file naming in the pool's directory, id and size checks, and the filesystem steps of a
 * crash-safe copy (sparse `cp`, fsync of a file or a directory, shared between the renames of a moment).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { FilePoolConfig } from '../../config/index.js';
import type { SecretBox } from '../../domain/secret-box.js';
import { DriverError, GiB, type VolumeInfo } from './driver.js';
import type { ImageFormat, QemuImgOptions } from './qemu-img.js';

export const FORMATS: readonly ImageFormat[] = ['raw', 'qcow2'];
export const IMAGE_RE = /^volume-([A-Za-z0-9_-]{1,128})\.(raw|qcow2)$/;
export const TEMP_RE = /^\.volume-.*\.tmp-[0-9a-f]+$/;
/** The sealed key of an encrypted volume, next to its image (file-keys.ts). */
export const KEY_RE = /^volume-([A-Za-z0-9_-]{1,128})\.key$/;
const VOLUME_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
/** Directory (inside the pool's) holding the raw snapshot copies, one sub-directory per volume. */
export const SNAPSHOTS_DIR = '.snapshots';
export const SNAPSHOT_DIR_RE = /^volume-([A-Za-z0-9_-]{1,128})$/;
export const RAW_SNAPSHOT_RE = /^snapshot-([A-Za-z0-9_-]{1,128})\.raw$/;
export const SNAPSHOT_TEMP_RE = /^\.snapshot-.*\.tmp-[0-9a-f]+$/;
export const INTERNAL_SNAPSHOT_RE = /^snapshot-([A-Za-z0-9_-]{1,128})$/;
/** `cp` of a raw snapshot copy taking longer than this is killed. @default 3_600_000 */
const COPY_TIMEOUT_MS = 3_600_000;

export interface Indexed {
  format: ImageFormat;
  virtualSize: number;
}

/** What the driver's modules share of one `FileDriver`: its pool, qemu-img options and indexes. */
export interface FilePool {
  readonly pool: FilePoolConfig;
  readonly qemu: QemuImgOptions;
  /** Virtual sizes by volume id: stats() reads this instead of running qemu-img per heartbeat. */
  readonly index: Map<string, Indexed>;
  /** Virtual sizes of the raw snapshot copies, by `<volumeId>/<snapshotId>`. */
  readonly snapshotIndex: Map<string, number>;
  /** Looks on disk (not in the index), in either format, and refreshes the index with what it finds. */
  getVolume(volumeId: string): Promise<VolumeInfo | null>;
  /** Opens the sealed keys of encrypted volumes (file-keys.ts); undefined: the pool cannot hold encrypted volumes. */
  readonly secrets: SecretBox | undefined;
}

/** Path of a volume's image in a format. */
export function pathOf(pool: FilePoolConfig, volumeId: string, format: ImageFormat): string {
  return join(pool.directory, `volume-${volumeId}.${format}`);
}

/** A hidden temporary name for a volume's image, removed by `setup()` after a crash. */
export function tempPathOf(pool: FilePoolConfig, volumeId: string, format: ImageFormat): string {
  return join(pool.directory, `.volume-${volumeId}.${format}.tmp-${randomBytes(4).toString('hex')}`);
}

/** Directory of a volume's raw snapshot copies. */
export function snapshotDirOf(pool: FilePoolConfig, volumeId: string): string {
  return join(pool.directory, SNAPSHOTS_DIR, `volume-${volumeId}`);
}

/** Path of a raw snapshot copy. */
export function rawSnapshotPathOf(pool: FilePoolConfig, volumeId: string, snapshotId: string): string {
  return join(snapshotDirOf(pool, volumeId), rawSnapshotName(snapshotId));
}

export function internalSnapshotName(snapshotId: string): string {
  return `snapshot-${snapshotId}`;
}

export function rawSnapshotName(snapshotId: string): string {
  return `snapshot-${snapshotId}.raw`;
}

export function preallocation(pool: FilePoolConfig, format: ImageFormat): 'falloc' | 'off' {
  return format === 'raw' && !pool.thinProvisioning ? 'falloc' : 'off';
}

export function checkId(id: string, what: 'volume' | 'snapshot' = 'volume'): void {
  if (!VOLUME_ID_RE.test(id)) {
    throw new DriverError(`${what} id ${JSON.stringify(id)} is not usable in a file name (letters, digits, "-", "_")`, {
      retryable: false,
    });
  }
}

/** The size of a new volume in bytes; refuses anything but a positive whole number of GiB. */
export function checkNewSize(sizeGiB: number): number {
  if (!Number.isInteger(sizeGiB) || sizeGiB <= 0) {
    throw new DriverError(`size must be a positive whole number of GiB, got ${sizeGiB}`, { retryable: false });
  }
  return sizeGiB * GiB;
}

/** The volume when it exists with `sizeGiB` (an idempotent repeat); a refusal when it exists with another size; else null. */
export async function existingOfSize(ctx: { readonly pool: { readonly name: string }; getVolume(volumeId: string): Promise<VolumeInfo | null> }, volumeId: string, sizeGiB: number): Promise<VolumeInfo | null> {
  const existing = await ctx.getVolume(volumeId);
  if (!existing) return null;
  if (existing.sizeBytes === sizeGiB * GiB) return existing;
  throw new DriverError(
    `volume ${volumeId} already exists in pool ${ctx.pool.name} with ${fmtGiB(existing.sizeBytes)} GiB, not ${sizeGiB} GiB; ` +
      'delete it before creating it again',
    { retryable: false },
  );
}

export async function exists(path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch (err) {
    // ENOTDIR and the like mean "not there" too; the qemu-img call reports real failures.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    return true;
  }
}

/** Entries of a directory; none when it does not exist. */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** `cp --sparse=always --reflink=auto src dest`: holes stay holes, a reflink where the filesystem has them. */
export function copySparse(src: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('cp', ['--sparse=always', '--reflink=auto', '--', src, dest], { timeout: COPY_TIMEOUT_MS, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err) reject(new DriverError(`copying ${src} failed: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve();
    });
  });
}

/** Fsyncs a file (opened `r+`) or, with `r`, a directory. */
async function syncPath(path: string, flags: 'r' | 'r+'): Promise<void> {
  const handle = await fs.open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function syncFile(path: string): Promise<void> {
  return syncPath(path, 'r+');
}

export function syncDir(dir: string): Promise<void> {
  return syncPath(dir, 'r');
}

/** A directory's fsync in flight, and the one queued to start after it. */
interface DirSync {
  running: Promise<void>;
  queued?: Promise<void>;
}
const dirSyncs = new Map<string, DirSync>();

function startDirSync(dir: string): Promise<void> {
  const state = {} as DirSync;
  state.running = syncDir(dir).finally(() => {
    if (dirSyncs.get(dir) === state && !state.queued) dirSyncs.delete(dir);
  });
  dirSyncs.set(dir, state);
  return state.running;
}

/**
 * Fsyncs `dir`, sharing the fsync with the other callers of the moment (a group commit):
 * a caller that comes while one runs joins the next, which starts when that one ends (the
 * running one may have started before the caller's rename), and every caller that comes
 * meanwhile joins that same next one. Several creates landing together cost two fsyncs, not one each.
 */
export function syncDirShared(dir: string): Promise<void> {
  const s = dirSyncs.get(dir);
  if (!s) return startDirSync(dir);
  s.queued ??= s.running.catch(() => undefined).then(() => startDirSync(dir));
  return s.queued;
}

/**
 * Moves `temp` (made by `make`) over `final` and fsyncs `dir`; on any failure removes
 * `temp` and rethrows, so a crash or an error never leaves a half-made file as `final`.
 */
export async function renameIntoPlace<T>(temp: string, final: string, dir: string, make: () => Promise<T>): Promise<T> {
  try {
    const made = await make();
    await fs.rename(temp, final);
    await syncDirShared(dir);
    return made;
  } catch (err) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
}

export function asDriverError(err: unknown, what: string): DriverError {
  if (err instanceof DriverError) return new DriverError(`${what}: ${err.message}`, { cause: err, retryable: err.retryable });
  return new DriverError(`${what}: ${(err as Error).message}`, { cause: err });
}

export function floor2(n: number): number {
  return Math.floor(n * 100) / 100;
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

export function fmtGiB(bytes: number): string {
  return String(round2(bytes / GiB));
}
