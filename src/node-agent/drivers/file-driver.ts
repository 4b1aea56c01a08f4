/**
 * The `file` driver: volumes are image files in the pool's directory, managed with
 * qemu-img (Cinder's NFS / remotefs design). An image is `volume-<id>.raw` or
 * `volume-<id>.qcow2`; raw images are sparse in thin pools and `falloc`-preallocated
 * in thick ones, qcow2 images are always thin.
 *
 * Crash safety: an image is made under a hidden temporary name and renamed into place,
 * so a crash never leaves a half-made image under its final name; `setup()` removes
 * temporaries left by a crash.
 *
 * Snapshots depend on the image format of the volume (not of the pool, should the two differ):
 *
 * - qcow2: qcow2 *internal* snapshots tagged `snapshot-<snapshotId>`, taken and deleted
 *   with `qemu-img snapshot -c/-d` (which take the image's write lock, so they fail
 *   while another process writes the image) and listed from the `snapshots` array of
 *   `qemu-img info --output=json -U` (reads pass force-share). They live in the image
 *   file, so they share its clusters (copy-on-write), cost no extra provisioned
 *   capacity, and go with the file when the volume is deleted. Extending a qcow2
 *   volume that has internal snapshots works with a plain `qemu-img resize` (checked
 *   with qemu-img 7.2: qcow2 accepts growing an image with internal snapshots, and each
 *   snapshot keeps its own recorded disk size, so its data and size are untouched).
 *   The snapshot's size is read from the qcow2 snapshot table (`qcow2SnapshotSizes`),
 *   which qemu-img 7.2 does not print.
 * - raw: a sparse full copy `<pool>/.snapshots/volume-<volumeId>/snapshot-<snapshotId>.raw`,
 *   made with `cp --sparse=always --reflink=auto` (a reflink where the filesystem
 *   can, otherwise holes stay holes) to a hidden temporary name in the same directory,
 *   fsynced, renamed into place and the directory fsynced: a crash leaves either no
 *   snapshot or a whole one, and `setup()` removes the temporaries. The copies do use
 *   space, so their virtual sizes count in the provisioned capacity and their blocks
 *   against a `capacityGiB` cap; extending the volume leaves them as they are. The copy
 *   is point-in-time only if nothing writes the volume while it is made (a detached
 *   volume, as Cinder's remotefs drivers require without assisted snapshots).
 *
 * New volumes from old (`createVolumeFromSnapshot`, `cloneVolume`) are made in the pool's
 * own image format, under a temporary name that is fsynced and renamed into place:
 * qcow2 (or any format change) with `qemu-img convert` from the internal snapshot
 * (`-l snapshot.name=snapshot-<id>`) or the source image; raw from raw with the same
 * sparse `cp` as raw snapshots (thick pools: `qemu-img convert` with `falloc`). A larger
 * size is then grown with `qemu-img resize`. Reverting (`revertToSnapshot`): qcow2 with
 * `qemu-img snapshot -a`; raw by copying the snapshot back to a temporary image that is
 * renamed over the volume's, so a crash leaves either the old bytes or the snapshot's.
 *
 * Idempotence as in the contract: a snapshot that exists is not taken again, deleting a
 * missing snapshot (or one of a missing volume) succeeds, and `deleteVolume` removes the
 * volume's raw snapshot directory (first, so a crash half-way leaves no orphaned copies
 * behind once the delete is redone).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { PoolConfig } from '../../config/index.js';
import {
  DriverError,
  GiB,
  type DriverCapabilities,
  type PoolCapacity,
  type SnapshotInfo,
  type VolumeDriver,
  type VolumeInfo,
} from './driver.js';
import {
  applyInternalSnapshot,
  convertImage,
  createImage,
  createInternalSnapshot,
  deleteInternalSnapshot,
  imageInfo,
  ImageNotFoundError,
  qcow2SnapshotSizes,
  qemuImgVersion,
  resizeImage,
  type ImageFormat,
  type QemuImgOptions,
} from './qemu-img.js';

const FORMATS: readonly ImageFormat[] = ['raw', 'qcow2'];
const IMAGE_RE = /^volume-([A-Za-z0-9_-]{1,128})\.(raw|qcow2)$/;
const TEMP_RE = /^\.volume-.*\.tmp-[0-9a-f]+$/;
const VOLUME_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
/** Directory (inside the pool's) holding the raw snapshot copies, one sub-directory per volume. */
const SNAPSHOTS_DIR = '.snapshots';
const SNAPSHOT_DIR_RE = /^volume-([A-Za-z0-9_-]{1,128})$/;
const RAW_SNAPSHOT_RE = /^snapshot-([A-Za-z0-9_-]{1,128})\.raw$/;
const SNAPSHOT_TEMP_RE = /^\.snapshot-.*\.tmp-[0-9a-f]+$/;
const INTERNAL_SNAPSHOT_RE = /^snapshot-([A-Za-z0-9_-]{1,128})$/;
/** `cp` of a raw snapshot copy taking longer than this is killed. @default 3_600_000 */
const COPY_TIMEOUT_MS = 3_600_000;

