/**
 * Snapshots, new volumes from old, reverts and imports for the `rbd` driver (see
 * rbd-driver.ts and docs/design/rbd-driver.md).
 *
 * - A snapshot is an RBD snapshot `snapshot-<id>` (copy-on-write, it costs no space until the
 *   volume changes). `rbd snap create` is atomic; an existing one is success.
 * - A volume from a snapshot is an RBD clone of it (the snapshot protected first), **flattened**
 *   before it takes its name: the new volume depends on nothing, so the snapshot and its volume
 *   can be deleted at any time, as the contract requires. The snapshot stays protected (another
 *   clone may be under way); `deleteSnapshot` unprotects it.
 * - A clone of a volume is `rbd cp` (a sparse full copy of the current bytes).
 * - Every copy is built under a temporary name (`.volume-<id>.tmp-<hex>`), grown when larger,
 *   and renamed into place; a failure removes the temporary, a crash leaves it to `setup()`.
 * - Revert is `rbd snap rollback`: repeatable, but not atomic (a crash in the middle leaves mixed
 *   bytes, which reverting again repairs).
 */
import type { RbdPoolConfig } from '../../config/index.js';
import { DriverError, type CopyProgress, type RemoteImage, type SnapshotInfo, type VolumeEncryption, type VolumeInfo } from './driver.js';
import { convertFromRemote, imagesEqual } from './file-import.js';
import { asDriverError, checkId, checkNewSize, existingOfSize, fmtGiB } from './file-util.js';
import { children, EBUSY, EEXIST, imageOf, isMissing, orMissing, qemuFilename, rbd, removeImage, snapshotOf, snaps, spec, SNAPSHOT_RE, tempImageOf, TEMP_IMAGE_RE, RbdError, type RbdSnap } from './rbd-cli.js';

/** What the driver's modules share of one `RbdDriver`. */
export interface RbdPool {
  readonly pool: RbdPoolConfig;
  getVolume(volumeId: string): Promise<VolumeInfo | null>;
  /** Forgets the cached stats (a volume was made, grown or removed). */
  changed(): void;
  /** Throws the not-retryable refusal when `encryption` is asked for (not offered on rbd yet). */
  refuseEncryption(encryption: VolumeEncryption | undefined, what: string): void;
}

/** The volume's snapshot `snapshotId`, or null (also when the volume is missing). */
async function findSnap(ctx: RbdPool, volumeId: string, snapshotId: string): Promise<RbdSnap | null> {
  const list = await orMissing(() => snaps(ctx.pool, imageOf(volumeId)), []);
  return list.find((s) => s.name === snapshotOf(snapshotId)) ?? null;
}

export async function createSnapshot(ctx: RbdPool, volumeId: string, snapshotId: string): Promise<SnapshotInfo> {
  checkId(volumeId);
  checkId(snapshotId, 'snapshot');
  const what = `pool ${ctx.pool.name}: could not take snapshot ${snapshotId} of volume ${volumeId}`;
  let snap: RbdSnap | null;
  try {
    // Tried first (the usual path); EEXIST is a repeat: the snapshot exists, which is what was asked.
    await rbd(ctx.pool, ['snap', 'create', '--no-progress', spec(ctx.pool, imageOf(volumeId), snapshotOf(snapshotId))]).catch((err: unknown) => {
      if (err instanceof RbdError && err.errno === EEXIST) return '';
      throw err;
    });
    snap = await findSnap(ctx, volumeId, snapshotId);
  } catch (err) {
    if (isMissing(err)) {
      throw new DriverError(`volume ${volumeId} does not exist in pool ${ctx.pool.name}, so snapshot ${snapshotId} cannot be taken of it`, { cause: err, retryable: false });
    }
    throw asDriverError(err, what);
  }
  if (!snap) throw new DriverError(`${what}: the snapshot vanished right after it was taken`);
  return { snapshotId, volumeId, sizeBytes: snap.size };
}

/**
 * Unprotects (when no clone depends on it; Flint's temporaries are removed first) and removes the
 * snapshot; a missing one or a missing volume is success. Refused (not retryable) while a clone
 * made outside Flint depends on it.
 */
