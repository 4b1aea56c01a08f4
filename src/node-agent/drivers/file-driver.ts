/**
 * The `file` driver: volumes are image files (`volume-<id>.raw` or `.qcow2`) in the pool's
 * directory, managed with qemu-img (Cinder's NFS / remotefs design). Snapshots are qcow2
 * internal snapshots or sparse raw copies; every image and copy is made under a temporary
 * name and renamed into place, so a crash leaves no half-made one, and `setup()` removes the
 * temporaries. The design, with its crash-safety and idempotence rules: docs/design/file-driver.md.
 *
 * A plain new image (sparse raw, qcow2 without encryption) is written by the driver itself,
 * without a qemu-img process (`file-create.ts`, `qcow2-image.ts`): a create is the hot path.
 *
 * Layout: this file holds the class and the volume operations; `file-snapshots.ts` the
 * snapshots, `file-copies.ts` the copies, clones and reverts, `file-manage.ts` manage and
 * unmanage, and `file-util.ts` naming, checks and the filesystem steps of a crash-safe copy.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { FilePoolConfig } from '../../config/index.js';
import type { SecretBox } from '../../domain/secret-box.js';
import { hasKey, newImageKey, readKey, removeKey, storeKey } from './file-keys.js';
import { cloneVolume, createVolumeFromSnapshot, revertToSnapshot } from './file-copies.js';
import { createImageFile, type MadeImage } from './file-create.js';
import { importVolume } from './file-import.js';
import { listManageable, manageExisting, unmanage } from './file-manage.js';
import { createSnapshot, deleteSnapshot, forgetSnapshots, indexRawSnapshots, listSnapshots, snapshotSource } from './file-snapshots.js';
import {
  asDriverError,
  checkId,
  checkNewSize,
  existingOfSize,
  exists,
  floor2,
  fmtGiB,
  FORMATS,
  IMAGE_RE,
  pathOf,
  preallocation,
  rawSnapshotPathOf,
  renameIntoPlace,
  round2,
  snapshotDirOf,
  TEMP_RE,
  tempPathOf,
  type FilePool,
  type Indexed,
} from './file-util.js';
import {
  DriverError,
  GiB,
  type DriverCapabilities,
  type ImageSource,
  type ManageableImage,
  type PoolCapacity,
  type CopyProgress,
  type RemoteImage,
  type SnapshotInfo,
  type VolumeDriver,
  type VolumeEncryption,
  type VolumeInfo,
} from './driver.js';
import { createImage, imageInfo, ImageNotFoundError, qemuImgVersion, resizeImage, type ImageFormat, type QemuImgOptions } from './qemu-img.js';
import { resizingPastBrokenBitmaps } from './qcow2-bitmaps.js';
import { qemuFormat } from './image-opts.js';

export interface FileDriverOptions {
  qemuImg?: QemuImgOptions;
  /** Opens the keys of encrypted volumes (the agent's FLINT_SECRET_KEY_FILE). @default none: encrypted volumes cannot be used */
  secrets?: SecretBox;
}

/** The `file` driver for one pool. */
export class FileDriver implements VolumeDriver {
  readonly name = 'file';
  readonly pool: FilePoolConfig;
  private readonly qemu: QemuImgOptions;
  /** Virtual sizes by volume id: stats() reads this instead of running qemu-img per heartbeat. */
  private readonly index = new Map<string, Indexed>();
  /** Virtual sizes of the raw snapshot copies, by `<volumeId>/<snapshotId>`. */
  private readonly snapshotIndex = new Map<string, number>();
  /** What the snapshot and copy modules see of this driver. */
  private readonly ctx: FilePool;

  constructor(pool: FilePoolConfig, options: FileDriverOptions = {}) {
    this.pool = pool;
    this.qemu = options.qemuImg ?? {};
    this.ctx = {
      pool: this.pool,
      qemu: this.qemu,
      index: this.index,
      snapshotIndex: this.snapshotIndex,
      getVolume: (volumeId) => this.getVolume(volumeId),
      secrets: options.secrets,
    };
  }