export interface FileDriverOptions {
  qemuImg?: QemuImgOptions;
}

/** Bytes to copy: an image (of a volume or a raw snapshot copy), or a qcow2 image's internal snapshot. */
interface CopySource {
  path: string;
  format: ImageFormat;
  snapshotName?: string;
  /** Virtual size of the bytes copied. */
  sizeBytes: number;
}

interface Indexed {
  format: ImageFormat;
  virtualSize: number;
}

/** The `file` driver for one pool. */
export class FileDriver implements VolumeDriver {
  readonly name = 'file';
  readonly pool: PoolConfig;
  private readonly qemu: QemuImgOptions;
  /** Virtual sizes by volume id: stats() reads this instead of running qemu-img per heartbeat. */
  private readonly index = new Map<string, Indexed>();
  /** Virtual sizes of the raw snapshot copies, by `<volumeId>/<snapshotId>`. */
  private readonly snapshotIndex = new Map<string, number>();

  constructor(pool: PoolConfig, options: FileDriverOptions = {}) {
    this.pool = pool;
    this.qemu = options.qemuImg ?? {};
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
        this.index.set(m[1]!, { format, virtualSize: (await imageInfo(path, format, this.qemu)).virtualSize });
      } catch {
        // An unreadable image still occupies space: count its file size rather than hide it.
        const st = await fs.stat(path).catch(() => undefined);
        if (st) this.index.set(m[1]!, { format, virtualSize: st.size });
      }
    }
    await this.indexRawSnapshots();
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

  async createVolume(volumeId: string, sizeGiB: number): Promise<VolumeInfo> {
    this.checkId(volumeId);
    if (!Number.isInteger(sizeGiB) || sizeGiB <= 0) {
      throw new DriverError(`size must be a positive whole number of GiB, got ${sizeGiB}`, { retryable: false });
    }
    const bytes = sizeGiB * GiB;
    const existing = await this.getVolume(volumeId);
    if (existing) {
      if (existing.sizeBytes === bytes) return existing;
      throw new DriverError(
        `volume ${volumeId} already exists in pool ${this.pool.name} with ${fmtGiB(existing.sizeBytes)} GiB, not ${sizeGiB} GiB; ` +
          'delete it before creating it again',
        { retryable: false },
      );
    }
    const format = this.pool.imageFormat;
    const final = this.pathOf(volumeId, format);
    const temp = join(this.pool.directory, `.volume-${volumeId}.${format}.tmp-${randomBytes(4).toString('hex')}`);
    try {
      await createImage(temp, format, bytes, { ...this.qemu, preallocation: this.preallocation(format) });
      await fs.rename(temp, final);
      await syncDir(this.pool.directory);
    } catch (err) {
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw asDriverError(err, `pool ${this.pool.name}: could not create volume ${volumeId} (${sizeGiB} GiB)`);
    }
    this.index.set(volumeId, { format, virtualSize: bytes });
    const info = await this.getVolume(volumeId);
    if (!info) throw new DriverError(`pool ${this.pool.name}: volume ${volumeId} vanished right after it was created`);
    return info;
  }

  /** Removes the volume's raw snapshots, the image in any format and any crash leftovers of it; a missing volume is success. */
  async deleteVolume(volumeId: string): Promise<void> {
    this.checkId(volumeId);
    try {
      await fs.rm(this.snapshotDirOf(volumeId), { recursive: true, force: true });
      this.forgetSnapshots(volumeId);
      for (const format of FORMATS) await fs.rm(this.pathOf(volumeId, format), { force: true });
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
    this.checkId(volumeId);
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
      await resizeImage(current.location, current.format, bytes, { ...this.qemu, preallocation: this.preallocation(current.format) });
    } catch (err) {
      throw asDriverError(err, `pool ${this.pool.name}: could not extend volume ${volumeId} to ${newSizeGiB} GiB`);
    }
    const info = await this.getVolume(volumeId);
    if (!info) throw new DriverError(`pool ${this.pool.name}: volume ${volumeId} vanished while it was being extended`);
    return info;
  }

  /** Looks on disk (not in the index), in either format, and refreshes the index with what it finds. */
  async getVolume(volumeId: string): Promise<VolumeInfo | null> {
    this.checkId(volumeId);
    for (const format of FORMATS) {
      const path = this.pathOf(volumeId, format);
      // A stat is far cheaper than running qemu-img to learn that a file is missing.
      if (!(await exists(path))) continue;
      try {
        const info = await imageInfo(path, format, this.qemu);
        this.index.set(volumeId, { format, virtualSize: info.virtualSize });
        return { volumeId, sizeBytes: info.virtualSize, allocatedBytes: info.actualSize, format, location: path };
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
  async createSnapshot(volumeId: string, snapshotId: string): Promise<SnapshotInfo> {
    this.checkId(volumeId);
    this.checkId(snapshotId, 'snapshot');
    const volume = await this.getVolume(volumeId);
    if (!volume) {
      throw new DriverError(`volume ${volumeId} does not exist in pool ${this.pool.name}, so snapshot ${snapshotId} cannot be taken of it`, {
        retryable: false,
      });
    }
    const what = `pool ${this.pool.name}: could not take snapshot ${snapshotId} of volume ${volumeId}`;
    try {
      if (volume.format === 'qcow2') {
        const tag = internalSnapshotName(snapshotId);
        const info = await imageInfo(volume.location, 'qcow2', this.qemu);
        if (!info.snapshots.includes(tag)) await createInternalSnapshot(volume.location, tag, this.qemu);
        const sizeBytes = (await qcow2SnapshotSizes(volume.location)).get(tag) ?? volume.sizeBytes;
        return { snapshotId, volumeId, sizeBytes };
      }
      return await this.copyRawSnapshot(volume, snapshotId);
    } catch (err) {
      throw asDriverError(err, what);
    }
  }

  /** Removes a snapshot (the internal one, or the raw copy); a missing snapshot or volume is success. */
  async deleteSnapshot(volumeId: string, snapshotId: string): Promise<void> {
    this.checkId(volumeId);
    this.checkId(snapshotId, 'snapshot');
    try {
      const dir = this.snapshotDirOf(volumeId);
      // A raw copy is removed whatever the volume's state: an orphan still takes space.
      await fs.rm(join(dir, rawSnapshotName(snapshotId)), { force: true });
      for (const name of await readdirOrEmpty(dir)) {
        if (name.startsWith(`.${rawSnapshotName(snapshotId)}.`) && SNAPSHOT_TEMP_RE.test(name)) await fs.rm(join(dir, name), { force: true });
      }
      this.snapshotIndex.delete(`${volumeId}/${snapshotId}`);
      await fs.rmdir(dir).catch(() => undefined); // only when empty
      const volume = await this.getVolume(volumeId);
      if (volume?.format === 'qcow2') {
        const tag = internalSnapshotName(snapshotId);
        const info = await imageInfo(volume.location, 'qcow2', this.qemu);
        if (info.snapshots.includes(tag)) await deleteInternalSnapshot(volume.location, tag, this.qemu);
      }
    } catch (err) {
      throw asDriverError(err, `pool ${this.pool.name}: could not delete snapshot ${snapshotId} of volume ${volumeId}`);
    }
  }

  /** Ids of the volume's snapshots, sorted; empty for a missing volume. */
  async listSnapshots(volumeId: string): Promise<string[]> {
    this.checkId(volumeId);
    const volume = await this.getVolume(volumeId);
    if (!volume) return [];
    const ids: string[] = [];
    if (volume.format === 'qcow2') {
      for (const tag of (await imageInfo(volume.location, 'qcow2', this.qemu)).snapshots) {
        const m = INTERNAL_SNAPSHOT_RE.exec(tag);
        if (m) ids.push(m[1]!);
      }
    } else {
      for (const name of await readdirOrEmpty(this.snapshotDirOf(volumeId))) {
        const m = RAW_SNAPSHOT_RE.exec(name);
        if (m) ids.push(m[1]!);
      }
    }
    return ids.sort();
  }

  async createVolumeFromSnapshot(volumeId: string, sizeGiB: number, sourceVolumeId: string, snapshotId: string): Promise<VolumeInfo> {
    this.checkId(volumeId);
    this.checkId(sourceVolumeId);
    this.checkId(snapshotId, 'snapshot');
    const bytes = this.checkNewSize(sizeGiB);
    const existing = await this.existingOfSize(volumeId, sizeGiB);
    if (existing) return existing;
    const what = `pool ${this.pool.name}: could not create volume ${volumeId} (${sizeGiB} GiB) from snapshot ${snapshotId} of volume ${sourceVolumeId}`;
    const source = await this.snapshotSource(sourceVolumeId, snapshotId, what);
    if (bytes < source.sizeBytes) {
      throw new DriverError(`${what}: the snapshot is ${fmtGiB(source.sizeBytes)} GiB, larger than ${sizeGiB} GiB`, { retryable: false });
    }
    return this.copyToNewVolume(volumeId, bytes, source, what);
  }

  async cloneVolume(volumeId: string, sizeGiB: number, sourceVolumeId: string): Promise<VolumeInfo> {
    this.checkId(volumeId);
    this.checkId(sourceVolumeId);
    const bytes = this.checkNewSize(sizeGiB);
    const existing = await this.existingOfSize(volumeId, sizeGiB);
    if (existing) return existing;
    const what = `pool ${this.pool.name}: could not clone volume ${sourceVolumeId} to volume ${volumeId} (${sizeGiB} GiB)`;
    const source = await this.getVolume(sourceVolumeId);
    if (!source) throw new DriverError(`${what}: volume ${sourceVolumeId} does not exist in this pool`, { retryable: false });
    if (bytes < source.sizeBytes) {
      throw new DriverError(`${what}: the source is ${fmtGiB(source.sizeBytes)} GiB, larger than ${sizeGiB} GiB`, { retryable: false });
    }
    return this.copyToNewVolume(volumeId, bytes, { path: source.location, format: source.format, sizeBytes: source.sizeBytes }, what);
  }

  async revertToSnapshot(volumeId: string, snapshotId: string): Promise<VolumeInfo> {
    this.checkId(volumeId);
    this.checkId(snapshotId, 'snapshot');
    const what = `pool ${this.pool.name}: could not revert volume ${volumeId} to snapshot ${snapshotId}`;
    const volume = await this.getVolume(volumeId);
    if (!volume) throw new DriverError(`${what}: the volume does not exist in this pool`, { retryable: false });
    const source = await this.snapshotSource(volumeId, snapshotId, what);
    if (source.sizeBytes !== volume.sizeBytes) {
      throw new DriverError(
        `${what}: the volume is ${fmtGiB(volume.sizeBytes)} GiB and the snapshot ${fmtGiB(source.sizeBytes)} GiB; only a volume of the snapshot's size can be reverted`,
        { retryable: false },
      );
    }
    try {
      if (volume.format === 'qcow2') {
        await applyInternalSnapshot(volume.location, source.snapshotName!, this.qemu);
      } else {
        const temp = this.tempPathOf(volumeId, volume.format);
        try {
          await this.writeCopy(source, temp, volume.format, volume.sizeBytes);
          await fs.rename(temp, volume.location);
          await syncDir(this.pool.directory);
        } catch (err) {
          await fs.rm(temp, { force: true }).catch(() => undefined);
          throw err;
        }
      }
    } catch (err) {
      throw asDriverError(err, what);
    }
    const info = await this.getVolume(volumeId);
    if (!info) throw new DriverError(`${what}: the volume vanished while it was being reverted`);
    return info;
  }

  /** Directory of a volume's raw snapshot copies. */
  snapshotDirOf(volumeId: string): string {
    return join(this.pool.directory, SNAPSHOTS_DIR, `volume-${volumeId}`);
  }

  /** Path of a raw snapshot copy. */
  rawSnapshotPathOf(volumeId: string, snapshotId: string): string {
    return join(this.snapshotDirOf(volumeId), rawSnapshotName(snapshotId));
  }

  /** Path of a volume's image in a format. */
  pathOf(volumeId: string, format: ImageFormat): string {
    return join(this.pool.directory, `volume-${volumeId}.${format}`);
  }

  private checkNewSize(sizeGiB: number): number {
    if (!Number.isInteger(sizeGiB) || sizeGiB <= 0) {
      throw new DriverError(`size must be a positive whole number of GiB, got ${sizeGiB}`, { retryable: false });
    }
    return sizeGiB * GiB;
  }

  /** The volume when it exists with `sizeGiB` (an idempotent repeat); a refusal when it exists with another size; else null. */
  private async existingOfSize(volumeId: string, sizeGiB: number): Promise<VolumeInfo | null> {
    const existing = await this.getVolume(volumeId);
    if (!existing) return null;
    if (existing.sizeBytes === sizeGiB * GiB) return existing;
    throw new DriverError(
      `volume ${volumeId} already exists in pool ${this.pool.name} with ${fmtGiB(existing.sizeBytes)} GiB, not ${sizeGiB} GiB; ` +
        'delete it before creating it again',
      { retryable: false },
    );
  }

  /** Where the bytes of a snapshot are: the volume's image and its internal snapshot (qcow2) or the raw copy. */
  private async snapshotSource(volumeId: string, snapshotId: string, what: string): Promise<CopySource> {
    const volume = await this.getVolume(volumeId);
    if (!volume) throw new DriverError(`${what}: volume ${volumeId} does not exist in this pool`, { retryable: false });
    if (volume.format === 'qcow2') {
      const tag = internalSnapshotName(snapshotId);
      const info = await imageInfo(volume.location, 'qcow2', this.qemu);
      if (!info.snapshots.includes(tag)) throw new DriverError(`${what}: volume ${volumeId} has no snapshot ${snapshotId}`, { retryable: false });
      const sizeBytes = (await qcow2SnapshotSizes(volume.location)).get(tag) ?? volume.sizeBytes;
      return { path: volume.location, format: 'qcow2', snapshotName: tag, sizeBytes };
    }
    const path = this.rawSnapshotPathOf(volumeId, snapshotId);
    const st = await fs.stat(path).catch(() => undefined);
    if (!st) throw new DriverError(`${what}: volume ${volumeId} has no snapshot ${snapshotId}`, { retryable: false });
    return { path, format: 'raw', sizeBytes: st.size };
  }

  /** Makes the new volume from `source` under a temporary name, then renames it into place. */
  private async copyToNewVolume(volumeId: string, bytes: number, source: CopySource, what: string): Promise<VolumeInfo> {
    const format = this.pool.imageFormat;
    const final = this.pathOf(volumeId, format);
    const temp = this.tempPathOf(volumeId, format);
    try {
      await this.writeCopy(source, temp, format, bytes);
      await fs.rename(temp, final);
      await syncDir(this.pool.directory);
    } catch (err) {
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw asDriverError(err, what);
    }
    this.index.set(volumeId, { format, virtualSize: bytes });
    const info = await this.getVolume(volumeId);
    if (!info) throw new DriverError(`${what}: the volume vanished right after it was created`);
    return info;
  }

  /** Writes `source`'s bytes to a new image `dest` of `format`, grows it to `bytes` when larger, and fsyncs it. */
  private async writeCopy(source: CopySource, dest: string, format: ImageFormat, bytes: number): Promise<void> {
    const preallocation = this.preallocation(format);
    if (source.format === 'raw' && format === 'raw' && preallocation === 'off' && source.snapshotName === undefined) {
      await copySparse(source.path, dest);
    } else {
      await convertImage(source.path, source.format, dest, format, { ...this.qemu, snapshotName: source.snapshotName, preallocation });
    }
    if (bytes > source.sizeBytes) await resizeImage(dest, format, bytes, { ...this.qemu, preallocation });
    const handle = await fs.open(dest, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** A hidden temporary name for a volume's image, removed by `setup()` after a crash. */
  private tempPathOf(volumeId: string, format: ImageFormat): string {
    return join(this.pool.directory, `.volume-${volumeId}.${format}.tmp-${randomBytes(4).toString('hex')}`);
  }

  private preallocation(format: ImageFormat): 'falloc' | 'off' {
    return format === 'raw' && !this.pool.thinProvisioning ? 'falloc' : 'off';
  }

  private checkId(id: string, what: 'volume' | 'snapshot' = 'volume'): void {
    if (!VOLUME_ID_RE.test(id)) {
      throw new DriverError(`${what} id ${JSON.stringify(id)} is not usable in a file name (letters, digits, "-", "_")`, {
        retryable: false,
      });
    }
  }

  /** Copy to a temporary name, fsync, rename, fsync the directory; an existing copy is kept. */
  private async copyRawSnapshot(volume: VolumeInfo, snapshotId: string): Promise<SnapshotInfo> {
    const { volumeId } = volume;
    const dir = this.snapshotDirOf(volumeId);
    const final = join(dir, rawSnapshotName(snapshotId));
    const existing = await fs.stat(final).catch(() => undefined);
    if (!existing) {
      const parent = join(this.pool.directory, SNAPSHOTS_DIR);
      const made = await fs.mkdir(dir, { recursive: true });
      if (made !== undefined) {
        await syncDir(parent);
        await syncDir(this.pool.directory);
      }
      const temp = join(dir, `.${rawSnapshotName(snapshotId)}.tmp-${randomBytes(4).toString('hex')}`);
      try {
        await copySparse(volume.location, temp);
        const handle = await fs.open(temp, 'r+');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        await fs.rename(temp, final);
        await syncDir(dir);
      } catch (err) {
        await fs.rm(temp, { force: true }).catch(() => undefined);
        throw err;
      }
    }
    const sizeBytes = existing?.size ?? (await fs.stat(final)).size;
    this.snapshotIndex.set(`${volumeId}/${snapshotId}`, sizeBytes);
    return { snapshotId, volumeId, sizeBytes };
  }

  /** Indexes the raw snapshot copies on disk and removes the temporaries a crash left. */
  private async indexRawSnapshots(): Promise<void> {
    this.snapshotIndex.clear();
    const root = join(this.pool.directory, SNAPSHOTS_DIR);
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
        if (m && st) this.snapshotIndex.set(`${v[1]!}/${m[1]!}`, st.size);
      }
    }
  }

  private forgetSnapshots(volumeId: string): void {
    for (const key of [...this.snapshotIndex.keys()]) {
      if (key.startsWith(`${volumeId}/`)) this.snapshotIndex.delete(key);
    }
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

async function exists(path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch (err) {
    // ENOTDIR and the like mean "not there" too; the qemu-img call reports real failures.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    return true;
  }
}

function internalSnapshotName(snapshotId: string): string {
  return `snapshot-${snapshotId}`;
}

function rawSnapshotName(snapshotId: string): string {
  return `snapshot-${snapshotId}.raw`;
}

/** Entries of a directory; none when it does not exist. */
async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** `cp --sparse=always --reflink=auto src dest`: holes stay holes, a reflink where the filesystem has them. */
function copySparse(src: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('cp', ['--sparse=always', '--reflink=auto', '--', src, dest], { timeout: COPY_TIMEOUT_MS, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err) reject(new DriverError(`copying ${src} failed: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve();
    });
  });
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function asDriverError(err: unknown, what: string): DriverError {
  if (err instanceof DriverError) return new DriverError(`${what}: ${err.message}`, { cause: err, retryable: err.retryable });
  return new DriverError(`${what}: ${(err as Error).message}`, { cause: err });
}

function floor2(n: number): number {
  return Math.floor(n * 100) / 100;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function fmtGiB(bytes: number): string {
  return String(round2(bytes / GiB));
}
