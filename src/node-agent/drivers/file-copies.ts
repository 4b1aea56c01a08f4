/**
 * New volumes from old and reverting, for the `file` driver (see file-driver.ts for the
 * design): each copy is made under a temporary name, fsynced and renamed into place.
 */
import { DriverError, type VolumeEncryption, type VolumeInfo } from './driver.js';
import { newImageKey, removeKey, storeKey } from './file-keys.js';
import { removeBackupBitmaps } from './qcow2-bitmaps.js';
import { applyInternalSnapshot, convertImage, resizeImage, type ImageFormat, type NewImageKey } from './qemu-img.js';
import { keyOf, snapshotSource, type CopySource } from './file-snapshots.js';
import {
  asDriverError,
  checkId,
  checkNewSize,
  copySparse,
  existingOfSize,
  fmtGiB,
  pathOf,
  preallocation,
  renameIntoPlace,
  syncFile,
  tempPathOf,
  type FilePool,
} from './file-util.js';

/** See `FileDriver.createVolumeFromSnapshot`. */
export async function createVolumeFromSnapshot(
  ctx: FilePool,
  volumeId: string,
  sizeGiB: number,
  sourceVolumeId: string,
  snapshotId: string,
  encryption?: VolumeEncryption,
): Promise<VolumeInfo> {
  checkId(volumeId);
  checkId(sourceVolumeId);
  checkId(snapshotId, 'snapshot');
  const bytes = checkNewSize(sizeGiB);
  const existing = await existingOfSize(ctx, volumeId, sizeGiB);
  if (existing) return existing;
  const what = `pool ${ctx.pool.name}: could not create volume ${volumeId} (${sizeGiB} GiB) from snapshot ${snapshotId} of volume ${sourceVolumeId}`;
  const source = await snapshotSource(ctx, sourceVolumeId, snapshotId, what);
  if (bytes < source.sizeBytes) {
    throw new DriverError(`${what}: the snapshot is ${fmtGiB(source.sizeBytes)} GiB, larger than ${sizeGiB} GiB`, { retryable: false });
  }
  return copyToNewVolume(ctx, volumeId, bytes, source, what, encryption);
}

/** See `FileDriver.cloneVolume`. */
export async function cloneVolume(ctx: FilePool, volumeId: string, sizeGiB: number, sourceVolumeId: string, encryption?: VolumeEncryption): Promise<VolumeInfo> {
  checkId(volumeId);
  checkId(sourceVolumeId);
  const bytes = checkNewSize(sizeGiB);
  const existing = await existingOfSize(ctx, volumeId, sizeGiB);
  if (existing) return existing;
  const what = `pool ${ctx.pool.name}: could not clone volume ${sourceVolumeId} to volume ${volumeId} (${sizeGiB} GiB)`;
  const source = await ctx.getVolume(sourceVolumeId);
  if (!source) throw new DriverError(`${what}: volume ${sourceVolumeId} does not exist in this pool`, { retryable: false });
  if (bytes < source.sizeBytes) {
    throw new DriverError(`${what}: the source is ${fmtGiB(source.sizeBytes)} GiB, larger than ${sizeGiB} GiB`, { retryable: false });
  }
  const key = await keyOf(ctx, source);
  return copyToNewVolume(ctx, volumeId, bytes, { path: source.location, format: source.format, sizeBytes: source.sizeBytes, ...key }, what, encryption);
}