export async function deleteSnapshot(ctx: RbdPool, volumeId: string, snapshotId: string): Promise<void> {
  checkId(volumeId);
  checkId(snapshotId, 'snapshot');
  const what = `pool ${ctx.pool.name}: could not delete snapshot ${snapshotId} of volume ${volumeId}`;
  const image = imageOf(volumeId);
  const name = snapshotOf(snapshotId);
  try {
    const snap = await findSnap(ctx, volumeId, snapshotId);
    if (!snap) return;
    if (snap.protected === 'true') {
      const left: string[] = [];
      for (const kid of await children(ctx.pool, image, name)) {
        const [p, n] = kid.split('/') as [string, string];
        // A copy a crash left half-made: nobody else uses it.
        if (p === ctx.pool.rbdPool && TEMP_IMAGE_RE.test(n)) await removeImage(ctx.pool, n);
        else left.push(kid);
      }
      if (left.length > 0) {
        throw new DriverError(`${what}: images cloned from it depend on it (${left.join(', ')}); flatten them (rbd flatten) or delete them first`, { retryable: false });
      }
      await orMissing(() => rbd(ctx.pool, ['snap', 'unprotect', spec(ctx.pool, image, name)]), '');
    }
    await orMissing(() => rbd(ctx.pool, ['snap', 'rm', '--no-progress', spec(ctx.pool, image, name)]), '');
  } catch (err) {
    throw asDriverError(err, what);
  }
}

export async function listSnapshots(ctx: RbdPool, volumeId: string): Promise<string[]> {
  checkId(volumeId);
  const list = await orMissing(() => snaps(ctx.pool, imageOf(volumeId)), []);
  return list.flatMap((s) => SNAPSHOT_RE.exec(s.name)?.[1] ?? []).sort();
}

/**
 * Builds an image under a temporary name with `make`, grows it to `bytes` (from `made`, its
 * size when known, else read), and renames it to `volume-<volumeId>`; on failure removes the
 * temporary and rethrows.
 */
async function buildIntoPlace(ctx: RbdPool, volumeId: string, bytes: number, made: number | undefined, make: (temp: string) => Promise<void>): Promise<void> {
  const temp = tempImageOf(volumeId);
  ctx.changed();
  try {
    await make(temp);
    if ((made ?? (await rbdInfoSize(ctx.pool, temp))) < bytes) await rbd(ctx.pool, ['resize', '--no-progress', '--size', `${bytes}B`, spec(ctx.pool, temp)]);
    await rbd(ctx.pool, ['rename', spec(ctx.pool, temp), spec(ctx.pool, imageOf(volumeId))]);
  } catch (err) {
    await removeImage(ctx.pool, temp).catch(() => undefined);
    throw err;
  }
}

async function rbdInfoSize(pool: RbdPoolConfig, image: string): Promise<number> {
  const out = JSON.parse(await rbd(pool, ['info', '--format', 'json', spec(pool, image)])) as { size: number };
  return out.size;
}

/** See `VolumeDriver.createVolumeFromSnapshot`: protect, clone, flatten, grow, rename. */
export async function createVolumeFromSnapshot(
  ctx: RbdPool,
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
  const what = `pool ${ctx.pool.name}: could not create volume ${volumeId} (${sizeGiB} GiB) from snapshot ${snapshotId} of volume ${sourceVolumeId}`;
  ctx.refuseEncryption(encryption, what);
  const existing = await existingOfSize(ctx, volumeId, sizeGiB);
  if (existing) return existing;
  const list = await orMissing(() => snaps(ctx.pool, imageOf(sourceVolumeId)), null);
  if (list === null) throw new DriverError(`${what}: volume ${sourceVolumeId} does not exist in this pool`, { retryable: false });
  const snap = list.find((s) => s.name === snapshotOf(snapshotId));
  if (!snap) throw new DriverError(`${what}: volume ${sourceVolumeId} has no snapshot ${snapshotId}`, { retryable: false });
  if (bytes < snap.size) throw new DriverError(`${what}: the snapshot is ${fmtGiB(snap.size)} GiB, larger than ${sizeGiB} GiB`, { retryable: false });
  const parent = spec(ctx.pool, imageOf(sourceVolumeId), snap.name);
  try {
    if (snap.protected !== 'true') {
      await rbd(ctx.pool, ['snap', 'protect', parent]).catch((err: unknown) => {
        // Protected meanwhile by a concurrent copy of the same snapshot.
        if ((err as { errno?: number }).errno !== EBUSY) throw err;
        return '';
      });
    }
    await buildIntoPlace(ctx, volumeId, bytes, snap.size, async (temp) => {
      await rbd(ctx.pool, ['clone', parent, spec(ctx.pool, temp)]);
      await rbd(ctx.pool, ['flatten', '--no-progress', spec(ctx.pool, temp)]);
    });
  } catch (err) {
    throw asDriverError(err, what);
  }
  return mustGet(ctx, volumeId, what);
}

