/**
 * The scheduler's pure decisions for moving a volume: whether an admin's chosen pool can
 * take it (`migrateVolume`), and what a retype does (`retypeVolume`): in place when the
 * current pool satisfies the new type, else a migration to the best pool that does (when
 * the policy allows), else a refusal that says which filter refused.
 */
import { poolId, type PlacementRequest } from '../bus/contract/index.js';
import { capacityLimitGiB, isThin } from './placement/capacity.js';
import { AvailabilityZoneFilter, CapabilitiesFilter, CapacityFilter } from './placement/filters.js';
import { explainNoValidBackend, HEARTBEAT_FILTER, isSilent, place, type Rejection } from './placement/place.js';
import type { FilterResult, PoolFilter, PoolState } from './placement/types.js';
import type { WeigherSetting } from './placement/weighers.js';

export interface PoolRef {
  host: string;
  pool: string;
}

/** Filters a migration's destination must pass (no SameBackendFilter: moving is the point). */
export const MIGRATION_FILTERS: readonly PoolFilter[] = Object.freeze([AvailabilityZoneFilter, CapacityFilter, CapabilitiesFilter]);

/**
 * Cinder's `provisioning:type` against what the pool supports: a thick type needs a pool
 * that can make thick volumes, a thin type one that can make thin ones.
 */
export const ProvisioningFilter: PoolFilter = {
  name: 'ProvisioningFilter',
  filter(pool, req): FilterResult {
    const wanted = req.volumeType?.extraSpecs['provisioning:type'];
    if (wanted === 'thick' && !pool.thickProvisioningSupport) return { pass: false, reason: `volume type ${req.volumeType!.name} is thick, and the pool only makes thin volumes` };
    if (wanted === 'thin' && !pool.thinProvisioningSupport) return { pass: false, reason: `volume type ${req.volumeType!.name} is thin, and the pool only makes thick volumes` };
    return { pass: true };
  },
};

export type TargetCheck =
  | { ok: true; pool: PoolState; limitGiB: number }
  | { ok: false; code: 'BAD_USER_INPUT' | 'NO_VALID_BACKEND'; message: string };

/**
 * Whether `target` can take the volume of `req` now on `current`: it must differ, exist,
 * report heartbeats, and (unless `force`) pass the zone, capacity and capabilities filters.
 */
export function checkMigrationTarget(
  req: PlacementRequest,
  current: PoolRef,
  target: PoolRef,
  pools: readonly PoolState[],
  opts: { staleBefore: Date; force: boolean },
): TargetCheck {
  const id = poolId(target.host, target.pool);
  if (target.host === current.host && target.pool === current.pool) {
    return { ok: false, code: 'BAD_USER_INPUT', message: `volume ${req.volumeId} is already on ${id}; choose another pool (see \`flint pool list\`)` };
  }
  const pool = pools.find((p) => p.host === target.host && p.pool === target.pool);
  if (!pool) {
    const known = pools.map((p) => poolId(p.host, p.pool)).sort().join(', ') || 'none';
    return { ok: false, code: 'BAD_USER_INPUT', message: `pool ${id} does not exist (known pools: ${known}); see \`flint pool list\`` };
  }
  if (isSilent(pool, opts.staleBefore)) {
    return {
      ok: false,
      code: 'NO_VALID_BACKEND',
      message: `Pool ${id} is DOWN (${HEARTBEAT_FILTER}: no heartbeat since ${pool.updatedAt}); start \`flint agent\` on ${pool.host} and migrate again, or choose another pool.`,
    };
  }
  if (!opts.force) {
    const { rejections } = place(req, [pool], { filters: MIGRATION_FILTERS });
    const r = rejections[0];
    if (r) {
      return {
        ok: false,
        code: 'NO_VALID_BACKEND',
        message: `Pool ${id} cannot take volume ${req.volumeId}: rejected by ${r.filter} (${r.reason}). Choose another pool, or pass force: true to skip the filters (capacity is still reserved within the pool's limit).`,
      };
    }
  }
  return { ok: true, pool, limitGiB: capacityLimitGiB(pool, isThin(pool, req)) };
}

export type MigrationPolicy = 'never' | 'on_demand';

