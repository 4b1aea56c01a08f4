/**
 * Capacity arithmetic shared by the CapacityFilter, the CapacityWeigher and the
 * reservation the dispatcher makes in the DB. All amounts in GiB.
 */
import type { PlacementRequest } from '../../bus/contract/index.js';
import type { PoolState } from './types.js';

/**
 * Floors after rounding away float noise: `100 * 1.15` is `114.99999999999999`, and
 * Cinder's `floor(total * 0.29)` loses a GiB the same way; a limit must not.
 */
function floorGiB(x: number): number {
  return Math.floor(Math.round(x * 1e6) / 1e6);
}

/** GiB held back from `reservedPercentage` of the total, floored as Cinder does. */
export function reservedGiB(pool: PoolState): number {
  return floorGiB((pool.totalCapacityGiB * pool.reservedPercentage) / 100);
}

/** What counts as provisioned: the driver's view or Flint's reservations, whichever is larger. */
export function provisionedGiB(pool: PoolState): number {
  return Math.max(pool.provisionedCapacityGiB, pool.allocatedCapacityGiB);
}

/**
 * Whether the volume would be thin on this pool: the pool supports thin and the
 * volume type does not ask for `provisioning:type=thick` (Cinder's default is thin).
 */
export function isThin(pool: PoolState, req: PlacementRequest): boolean {
  return pool.thinProvisioningSupport && req.volumeType?.extraSpecs['provisioning:type'] !== 'thick';
}

/**
 * The most Flint may ever allocate on the pool, the bound of the conditional
 * `UPDATE … SET allocated = allocated + size WHERE allocated + size <= limit` that
 * keeps two schedulers from over-allocating.
 * Thin: `floor(total × maxOverSubscriptionRatio) − reserved`; thick: `floor(total − reserved)`.
 */
export function capacityLimitGiB(pool: PoolState, thin: boolean): number {
  const reserved = reservedGiB(pool);
  if (thin) return floorGiB(pool.totalCapacityGiB * pool.maxOverSubscriptionRatio) - reserved;
  return floorGiB(pool.totalCapacityGiB - reserved);
}

/**
 * Free space as the CapacityWeigher ranks it (Cinder's `weights/capacity.py`).
 * Thin: `total × ratio − provisioned − reserved`; thick: `free − reserved`.
 */
export function virtualFreeGiB(pool: PoolState, thin: boolean): number {
  const reserved = reservedGiB(pool);
  if (thin) return pool.totalCapacityGiB * pool.maxOverSubscriptionRatio - provisionedGiB(pool) - reserved;
  return pool.freeCapacityGiB - reserved;
}

/** GiB for a message: at most one decimal, rounded down so "free" is never overstated. */
export function formatGiB(x: number): string {
  return `${Math.floor(Math.round(x * 1e6) / 1e5) / 10} GiB`;
}
