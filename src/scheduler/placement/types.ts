/**
 * Shapes of the scheduler's pure decision: what it knows of a pool, and the
 * plug-in contracts of filters and weighers (Cinder's `BaseBackendFilter` and
 * `BaseHostWeigher`, as plain objects).
 */
import type { PlacementRequest, PoolStats } from '../../bus/contract/index.js';

/** A pool as the scheduler sees it: the agent's last heartbeat plus Flint's own bookkeeping. */
export interface PoolState extends PoolStats {
  /** GiB Flint has reserved on this pool in its DB (Cinder's `allocated_capacity_gb`). */
  allocatedCapacityGiB: number;
}

export interface FilterResult {
  pass: boolean;
  /** Why the pool was rejected, worded for a user: "needs 50 GiB, 12.3 GiB free after 10% reserved". */
  reason?: string;
}

/** One yes/no decision about one pool; never throws, never does I/O. */
export interface PoolFilter {
  name: string;
  filter(pool: PoolState, req: PlacementRequest): FilterResult;
}

/**
 * Scores one pool; higher wins. Raw scores are normalised to 0..1 across the
 * candidates before the multiplier applies, so weighers of different units add up.
 */
export interface PoolWeigher {
  name: string;
  /** Multiplier when none is configured; negative means prefer the smallest raw score. */
  defaultMultiplier: number;
  weigh(pool: PoolState, req: PlacementRequest): number;
}
