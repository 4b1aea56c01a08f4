/**
 * Cinder's weighers (`cinder/scheduler/weights/{capacity,volume_number}.py`) and its
 * weighing: each weigher's raw scores are min-max normalised to 0..1 across the
 * candidates (all equal → 0), multiplied, and summed per pool.
 */
import type { PlacementRequest } from '../../bus/contract/index.js';
import { isThin, virtualFreeGiB } from './capacity.js';
import type { PoolState, PoolWeigher } from './types.js';

/** Prefers the most virtual free space (spreading). @default multiplier 1.0 */
export const CapacityWeigher: PoolWeigher = {
  name: 'CapacityWeigher',
  defaultMultiplier: 1.0,
  weigh: (pool, req) => virtualFreeGiB(pool, isThin(pool, req)),
};

/** Scores the GiB Flint has reserved; the negative default prefers the least allocated pool. @default multiplier -1.0 */
export const AllocatedCapacityWeigher: PoolWeigher = {
  name: 'AllocatedCapacityWeigher',
  defaultMultiplier: -1.0,
  weigh: (pool) => pool.allocatedCapacityGiB,
};

/** Scores the number of volumes; the negative default prefers the emptiest pool. @default multiplier -1.0 */
export const VolumeNumberWeigher: PoolWeigher = {
  name: 'VolumeNumberWeigher',
  defaultMultiplier: -1.0,
  weigh: (pool) => pool.volumeCount,
};

/** Cinder's default weigher is the CapacityWeigher alone. */
export const DEFAULT_WEIGHERS: readonly PoolWeigher[] = Object.freeze([CapacityWeigher]);

/** A weigher with the multiplier to apply; without one, the weigher's default. */
export interface WeigherSetting {
  weigher: PoolWeigher;
  multiplier?: number;
}

/** Min-max to 0..1, like Cinder's `base_weight.normalize`; all equal (or none) gives zeros. */
export function normalize(weights: readonly number[]): number[] {
  if (weights.length === 0) return [];
  const min = Math.min(...weights);
  const max = Math.max(...weights);
  if (min === max) return weights.map(() => 0);
  return weights.map((w) => (w - min) / (max - min));
}

/** The summed weight of each pool, in the order given. */
export function weighPools(pools: readonly PoolState[], req: PlacementRequest, weighers: readonly WeigherSetting[]): number[] {
  const totals = pools.map(() => 0);
  for (const { weigher, multiplier = weigher.defaultMultiplier } of weighers) {
    const normalized = normalize(pools.map((pool) => weigher.weigh(pool, req)));
    normalized.forEach((w, i) => {
      totals[i] = (totals[i] ?? 0) + multiplier * w;
    });
  }
  return totals;
}