/** See `VolumeDriver.cloneVolume`: `rbd cp` of the source's current bytes, grown, renamed into place. */
export async function cloneVolume(ctx: RbdPool, volumeId: string, sizeGiB: number, sourceVolumeId: string, encryption?: VolumeEncryption): Promise<VolumeInfo> {
  checkId(volumeId);
  checkId(sourceVolumeId);
  const bytes = checkNewSize(sizeGiB);
  const what = `pool ${ctx.pool.name}: could not clone volume ${sourceVolumeId} to volume ${volumeId} (${sizeGiB} GiB)`;
  ctx.refuseEncryption(encryption, what);
  const existing = await existingOfSize(ctx, volumeId, sizeGiB);
  if (existing) return existing;
  const source = await ctx.getVolume(sourceVolumeId);
  if (!source) throw new DriverError(`${what}: volume ${sourceVolumeId} does not exist in this pool`, { retryable: false });
  if (bytes < source.sizeBytes) throw new DriverError(`${what}: the source is ${fmtGiB(source.sizeBytes)} GiB, larger than ${sizeGiB} GiB`, { retryable: false });
  try {
    await buildIntoPlace(ctx, volumeId, bytes, source.sizeBytes, async (temp) => {
      await rbd(ctx.pool, ['cp', '--no-progress', spec(ctx.pool, imageOf(sourceVolumeId)), spec(ctx.pool, temp)]);
    });
  } catch (err) {
    throw asDriverError(err, what);
  }
  return mustGet(ctx, volumeId, what);
}

/** See `VolumeDriver.revertToSnapshot`: `rbd snap rollback`. */
export async function revertToSnapshot(ctx: RbdPool, volumeId: string, snapshotId: string): Promise<VolumeInfo> {
  checkId(volumeId);
  checkId(snapshotId, 'snapshot');
  const what = `pool ${ctx.pool.name}: could not revert volume ${volumeId} to snapshot ${snapshotId}`;
  const volume = await ctx.getVolume(volumeId);
  if (!volume) throw new DriverError(`${what}: the volume does not exist in this pool`, { retryable: false });
  const snap = await findSnap(ctx, volumeId, snapshotId);
  if (!snap) throw new DriverError(`${what}: volume ${volumeId} has no snapshot ${snapshotId}`, { retryable: false });
  if (snap.size !== volume.sizeBytes) {
    throw new DriverError(
      `${what}: the volume is ${fmtGiB(volume.sizeBytes)} GiB and the snapshot ${fmtGiB(snap.size)} GiB; only a volume of the snapshot's size can be reverted`,
      { retryable: false },
    );
  }
  try {
    await rbd(ctx.pool, ['snap', 'rollback', '--no-progress', spec(ctx.pool, imageOf(volumeId), snap.name)]);
  } catch (err) {
    throw asDriverError(err, what);
  }
  return mustGet(ctx, volumeId, what);
}

/**
 * See `VolumeDriver.importVolume`: `qemu-img convert` from the remote image into a temporary
 * image, `qemu-img compare` with the source, then the rename (file-import.ts's steps).
 */
export async function importVolume(
  ctx: RbdPool,
  volumeId: string,
  sizeGiB: number,
  source: RemoteImage,
  onProgress?: (p: CopyProgress) => void,
  encryption?: VolumeEncryption,
): Promise<VolumeInfo> {
  checkId(volumeId);
  const bytes = checkNewSize(sizeGiB);
  const what = `pool ${ctx.pool.name}: could not import volume ${volumeId} (${sizeGiB} GiB) from ${source.uri}`;
  ctx.refuseEncryption(encryption, what);
  const existing = await ctx.getVolume(volumeId);
  if (existing) {
    if (existing.sizeBytes === bytes && (await imagesEqual(source.uri, source.format, existing.location, 'raw'))) return existing;
    throw new DriverError(
      `${what}: the pool already has an image of volume ${volumeId} (${fmtGiB(existing.sizeBytes)} GiB) that differs from the source; ` +
        'remove it by hand if it is a leftover, then migrate again',
      { retryable: false },
    );
  }
  const report = (phase: 0 | 1) => (percent: number) => onProgress?.({ doneBytes: Math.round(phase * bytes + (percent / 100) * bytes), totalBytes: 2 * bytes });
  try {
    await buildIntoPlace(ctx, volumeId, bytes, undefined, async (temp) => {
      const dest = qemuFilename(ctx.pool, temp);
      await convertFromRemote(source, dest, 'raw', 'off', ctx.pool.copyMiBps, {}, report(0));
      if (!(await imagesEqual(source.uri, source.format, dest, 'raw', {}, report(1)))) throw new DriverError('the copy differs from the source (qemu-img compare)');
    });
  } catch (err) {
    throw asDriverError(err, what);
  }
  return mustGet(ctx, volumeId, what);
}

async function mustGet(ctx: RbdPool, volumeId: string, what: string): Promise<VolumeInfo> {
  const info = await ctx.getVolume(volumeId);
  if (!info) throw new DriverError(`${what}: the volume vanished right after it was made`);
  return info;
}