export type RetypeDecision =
  | { kind: 'in_place' }
  | { kind: 'migrate'; pool: PoolState; limitGiB: number; candidates: PoolState[] }
  | { kind: 'refuse'; code: 'NO_VALID_BACKEND' | 'INVALID_STATE' | 'SERVICE_UNAVAILABLE'; message: string };

/**
 * The retype decision. `req` carries the new type and the volume's size and zone; the
 * volume's own GiB are taken off its pool's allocation before the in-place check, so
 * it is not counted twice. A migration goes to the best other pool (filters, then weighers).
 */
export function decideRetype(
  req: PlacementRequest,
  current: PoolRef,
  pools: readonly PoolState[],
  opts: { staleBefore: Date; policy: MigrationPolicy; snapshotCount: number; weighers?: readonly WeigherSetting[] },
): RetypeDecision {
  const type = req.volumeType?.name ?? 'none';
  const here = pools.find((p) => p.host === current.host && p.pool === current.pool);
  const currentId = poolId(current.host, current.pool);
  if (!here || isSilent(here, opts.staleBefore)) {
    return {
      kind: 'refuse',
      code: 'SERVICE_UNAVAILABLE',
      message: `The volume's pool ${currentId} is not reporting, so whether it satisfies type ${type} cannot be checked; start \`flint agent\` on ${current.host} and retype again. The volume is unchanged.`,
    };
  }
  const mine: PoolState = {
    ...here,
    allocatedCapacityGiB: Math.max(0, here.allocatedCapacityGiB - req.sizeGiB),
    provisionedCapacityGiB: Math.max(0, here.provisionedCapacityGiB - req.sizeGiB),
    freeCapacityGiB: here.freeCapacityGiB,
  };
  const inPlace = firstRefusal(mine, req, [AvailabilityZoneFilter, ProvisioningFilter, CapabilitiesFilter, CapacityFilter]);
  if (!inPlace) return { kind: 'in_place' };
  const whyNotHere = `its pool ${currentId} does not satisfy type ${type}: rejected by ${inPlace.filter} (${inPlace.reason})`;
  const others = pools.filter((p) => !(p.host === current.host && p.pool === current.pool));
  const placement = place(req, others, { filters: [...MIGRATION_FILTERS.slice(0, 1), ProvisioningFilter, ...MIGRATION_FILTERS.slice(1)], staleBefore: opts.staleBefore, weighers: opts.weighers });
  const best = placement.candidates[0]?.pool;
  if (opts.policy === 'never') {
    const alt = best
      ? ` With migrationPolicy ON_DEMAND, Flint would migrate it to ${poolId(best.host, best.pool)}.`
      : ' No other pool satisfies it either, so ON_DEMAND would not help; ask an admin for a pool with the capabilities.';
    return { kind: 'refuse', code: 'NO_VALID_BACKEND', message: `Volume ${req.volumeId} cannot be retyped to ${type} in place: ${whyNotHere}, and migrationPolicy is NEVER.${alt} The volume is unchanged.` };
  }
  if (!best) {
    const others = explainNoValidBackend(req, placement.rejections).replace(/^No pool can hold/, 'and no other pool can hold');
    return { kind: 'refuse', code: 'NO_VALID_BACKEND', message: `Volume ${req.volumeId} cannot be retyped to ${type}: ${whyNotHere}, ${others} The volume is unchanged.` };
  }
  if (opts.snapshotCount > 0) {
    return {
      kind: 'refuse',
      code: 'INVALID_STATE',
      message:
        `Volume ${req.volumeId} cannot be retyped to ${type}: ${whyNotHere}, so it would have to migrate to ${poolId(best.host, best.pool)}, ` +
        `and a volume with snapshots (it has ${opts.snapshotCount}) cannot migrate. Delete its snapshots, or create a new volume of type ${type} from one of them. The volume is unchanged.`,
    };
  }
  return { kind: 'migrate', pool: best, limitGiB: capacityLimitGiB(best, isThin(best, req)), candidates: placement.candidates.map((c) => c.pool) };
}

function firstRefusal(pool: PoolState, req: PlacementRequest, filters: readonly PoolFilter[]): Rejection | undefined {
  for (const f of filters) {
    const r = f.filter(pool, req);
    if (!r.pass) return { pool: poolId(pool.host, pool.pool), filter: f.name, reason: r.reason ?? 'rejected' };
  }
  return undefined;
}
