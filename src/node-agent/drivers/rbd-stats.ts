/**
 * The `rbd` driver's capacity (see `RbdDriver.stats` and docs/design/rbd-driver.md): what the
 * pool's images provision and use (`rbd du`), and the pool's total and free space (`ceph df`,
 * which needs a ceph-mgr; without one the pool's `capacityGiB`).
 */
import type { RbdPoolConfig } from '../../config/index.js';
import { GiB, type PoolCapacity } from './driver.js';
import { asDriverError, floor2, round2 } from './file-util.js';
import { rbdJson, runCeph, VOLUME_IMAGE_RE, type RbdDuEntry } from './rbd-cli.js';

/** `ceph df` (capacity) gives up after this: stats run on every heartbeat. @default 5_000 */
export const CEPH_DF_TIMEOUT_MS = 5_000;

/** See `RbdDriver.stats`: `rbd du` of the pool and `ceph df`, with the pool's `capacityGiB` when the cluster cannot tell. */
export async function readStats(pool: RbdPoolConfig): Promise<PoolCapacity> {
  const [du, df] = await Promise.all([
    rbdJson<{ images: RbdDuEntry[]; total_used_size?: number }>(pool, ['du', '-p', pool.rbdPool], { images: [] }).catch((err: unknown) => {
      throw asDriverError(err, `pool ${pool.name}: cannot read the usage of Ceph pool ${pool.rbdPool}`);
    }),
    cephDf(pool),
  ]);
  let provisioned = 0;
  let volumeCount = 0;
  let used = 0;
  for (const e of du.images) {
    used += e.used_size;
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