/** See `FileDriver.revertToSnapshot`. */
export async function revertToSnapshot(ctx: FilePool, volumeId: string, snapshotId: string): Promise<VolumeInfo> {
  checkId(volumeId);
  checkId(snapshotId, 'snapshot');
  const what = `pool ${ctx.pool.name}: could not revert volume ${volumeId} to snapshot ${snapshotId}`;
  const volume = await ctx.getVolume(volumeId);
  if (!volume) throw new DriverError(`${what}: the volume does not exist in this pool`, { retryable: false });
  const source = await snapshotSource(ctx, volumeId, snapshotId, what);
  if (source.sizeBytes !== volume.sizeBytes) {
    throw new DriverError(
      `${what}: the volume is ${fmtGiB(volume.sizeBytes)} GiB and the snapshot ${fmtGiB(source.sizeBytes)} GiB; only a volume of the snapshot's size can be reverted`,
      { retryable: false },
    );
  }
  try {
    if (volume.format === 'qcow2') {
      // The revert changes the bytes without any bitmap seeing it, and qemu-img 7.2 refuses
      // to revert while enabled bitmaps exist ("Device has active dirty bitmaps"): the next
      // backup must read everything (removing first is crash-safe: at worst it compares).
      await removeBackupBitmaps(volume.location, { ...ctx.qemu, key: source.key });
      await applyInternalSnapshot(volume.location, source.snapshotName!, { ...ctx.qemu, ...(source.key ? { key: source.key } : {}) });
    } else {
      // An encrypted raw snapshot is a copy of the volume's LUKS container (same key): copied back as it is.
      const temp = tempPathOf(ctx.pool, volumeId, volume.format);
      const copy = source.key
        ? async () => {
            await copySparse(source.path, temp);
            await syncFile(temp);
          }
        : () => writeCopy(ctx, source, temp, volume.format, volume.sizeBytes);
      await renameIntoPlace(temp, volume.location, ctx.pool.directory, copy);
    }
  } catch (err) {
    throw asDriverError(err, what);
  }
  const info = await ctx.getVolume(volumeId);
  if (!info) throw new DriverError(`${what}: the volume vanished while it was being reverted`);
  return info;
}

/**
 * Makes the new volume from `source` under a temporary name, then renames it into place. With
 * `encryption` the copy is encrypted with the new volume's own key, its key file written first.
 */
async function copyToNewVolume(ctx: FilePool, volumeId: string, bytes: number, source: CopySource, what: string, encryption?: VolumeEncryption): Promise<VolumeInfo> {
  const format = ctx.pool.imageFormat;
  const final = pathOf(ctx.pool, volumeId, format);
  const temp = tempPathOf(ctx.pool, volumeId, format);
  if (source.key && !encryption) throw new DriverError(`${what}: the source is encrypted, and a copy of it must be encrypted too`, { retryable: false });
  try {
    const newKey = encryption ? newImageKey(ctx.secrets, volumeId, encryption) : undefined;
    if (encryption) await storeKey(ctx.pool, volumeId, encryption.sealedKey);
    else await removeKey(ctx.pool, volumeId);
    await renameIntoPlace(temp, final, ctx.pool.directory, () => writeCopy(ctx, source, temp, format, bytes, newKey)).catch(async (err: unknown) => {
      await removeKey(ctx.pool, volumeId);
      throw err;
    });
  } catch (err) {
    throw asDriverError(err, what);
  }
  ctx.index.set(volumeId, { format, virtualSize: bytes });
  const info = await ctx.getVolume(volumeId);
  if (!info) throw new DriverError(`${what}: the volume vanished right after it was created`);
  return info;
}

/**
 * Writes `source`'s bytes to a new image `dest` of `format` (decrypted with the source's key,
 * encrypted with `newKey`), grows it to `bytes` when larger, and fsyncs it.
 */
async function writeCopy(ctx: FilePool, source: CopySource, dest: string, format: ImageFormat, bytes: number, newKey?: NewImageKey): Promise<void> {
  const prealloc = preallocation(ctx.pool, format);
  if (source.format === 'raw' && format === 'raw' && prealloc === 'off' && source.snapshotName === undefined && !source.key && !newKey) {
    await copySparse(source.path, dest);
  } else {
    await convertImage(source.path, source.format, dest, format, {
      ...ctx.qemu,
      snapshotName: source.snapshotName,
      preallocation: prealloc,
      ...(source.key ? { key: source.key } : {}),
      ...(newKey ? { encryption: newKey } : {}),
    });
  }
  if (bytes > source.sizeBytes) await resizeImage(dest, format, bytes, { ...ctx.qemu, preallocation: prealloc, ...(newKey ? { key: newKey.key } : {}) });
  await syncFile(dest);
}
