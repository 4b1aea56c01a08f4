/**
 * The `rbd` driver's capacity (see `RbdDriver.stats` and docs/design/rbd-driver.md): what the
 * pool's images provision and use (`rbd du`), and the pool's total and free space: `ceph df`
 * where a ceph-mgr runs, else the OSDs' own sizes (`ceph osd metadata`, answered by the monitors),
 * capped by the pool's `capacityGiB`.
 */
import type { RbdPoolConfig } from '../../config/index.js';
import { GiB, type PoolCapacity } from './driver.js';
import { asDriverError, floor2, round2 } from './file-util.js';
import { rbdJson, runCeph, VOLUME_IMAGE_RE, type RbdDuEntry } from './rbd-cli.js';

/** `ceph df` (capacity) gives up after this: stats run on every heartbeat. @default 5_000 */
export const CEPH_DF_TIMEOUT_MS = 5_000;

/** How long after `ceph df` gave nothing it is tried again. @default 300_000 */
export const CEPH_DF_RETRY_MS = 300_000;

/** How long the OSDs' total is kept: they change when OSDs are added, not between heartbeats. @default 300_000 */
export const OSD_TOTAL_TTL_MS = 300_000;

/**
 * Where one pool's total and free space come from: `ceph df` until it gives nothing, then the
 * OSDs for a while (their total read again every OSD_TOTAL_TTL_MS: each `ceph` call is a Python
 * process of a few hundred ms of CPU, and stats run on every heartbeat).
 */
export class CapacitySource {
  private noCephDfUntil = 0;
  private osdTotal: { at: number; total: number } | undefined;

  /** The pool's total and free bytes; undefined when the cluster cannot tell. */
  async read(pool: RbdPoolConfig, usedByPool: () => Promise<number>): Promise<{ total: number; free: number } | undefined> {
    if (Date.now() >= this.noCephDfUntil) {
      const df = await cephDf(pool);
      if (df) return df;
      // Without a mgr `ceph df` reads zeros or hangs until its timeout: ask again only now and then.
      this.noCephDfUntil = Date.now() + CEPH_DF_RETRY_MS;
    }
    const now = Date.now();
    if (this.osdTotal === undefined || now - this.osdTotal.at >= OSD_TOTAL_TTL_MS) {
      const total = await osdTotal(pool);
      this.osdTotal = total === undefined ? undefined : { at: now, total };
    }
    if (this.osdTotal === undefined) return undefined;
    const { total } = this.osdTotal;
    return { total, free: Math.max(0, total - (await usedByPool())) };
  }
}

/** See `RbdDriver.stats`: `rbd du` of the pool and the cluster's space (`source`), capped by the pool's `capacityGiB`. */
export async function readStats(pool: RbdPoolConfig, source: CapacitySource): Promise<PoolCapacity> {
  const duRead = rbdJson<{ images: RbdDuEntry[]; total_used_size?: number }>(pool, ['du', '-p', pool.rbdPool], { images: [] }).catch((err: unknown) => {
    throw asDriverError(err, `pool ${pool.name}: cannot read the usage of Ceph pool ${pool.rbdPool}`);
  });
  const usedOf = (images: RbdDuEntry[]) => images.reduce((n, e) => n + e.used_size, 0);
  const [du, df] = await Promise.all([duRead, source.read(pool, async () => usedOf((await duRead).images))]);
  let provisioned = 0;
  let volumeCount = 0;
  const used = usedOf(du.images);
  for (const e of du.images) {
    if (e.snapshot === undefined && VOLUME_IMAGE_RE.test(e.name)) {
      provisioned += e.provisioned_size;
      volumeCount++;
    }
  }
  let total = df ? df.total : 0;
  let free = df ? df.free : 0;
  if (pool.capacityGiB !== undefined) {
    const cap = pool.capacityGiB * GiB;
    total = df ? Math.min(total, cap) : cap;
    free = Math.max(0, Math.min(df ? free : cap, cap - used));
  }
  return { totalCapacityGiB: floor2(total / GiB), freeCapacityGiB: floor2(free / GiB), provisionedCapacityGiB: round2(provisioned / GiB), volumeCount };
}

/**
 * The pool's share of the OSDs' raw space when `ceph df` cannot tell (no ceph-mgr): the block
 * sizes of the OSDs up and in (`ceph osd metadata`) over the pool's replica count (`ceph osd
 * dump`). Free is that less what this pool's images use (other pools' use is not seen). Both
 * are answered by the monitors, with the caps of `profile rbd`.
 */
async function osdTotal(pool: RbdPoolConfig): Promise<number | undefined> {
  try {
    const [dump, meta] = await Promise.all([
      runCeph(pool, 'ceph', ['osd', 'dump', '--format', 'json'], CEPH_DF_TIMEOUT_MS),
      runCeph(pool, 'ceph', ['osd', 'metadata', '--format', 'json'], CEPH_DF_TIMEOUT_MS),
    ]);
    const osdMap = JSON.parse(dump) as { osds: { osd: number; up: number; in: number }[]; pools: { pool_name: string; size: number }[] };
    const live = new Set(osdMap.osds.filter((o) => o.up === 1 && o.in === 1).map((o) => o.osd));
    const raw = (JSON.parse(meta) as { id: number; bluestore_bdev_size?: string }[]).filter((m) => live.has(m.id)).reduce((n, m) => n + Number(m.bluestore_bdev_size ?? 0), 0);
    if (raw <= 0) return undefined;
    return raw / Math.max(1, osdMap.pools.find((x) => x.pool_name === pool.rbdPool)?.size ?? 1);
  } catch {
    return undefined;
  }
}

/** The pool's total and free bytes by `ceph df`; undefined when it cannot tell (no mgr: zeros; or no answer in time). */
async function cephDf(pool: RbdPoolConfig): Promise<{ total: number; free: number } | undefined> {
  try {
    const out = JSON.parse(await runCeph(pool, 'ceph', ['df', '--format', 'json'], CEPH_DF_TIMEOUT_MS)) as {
      pools?: { name: string; stats: { stored?: number; bytes_used?: number; max_avail?: number } }[];
    };
    const p = out.pools?.find((x) => x.name === pool.rbdPool);
    const free = p?.stats.max_avail ?? 0;
    if (!p || free <= 0) return undefined;
    return { total: (p.stats.stored ?? p.stats.bytes_used ?? 0) + free, free };
  } catch {
    return undefined;
  }
}
