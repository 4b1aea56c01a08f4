/**
 * Snapshots of the `file` driver (see file-driver.ts for the design): qcow2 internal
 * snapshots, or crash-safe sparse raw copies under `<pool>/.snapshots/volume-<id>/`.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { DriverError, type SnapshotInfo, type VolumeInfo } from './driver.js';
import { createInternalSnapshot, deleteInternalSnapshot, imageInfo, qcow2SnapshotSizes, type ImageFormat } from './qemu-img.js';
import { readKey } from './file-keys.js';
import { qemuFormat } from './image-opts.js';
import {
  asDriverError,
  checkId,
  copySparse,
  INTERNAL_SNAPSHOT_RE,
  internalSnapshotName,
  RAW_SNAPSHOT_RE,
  rawSnapshotName,
  rawSnapshotPathOf,
  readdirOrEmpty,
  renameIntoPlace,
  SNAPSHOT_DIR_RE,
  SNAPSHOT_TEMP_RE,
  snapshotDirOf,
  SNAPSHOTS_DIR,
  syncDir,
  syncFile,
  type FilePool,
} from './file-util.js';

/** Bytes to copy: an image (of a volume or a raw snapshot copy), or a qcow2 image's internal snapshot. */
export interface CopySource {
  path: string;
  format: ImageFormat;
  snapshotName?: string;
  /** Virtual size of the bytes copied. */
  sizeBytes: number;
  /** The key of an encrypted source (its volume's). */
  key?: string;
}

/** See `FileDriver.createSnapshot`. */
export async function createSnapshot(ctx: FilePool, volumeId: string, snapshotId: string): Promise<SnapshotInfo> {
  checkId(volumeId);
  checkId(snapshotId, 'snapshot');
  const volume = await ctx.getVolume(volumeId);
  if (!volume) {
    throw new DriverError(`volume ${volumeId} does not exist in pool ${ctx.pool.name}, so snapshot ${snapshotId} cannot be taken of it`, {
      retryable: false,
    });
  }
  const what = `pool ${ctx.pool.name}: could not take snapshot ${snapshotId} of volume ${volumeId}`;
  try {
    if (volume.format === 'qcow2') {
      const tag = internalSnapshotName(snapshotId);
      const info = await imageInfo(volume.location, 'qcow2', ctx.qemu);
      if (!info.snapshots.includes(tag)) await createInternalSnapshot(volume.location, tag, { ...ctx.qemu, ...(await keyOf(ctx, volume)) });
      const sizeBytes = (await qcow2SnapshotSizes(volume.location)).get(tag) ?? volume.sizeBytes;
      return { snapshotId, volumeId, sizeBytes };
    }
    return await copyRawSnapshot(ctx, volume, snapshotId);
  } catch (err) {
    throw asDriverError(err, what);
  }
}

/** See `FileDriver.deleteSnapshot`. */
export async function deleteSnapshot(ctx: FilePool, volumeId: string, snapshotId: string): Promise<void> {
  checkId(volumeId);
  checkId(snapshotId, 'snapshot');
  try {
    const dir = snapshotDirOf(ctx.pool, volumeId);
    // A raw copy is removed whatever the volume's state: an orphan still takes space.
    await fs.rm(join(dir, rawSnapshotName(snapshotId)), { force: true });
    for (const name of await readdirOrEmpty(dir)) {
      if (name.startsWith(`.${rawSnapshotName(snapshotId)}.`) && SNAPSHOT_TEMP_RE.test(name)) await fs.rm(join(dir, name), { force: true });
    }
    ctx.snapshotIndex.delete(`${volumeId}/${snapshotId}`);
    await fs.rmdir(dir).catch(() => undefined); // only when empty
    const volume = await ctx.getVolume(volumeId);
    if (volume?.format === 'qcow2') {
      const tag = internalSnapshotName(snapshotId);
      const info = await imageInfo(volume.location, 'qcow2', ctx.qemu);
      if (info.snapshots.includes(tag)) await deleteInternalSnapshot(volume.location, tag, { ...ctx.qemu, ...(await keyOf(ctx, volume)) });
    }
  } catch (err) {
    throw asDriverError(err, `pool ${ctx.pool.name}: could not delete snapshot ${snapshotId} of volume ${volumeId}`);
  }
}

/** See `FileDriver.listSnapshots`. */
export async function listSnapshots(ctx: FilePool, volumeId: string): Promise<string[]> {
  checkId(volumeId);
  const volume = await ctx.getVolume(volumeId);
  if (!volume) return [];
  const ids: string[] = [];
  if (volume.format === 'qcow2') {
    for (const tag of (await imageInfo(volume.location, 'qcow2', ctx.qemu)).snapshots) {
      const m = INTERNAL_SNAPSHOT_RE.exec(tag);
      if (m) ids.push(m[1]!);
    }
  } else {
    for (const name of await readdirOrEmpty(snapshotDirOf(ctx.pool, volumeId))) {
      const m = RAW_SNAPSHOT_RE.exec(name);
      if (m) ids.push(m[1]!);
    }
  }
  return ids.sort();
}