  /** Creates the directory, checks qemu-img, removes crash leftovers and indexes the images present. */
  async setup(): Promise<void> {
    const dir = this.pool.directory;
    try {
      await fs.mkdir(dir, { recursive: true });
      await fs.access(dir, fsConstants.R_OK | fsConstants.W_OK);
    } catch (err) {
      throw new DriverError(`pool ${this.pool.name}: directory ${dir} cannot be created or is not writable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    await qemuImgVersion(this.qemu);
    this.index.clear();
    for (const name of await fs.readdir(dir)) {
      if (TEMP_RE.test(name)) {
        await fs.rm(join(dir, name), { force: true });
        continue;
      }
      const m = IMAGE_RE.exec(name);
      if (!m) continue;
      const format = m[2] as ImageFormat;
      const path = join(dir, name);
      try {
        const encrypted = await hasKey(this.pool, m[1]!);
        this.index.set(m[1]!, { format, virtualSize: (await imageInfo(path, qemuFormat(format, encrypted), this.qemu)).virtualSize });
      } catch {
        // An unreadable image still occupies space: count its file size rather than hide it.
        const st = await fs.stat(path).catch(() => undefined);
        if (st) this.index.set(m[1]!, { format, virtualSize: st.size });
      }
    }
    await indexRawSnapshots(this.ctx);
  }

  capabilities(): DriverCapabilities {
    return {
      thinProvisioningSupport: this.pool.thinProvisioning,
      thickProvisioningSupport: !this.pool.thinProvisioning,
      extra: { ...this.pool.capabilities },
    };
  }

  /**
   * Filesystem capacity from statfs (space available to unprivileged users), capped by
   * the pool's `capacityGiB`: then free is also bounded by what the pool's images
   * already occupy. Provisioned is the sum of the indexed virtual sizes.
   */
  async stats(): Promise<PoolCapacity> {
    const sfs = await fs.statfs(this.pool.directory).catch((err: unknown) => {
      throw new DriverError(`pool ${this.pool.name}: cannot read filesystem stats of ${this.pool.directory}: ${(err as Error).message}`, {
        cause: err,
      });
    });
    let total = sfs.blocks * sfs.bsize;
    let free = sfs.bavail * sfs.bsize;
    if (this.pool.capacityGiB !== undefined) {
      const cap = this.pool.capacityGiB * GiB;
      total = Math.min(total, cap);
      free = Math.max(0, Math.min(free, cap - (await this.allocatedBytes())));
    }
    let provisioned = 0;
    for (const v of this.index.values()) provisioned += v.virtualSize;
    for (const size of this.snapshotIndex.values()) provisioned += size;
    return {
      totalCapacityGiB: floor2(total / GiB),
      freeCapacityGiB: floor2(free / GiB),
      provisionedCapacityGiB: round2(provisioned / GiB),
      volumeCount: this.index.size,
    };
  }

  /**
   * An encrypted volume's key file is written before its image takes its name (file-keys.ts).
   * A plain image (sparse raw, qcow2) is written by the driver itself (file-create.ts), which
   * then knows its size and allocation: only encrypted and preallocated images run qemu-img,
   * and only encrypted ones are read back with `qemu-img info`.
   */
  async createVolume(volumeId: string, sizeGiB: number, encryption?: VolumeEncryption): Promise<VolumeInfo> {
    checkId(volumeId);
    const bytes = checkNewSize(sizeGiB);
    const existing = await existingOfSize(this.ctx, volumeId, sizeGiB);
    if (existing) return existing;
    const format = this.pool.imageFormat;
    const final = this.pathOf(volumeId, format);
    const temp = tempPathOf(this.pool, volumeId, format);
    const what = `pool ${this.pool.name}: could not create volume ${volumeId} (${sizeGiB} GiB)`;
    let made: MadeImage | null = null;
    try {
      const key = encryption ? newImageKey(this.ctx.secrets, volumeId, encryption) : undefined;
      if (encryption) await storeKey(this.pool, volumeId, encryption.sealedKey);
      else await removeKey(this.pool, volumeId);
      const prealloc = preallocation(this.pool, format);
      made = await renameIntoPlace(temp, final, this.pool.directory, async () => {
        if (!key) {
          const image = await createImageFile(temp, format, bytes, prealloc);
          if (image) return image;
        }
        await createImage(temp, format, bytes, { ...this.qemu, preallocation: prealloc, ...(key ? { encryption: key } : {}) });
        // An unencrypted image qemu-img made has the size asked for; only its allocation is to learn.
        return key ? null : { allocatedBytes: (await fs.stat(temp)).blocks * 512 };
      }).catch(async (err: unknown) => {
        await removeKey(this.pool, volumeId);
        throw err;
      });
    } catch (err) {
      throw asDriverError(err, what);
    }
    this.index.set(volumeId, { format, virtualSize: bytes });
    if (made) return { volumeId, sizeBytes: bytes, allocatedBytes: made.allocatedBytes, format, location: final, encrypted: false };
    const info = await this.getVolume(volumeId);
    if (!info) throw new DriverError(`pool ${this.pool.name}: volume ${volumeId} vanished right after it was created`);
    return info;
  }

  /** Removes the volume's raw snapshots, the image in any format and any crash leftovers of it; a missing volume is success. */
  async deleteVolume(volumeId: string): Promise<void> {
    checkId(volumeId);
    try {
      await fs.rm(this.snapshotDirOf(volumeId), { recursive: true, force: true });
      forgetSnapshots(this.ctx, volumeId);
      for (const format of FORMATS) await fs.rm(this.pathOf(volumeId, format), { force: true });
      await removeKey(this.pool, volumeId);
      const prefix = `.volume-${volumeId}.`;
      for (const name of await fs.readdir(this.pool.directory)) {
        if (name.startsWith(prefix) && TEMP_RE.test(name)) await fs.rm(join(this.pool.directory, name), { force: true });
      }
    } catch (err) {
      throw asDriverError(err, `pool ${this.pool.name}: could not delete volume ${volumeId}`);
    }
    this.index.delete(volumeId);
  }

  async extendVolume(volumeId: string, newSizeGiB: number): Promise<VolumeInfo> {
    checkId(volumeId);
    const bytes = newSizeGiB * GiB;
    const current = await this.getVolume(volumeId);
    if (!current) {
      throw new DriverError(`volume ${volumeId} does not exist in pool ${this.pool.name}, so it cannot be extended`, { retryable: false });
    }
    if (current.sizeBytes === bytes) return current;
    if (current.sizeBytes > bytes) {
      throw new DriverError(
        `volume ${volumeId} is ${fmtGiB(current.sizeBytes)} GiB and cannot shrink to ${newSizeGiB} GiB; volumes only grow`,
        { retryable: false },
      );
    }
    try {
      const key = await readKey(this.pool, this.ctx.secrets, volumeId);
      const opts = { ...this.qemu, ...(key ? { key } : {}) };
      const resize = () => resizeImage(current.location, current.format, bytes, { ...opts, preallocation: preallocation(this.pool, current.format) });
      await (current.format === 'qcow2' ? resizingPastBrokenBitmaps(current.location, opts, resize) : resize());
    } catch (err) {
      throw asDriverError(err, `pool ${this.pool.name}: could not extend volume ${volumeId} to ${newSizeGiB} GiB`);
    }
    const info = await this.getVolume(volumeId);
    if (!info) throw new DriverError(`pool ${this.pool.name}: volume ${volumeId} vanished while it was being extended`);
    return info;
  }

  async imageSource(volumeId: string, snapshotId?: string): Promise<ImageSource> {
    checkId(volumeId);
    const what = `pool ${this.pool.name}`;
    if (snapshotId !== undefined) {
      checkId(snapshotId, 'snapshot');
      return snapshotSource(this.ctx, volumeId, snapshotId, what);
    }
    const volume = await this.getVolume(volumeId);
    if (!volume) throw new DriverError(`${what}: volume ${volumeId} does not exist in this pool`, { retryable: false });
    const key = await readKey(this.pool, this.ctx.secrets, volumeId);
    return { path: volume.location, format: volume.format, sizeBytes: volume.sizeBytes, ...(key ? { key } : {}) };
  }

  /** Looks on disk (not in the index), in either format, and refreshes the index with what it finds. */
  async getVolume(volumeId: string): Promise<VolumeInfo | null> {
    checkId(volumeId);
    for (const format of FORMATS) {
      const path = this.pathOf(volumeId, format);
      // A stat is far cheaper than running qemu-img to learn that a file is missing.
      if (!(await exists(path))) continue;
      try {
        const encrypted = await hasKey(this.pool, volumeId);
        const info = await imageInfo(path, qemuFormat(format, encrypted), this.qemu);
        this.index.set(volumeId, { format, virtualSize: info.virtualSize });
        return { volumeId, sizeBytes: info.virtualSize, allocatedBytes: info.actualSize, format, location: path, encrypted };
      } catch (err) {
        if (!(err instanceof ImageNotFoundError)) throw err;
      }
    }
    this.index.delete(volumeId);
    return null;
  }

  async listVolumes(): Promise<string[]> {
    const names = await fs.readdir(this.pool.directory);
    const ids = new Set<string>();
    for (const name of names) {
      const m = IMAGE_RE.exec(name);
      if (m) ids.add(m[1]!);
    }
    return [...ids].sort();
  }

  /**
   * qcow2: an internal snapshot `snapshot-<snapshotId>`; raw: a crash-safe sparse copy
   * (see the module's documentation). A snapshot that exists already is returned as is.
   * @throws DriverError (not retryable) when the volume does not exist.
   */
  createSnapshot(volumeId: string, snapshotId: string): Promise<SnapshotInfo> {
    return createSnapshot(this.ctx, volumeId, snapshotId);
  }

  /** Removes a snapshot (the internal one, or the raw copy); a missing snapshot or volume is success. */
  deleteSnapshot(volumeId: string, snapshotId: string): Promise<void> {
    return deleteSnapshot(this.ctx, volumeId, snapshotId);
  }

  /** Ids of the volume's snapshots, sorted; empty for a missing volume. */
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

  /** See `VolumeDriver.importVolume` and file-import.ts. */
  importVolume(volumeId: string, sizeGiB: number, source: RemoteImage, onProgress?: (p: CopyProgress) => void, encryption?: VolumeEncryption): Promise<VolumeInfo> {
    return importVolume(this.ctx, volumeId, sizeGiB, source, onProgress, encryption);
  }

  /** Adopts a file of the pool as a volume (see file-manage.ts). */
  manageExisting(volumeId: string, reference: string): Promise<VolumeInfo> {
    return manageExisting(this.ctx, volumeId, reference);
  }

  /** Renames the volume's image to `unmanaged-volume-<id>.<fmt>`, keeping its bytes (see file-manage.ts). */
  async unmanage(volumeId: string): Promise<void> {
    checkId(volumeId);
    if (await hasKey(this.pool, volumeId)) {
      throw new DriverError(`volume ${volumeId} is encrypted: unmanaged, its image would be ciphertext nobody holds the key of. Copy its data out through an attachment, then delete it.`, { retryable: false });
    }
    return unmanage(this.ctx, volumeId);
  }

  listManageable(): Promise<ManageableImage[]> {
    return listManageable(this.ctx);
  }

  /** Directory of a volume's raw snapshot copies. */
  snapshotDirOf(volumeId: string): string {
    return snapshotDirOf(this.pool, volumeId);
  }

  /** Path of a raw snapshot copy. */
  rawSnapshotPathOf(volumeId: string, snapshotId: string): string {
    return rawSnapshotPathOf(this.pool, volumeId, snapshotId);
  }

  /** Path of a volume's image in a format. */
  pathOf(volumeId: string, format: ImageFormat): string {
    return pathOf(this.pool, volumeId, format);
  }

  private async allocatedBytes(): Promise<number> {
    let sum = 0;
    for (const [id, v] of this.index) {
      const st = await fs.stat(this.pathOf(id, v.format)).catch(() => undefined);
      if (st) sum += st.blocks * 512;
    }
    for (const key of this.snapshotIndex.keys()) {
      const [volumeId, snapshotId] = key.split('/') as [string, string];
      const st = await fs.stat(this.rawSnapshotPathOf(volumeId, snapshotId)).catch(() => undefined);
      if (st) sum += st.blocks * 512;
    }
    return sum;
  }
}
