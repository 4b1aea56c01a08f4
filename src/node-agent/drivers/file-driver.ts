/**
 * The `file` driver: volumes are image files in the pool's directory, managed with
 * qemu-img (Cinder's NFS / remotefs design). An image is `volume-<id>.raw` or
 * `volume-<id>.qcow2`; raw images are sparse in thin pools and `falloc`-preallocated
 * in thick ones, qcow2 images are always thin.
 *
 * Crash safety: an image is made under a hidden temporary name and renamed into place,
 * so a crash never leaves a half-made image under its final name; `setup()` removes
 * temporaries left by a crash.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { PoolConfig } from '../../config/index.js';
import {
  DriverError,
  GiB,
  type DriverCapabilities,
  type PoolCapacity,
  type VolumeDriver,
  type VolumeInfo,
} from './driver.js';
import {
  createImage,
  imageInfo,
  ImageNotFoundError,
  qemuImgVersion,
  resizeImage,
  type ImageFormat,
  type QemuImgOptions,
} from './qemu-img.js';

const FORMATS: readonly ImageFormat[] = ['raw', 'qcow2'];
const IMAGE_RE = /^volume-([A-Za-z0-9_-]{1,128})\.(raw|qcow2)$/;
const TEMP_RE = /^\.volume-.*\.tmp-[0-9a-f]+$/;
const VOLUME_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

export interface FileDriverOptions {
  qemuImg?: QemuImgOptions;
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

  /** Removes the image in any format and any crash leftovers of it; a missing volume is success. */
  async deleteVolume(volumeId: string): Promise<void> {
    this.checkId(volumeId);
    try {
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

  /** Path of a volume's image in a format. */
  pathOf(volumeId: string, format: ImageFormat): string {
    return join(this.pool.directory, `volume-${volumeId}.${format}`);
  }

  private preallocation(format: ImageFormat): 'falloc' | 'off' {
    return format === 'raw' && !this.pool.thinProvisioning ? 'falloc' : 'off';
  }

  private checkId(volumeId: string): void {
    if (!VOLUME_ID_RE.test(volumeId)) {
      throw new DriverError(`volume id ${JSON.stringify(volumeId)} is not usable in a file name (letters, digits, "-", "_")`, {
        retryable: false,
      });
    }
  }

  private async allocatedBytes(): Promise<number> {
    let sum = 0;
    for (const [id, v] of this.index) {
      const st = await fs.stat(this.pathOf(id, v.format)).catch(() => undefined);
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