/** Where the bytes of a snapshot are: the volume's image and its internal snapshot (qcow2) or the raw copy. */
export async function snapshotSource(ctx: FilePool, volumeId: string, snapshotId: string, what: string): Promise<CopySource> {
  const volume = await ctx.getVolume(volumeId);
  if (!volume) throw new DriverError(`${what}: volume ${volumeId} does not exist in this pool`, { retryable: false });
  if (volume.format === 'qcow2') {
    const tag = internalSnapshotName(snapshotId);
    const info = await imageInfo(volume.location, 'qcow2', ctx.qemu);
    if (!info.snapshots.includes(tag)) throw new DriverError(`${what}: volume ${volumeId} has no snapshot ${snapshotId}`, { retryable: false });
    const sizeBytes = (await qcow2SnapshotSizes(volume.location)).get(tag) ?? volume.sizeBytes;
    return { path: volume.location, format: 'qcow2', snapshotName: tag, sizeBytes, ...(await keyOf(ctx, volume)) };
  }
  const path = rawSnapshotPathOf(ctx.pool, volumeId, snapshotId);
  const st = await fs.stat(path).catch(() => undefined);
  if (!st) throw new DriverError(`${what}: volume ${volumeId} has no snapshot ${snapshotId}`, { retryable: false });
  // The copy of an encrypted raw volume is its LUKS container, opened with the volume's key.
  const key = await keyOf(ctx, volume);
  return { path, format: 'raw', sizeBytes: key.key ? await rawSize(path, true, ctx) : st.size, ...key };
}

/** `{ key }` of an encrypted volume, `{}` of a plain one (to spread into qemu-img options). */
export async function keyOf(ctx: FilePool, volume: VolumeInfo): Promise<{ key?: string }> {
  if (!volume.encrypted) return {};
  const key = await readKey(ctx.pool, ctx.secrets, volume.volumeId);
  return key ? { key } : {};
}

/** Virtual size of a raw image, or of the payload of a LUKS container. */
async function rawSize(path: string, encrypted: boolean, ctx: FilePool): Promise<number> {
  return (await imageInfo(path, qemuFormat('raw', encrypted), ctx.qemu)).virtualSize;
}

/** Copy to a temporary name, fsync, rename, fsync the directory; an existing copy is kept. */
async function copyRawSnapshot(ctx: FilePool, volume: VolumeInfo, snapshotId: string): Promise<SnapshotInfo> {
  const { volumeId } = volume;
  const dir = snapshotDirOf(ctx.pool, volumeId);
  const final = join(dir, rawSnapshotName(snapshotId));
  const existing = await fs.stat(final).catch(() => undefined);
  if (!existing) {
    const parent = join(ctx.pool.directory, SNAPSHOTS_DIR);
    const made = await fs.mkdir(dir, { recursive: true });
    if (made !== undefined) {
      await syncDir(parent);
      await syncDir(ctx.pool.directory);
    }
    const temp = join(dir, `.${rawSnapshotName(snapshotId)}.tmp-${randomBytes(4).toString('hex')}`);
    await renameIntoPlace(temp, final, dir, async () => {
      await copySparse(volume.location, temp);
      await syncFile(temp);
    });
  }
  const sizeBytes = volume.encrypted ? await rawSize(final, true, ctx) : (existing?.size ?? (await fs.stat(final)).size);
  ctx.snapshotIndex.set(`${volumeId}/${snapshotId}`, sizeBytes);
  return { snapshotId, volumeId, sizeBytes };
}

/** Indexes the raw snapshot copies on disk and removes the temporaries a crash left. */
export async function indexRawSnapshots(ctx: FilePool): Promise<void> {
  ctx.snapshotIndex.clear();
  const root = join(ctx.pool.directory, SNAPSHOTS_DIR);
  for (const volumeDir of await readdirOrEmpty(root)) {
    const v = SNAPSHOT_DIR_RE.exec(volumeDir);
    if (!v) continue;
    const dir = join(root, volumeDir);
    for (const name of await readdirOrEmpty(dir)) {
      if (SNAPSHOT_TEMP_RE.test(name)) {
        await fs.rm(join(dir, name), { force: true });
        continue;
      }
      const m = RAW_SNAPSHOT_RE.exec(name);
      const st = m ? await fs.stat(join(dir, name)).catch(() => undefined) : undefined;
      if (m && st) ctx.snapshotIndex.set(`${v[1]!}/${m[1]!}`, st.size);
    }
  }
}

/** Drops a volume's raw snapshot copies from the index. */
export function forgetSnapshots(ctx: FilePool, volumeId: string): void {
  for (const key of [...ctx.snapshotIndex.keys()]) {
    if (key.startsWith(`${volumeId}/`)) ctx.snapshotIndex.delete(key);
  }
}
