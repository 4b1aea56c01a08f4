/**
 * The `rbd` driver: volumes are RBD images `volume-<id>` in one Ceph pool, snapshots are RBD
 * snapshots `snapshot-<id>`, managed with the `rbd` tool (Cinder's RBD driver design). A copy
 * (clone, volume from snapshot, import) is built under a hidden temporary name and renamed into
 * place (`rbd rename` is atomic), so a crash never leaves a half-made image under a volume's
 * name; `setup()` removes the temporaries. The design: docs/design/rbd-driver.md.
 *
 * Layout: this file holds the class and the volume operations; `rbd-copies.ts` snapshots,
 * copies, reverts and imports, `rbd-manage.ts` manage and unmanage, `rbd-cli.ts` the tools.
 */
import type { RbdPoolConfig } from '../../config/index.js';
import {
  DriverError,
  GiB,
  type CopyProgress,
  type DriverCapabilities,
  type ImageSource,
  type ManageableImage,
  type PoolCapacity,
  type RemoteImage,
  type SnapshotInfo,
  type VolumeDriver,
  type VolumeEncryption,
  type VolumeInfo,
} from './driver.js';
import { asDriverError, checkId, checkNewSize, existingOfSize, fmtGiB } from './file-util.js';
import {
  EACCES,
  EEXIST,
  ENOENT,
  EPERM,
  imageOf,
  orMissing,
  qemuFilename,
  rbd,
  rbdJson,
  RbdError,
  removeImage,
  snapshotOf,
  SNAPSHOT_RE,
  snaps,
  spec,
  TEMP_IMAGE_RE,
  VOLUME_IMAGE_RE,
  type RbdDuEntry,
} from './rbd-cli.js';
import { cloneVolume, createSnapshot, createVolumeFromSnapshot, deleteSnapshot, importVolume, listSnapshots, revertToSnapshot, type RbdPool } from './rbd-copies.js';
import { listManageable, manageExisting, unmanage } from './rbd-manage.js';
import { CapacitySource, readStats } from './rbd-stats.js';

/** `setup()`'s check that the cluster answers gives up after this. @default 30_000 */
export const RBD_SETUP_TIMEOUT_MS = 30_000;
/** How long `stats()` reuses what it read (a volume operation of this driver forgets it). @default 10_000 */
export const RBD_STATS_TTL_MS = 10_000;

/** The `rbd` driver for one pool. */
export class RbdDriver implements VolumeDriver {
  readonly name = 'rbd';
  readonly pool: RbdPoolConfig;
  private cached: { at: number; stats: Promise<PoolCapacity> } | undefined;
  /** Whether `ceph df` answers (it does not without a ceph-mgr): see rbd-stats.ts. */
  private readonly capacitySource = new CapacitySource();
  private readonly ctx: RbdPool;

  constructor(pool: RbdPoolConfig) {
    this.pool = pool;
    this.ctx = { pool, getVolume: (id) => this.getVolume(id), changed: () => (this.cached = undefined), refuseEncryption: (e, what) => this.refuseEncryption(e, what) };
  }

  /** Checks that the cluster answers and the pool exists (`rbd ls`), then removes the temporaries a crash left. */
  async setup(): Promise<void> {
    const where = `pool ${this.pool.name}: Ceph pool "${this.pool.rbdPool}" (conf ${this.pool.cluster.conf}, user client.${this.pool.cluster.user}${this.pool.cluster.keyring ? `, keyring ${this.pool.cluster.keyring}` : ''})`;
    let names: string[];
    try {
      names = await rbdJson<string[]>(this.pool, ['ls', this.pool.rbdPool], [], RBD_SETUP_TIMEOUT_MS);
    } catch (err) {
      const errno = err instanceof RbdError ? err.errno : undefined;
      const fix =
        errno === ENOENT
          ? 'the pool does not exist: create it (ceph osd pool create POOL; rbd pool init POOL) or fix rbdPool'
          : errno === EPERM || errno === EACCES
            ? "the user may not use it: give it caps mon 'profile rbd' osd 'profile rbd pool=POOL', or fix cluster.user / cluster.keyring"
            : 'the cluster did not answer: check mon_host in the conf, that the monitors run, and the keyring';
      throw new DriverError(`${where} cannot be used: ${fix} (${(err as Error).message})`, { cause: err });
    }
    // Copies a crash left half-made. Not on a pool several agents serve: another member may be
    // making one now (deleteVolume removes what its own volume left).
    if (this.pool.backendHost !== undefined) return;
    for (const name of names) {
      if (TEMP_IMAGE_RE.test(name)) await removeImage(this.pool, name).catch(() => undefined);
    }
  }

  /** Always thin; `encryption: false` (after the pool's own, which cannot claim it) until rbd pools encrypt. */
  capabilities(): DriverCapabilities {
    return { thinProvisioningSupport: true, thickProvisioningSupport: false, extra: { ...this.pool.capabilities, encryption: false } };
  }

  /**
   * Provisioned (virtual sizes) and volume count from `rbd du` on the pool; total and free from
   * `ceph df` (the pool's `max_avail`), which needs a ceph-mgr: without one it reads zeros, and
   * the pool's `capacityGiB` is then the total (free: it less what the images use). Read at most
   * every RBD_STATS_TTL_MS; any change this driver makes reads again.
   */
  stats(): Promise<PoolCapacity> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < RBD_STATS_TTL_MS) return this.cached.stats;
    const stats = readStats(this.pool, this.capacitySource);
    this.cached = { at: now, stats };
    stats.catch(() => (this.cached = undefined));
    return stats;
  }

  /** Encryption is not offered on rbd pools yet (docs/design/rbd-driver.md). */
  private refuseEncryption(encryption: VolumeEncryption | undefined, what: string): void {
    if (encryption) {
      throw new DriverError(`${what}: pool ${this.pool.name} (rbd) does not offer encryption; use a volume type without encryption, or one placed on a file pool`, { retryable: false });
    }
  }

  async createVolume(volumeId: string, sizeGiB: number, encryption?: VolumeEncryption): Promise<VolumeInfo> {
    checkId(volumeId);
    const bytes = checkNewSize(sizeGiB);
    const what = `pool ${this.pool.name}: could not create volume ${volumeId} (${sizeGiB} GiB)`;
    this.refuseEncryption(encryption, what);
    this.ctx.changed();
    const image = imageOf(volumeId);
    try {
      // One `rbd create` makes the image whole or not at all: no temporary needed. Tried first
      // (one call on the usual path); EEXIST is a repeat, checked for its size.
      await rbd(this.pool, ['create', '--size', `${bytes}B`, spec(this.pool, image)]);
    } catch (err) {
      if (err instanceof RbdError && err.errno === EEXIST) {
        const existing = await existingOfSize(this.ctx, volumeId, sizeGiB);
        if (existing) return existing;
      }
      throw asDriverError(err, what);
    }
    // A new image has nothing allocated yet.
    return { volumeId, sizeBytes: bytes, allocatedBytes: 0, format: 'raw', location: qemuFilename(this.pool, image), encrypted: false };
  }

  /**
   * Removes the image with its snapshots (unprotecting them) and any temporaries of it; a missing
   * volume is success. Refused (not retryable) while clones made outside Flint of one of its
   * snapshots exist: Flint flattens its own (rbd-copies.ts).
   */
  async deleteVolume(volumeId: string): Promise<void> {
    checkId(volumeId);
    const what = `pool ${this.pool.name}: could not delete volume ${volumeId}`;
    this.ctx.changed();
    try {
      // A copy of it left half-made is removed where it fails (rbd-copies.ts), or by setup() after a
      // crash; on a pool several agents serve setup() leaves them, so its delete removes them.
      if (this.pool.backendHost !== undefined) await this.removeTemporaries(volumeId);
      const list = await orMissing(() => snaps(this.pool, imageOf(volumeId)), null);
      if (list === null) return;
      for (const s of list) {
        const id = SNAPSHOT_RE.exec(s.name)?.[1];
        if (id !== undefined && s.protected === 'true') await deleteSnapshot(this.ctx, volumeId, id);
      }
      await removeImage(this.pool, imageOf(volumeId), list.filter((s) => s.protected !== 'true' || !SNAPSHOT_RE.test(s.name)));
    } catch (err) {
      throw asDriverError(err, what);
    }
  }

  /** Removes the half-made copies of a volume (`.volume-<id>.tmp-*`) a crash left behind. */
  private async removeTemporaries(volumeId: string): Promise<void> {
    const prefix = `.${imageOf(volumeId)}.tmp-`;
    const names = (await rbdJson<string[]>(this.pool, ['ls', this.pool.rbdPool], [])).filter((n) => n.startsWith(prefix) && TEMP_IMAGE_RE.test(n));
    for (const name of names) await removeImage(this.pool, name);
  }

  async extendVolume(volumeId: string, newSizeGiB: number): Promise<VolumeInfo> {
    checkId(volumeId);
    const bytes = newSizeGiB * GiB;
    const what = `pool ${this.pool.name}: could not extend volume ${volumeId} to ${newSizeGiB} GiB`;
    const current = await this.getVolume(volumeId);
    if (!current) throw new DriverError(`volume ${volumeId} does not exist in pool ${this.pool.name}, so it cannot be extended`, { retryable: false });
    if (current.sizeBytes === bytes) return current;
    if (current.sizeBytes > bytes) {
      throw new DriverError(`volume ${volumeId} is ${fmtGiB(current.sizeBytes)} GiB and cannot shrink to ${newSizeGiB} GiB; volumes only grow`, { retryable: false });
    }
    this.ctx.changed();
    try {
      // Without --allow-shrink rbd refuses to shrink, should the size change meanwhile.
      await rbd(this.pool, ['resize', '--no-progress', '--size', `${bytes}B`, spec(this.pool, imageOf(volumeId))]);
    } catch (err) {
      throw asDriverError(err, what);
    }
    return this.mustGet(volumeId, what);
  }

  /** `path` is the qemu file name (`rbd:POOL/IMAGE[@SNAP]:conf=…:id=…`), `rbd` the same, structured (image-opts.ts). */
  async imageSource(volumeId: string, snapshotId?: string): Promise<ImageSource> {
    checkId(volumeId);
    const what = `pool ${this.pool.name}`;
    const image = imageOf(volumeId);
    const list = await orMissing(() => snaps(this.pool, image), null);
    if (list === null) throw new DriverError(`${what}: volume ${volumeId} does not exist in this pool`, { retryable: false });
    let sizeBytes: number;
    let snapshot: string | undefined;
    if (snapshotId !== undefined) {
      checkId(snapshotId, 'snapshot');
      snapshot = snapshotOf(snapshotId);
      const s = list.find((x) => x.name === snapshot);
      if (!s) throw new DriverError(`${what}: volume ${volumeId} has no snapshot ${snapshotId}`, { retryable: false });
      sizeBytes = s.size;
    } else {
      const volume = await this.getVolume(volumeId);
      if (!volume) throw new DriverError(`${what}: volume ${volumeId} does not exist in this pool`, { retryable: false });
      sizeBytes = volume.sizeBytes;
    }
    const { conf, user, keyring } = this.pool.cluster;
    return {
      path: qemuFilename(this.pool, image, snapshot),
      format: 'raw',
      sizeBytes,
      rbd: { pool: this.pool.rbdPool, image, ...(snapshot === undefined ? {} : { snapshot }), conf, user, ...(keyring === undefined ? {} : { keyring }) },
    };
  }

  /** `rbd du` of the image: its virtual size and the bytes it uses (its snapshots' not counted). */
  async getVolume(volumeId: string): Promise<VolumeInfo | null> {
    checkId(volumeId);
    const image = imageOf(volumeId);
    const du = await orMissing(() => rbdJson<{ images: RbdDuEntry[] }>(this.pool, ['du', spec(this.pool, image)], { images: [] }), null);
    const head = du?.images.find((e) => e.snapshot === undefined && e.name === image);
    if (!head) return null;
    return { volumeId, sizeBytes: head.provisioned_size, allocatedBytes: head.used_size, format: 'raw', location: qemuFilename(this.pool, image), encrypted: false };
  }

  async listVolumes(): Promise<string[]> {
    const names = await rbdJson<string[]>(this.pool, ['ls', this.pool.rbdPool], []);
    return names.flatMap((n) => VOLUME_IMAGE_RE.exec(n)?.[1] ?? []).sort();
  }

  createSnapshot(volumeId: string, snapshotId: string): Promise<SnapshotInfo> {
    return createSnapshot(this.ctx, volumeId, snapshotId);
  }

  deleteSnapshot(volumeId: string, snapshotId: string): Promise<void> {
    return deleteSnapshot(this.ctx, volumeId, snapshotId);
  }

  listSnapshots(volumeId: string): Promise<string[]> {
    return listSnapshots(this.ctx, volumeId);
  }

  createVolumeFromSnapshot(volumeId: string, sizeGiB: number, sourceVolumeId: string, snapshotId: string, encryption?: VolumeEncryption): Promise<VolumeInfo> {
    return createVolumeFromSnapshot(this.ctx, volumeId, sizeGiB, sourceVolumeId, snapshotId, encryption);
  }

  cloneVolume(volumeId: string, sizeGiB: number, sourceVolumeId: string, encryption?: VolumeEncryption): Promise<VolumeInfo> {
    return cloneVolume(this.ctx, volumeId, sizeGiB, sourceVolumeId, encryption);
  }

  revertToSnapshot(volumeId: string, snapshotId: string): Promise<VolumeInfo> {
    return revertToSnapshot(this.ctx, volumeId, snapshotId);
  }

  importVolume(volumeId: string, sizeGiB: number, source: RemoteImage, onProgress?: (p: CopyProgress) => void, encryption?: VolumeEncryption): Promise<VolumeInfo> {
    return importVolume(this.ctx, volumeId, sizeGiB, source, onProgress, encryption);
  }

  manageExisting(volumeId: string, reference: string): Promise<VolumeInfo> {
    return manageExisting(this.ctx, volumeId, reference);
  }

  unmanage(volumeId: string): Promise<void> {
    return unmanage(this.ctx, volumeId);
  }

  listManageable(): Promise<ManageableImage[]> {
    return listManageable(this.ctx);
  }

  private async mustGet(volumeId: string, what: string): Promise<VolumeInfo> {
    const info = await this.getVolume(volumeId);
    if (!info) throw new DriverError(`${what}: the volume vanished right after the change`);
    return info;
  }
}
