/**
 * Cinder's default filters, each one decision about one pool
 * (`cinder/scheduler/filters/{availability_zone,capacity,capabilities}_filter.py`).
 */
import type { PlacementRequest } from '../../bus/contract/index.js';
import { capacityLimitGiB, formatGiB, isThin, provisionedGiB, reservedGiB } from './capacity.js';
import { matchesSpec } from './extra-specs.js';
import { BackupRepositoryFilter } from './backup-repository.js';
import type { FilterResult, PoolFilter, PoolState } from './types.js';

const PASS: FilterResult = { pass: true };
const reject = (reason: string): FilterResult => ({ pass: false, reason });

/** Passes pools in the requested zone; a request without a zone accepts any. */
export const AvailabilityZoneFilter: PoolFilter = {
  name: 'AvailabilityZoneFilter',
  filter(pool, req) {
    const zone = req.availabilityZone;
    if (zone === null || zone === pool.availabilityZone) return PASS;
    return reject(`in zone ${pool.availabilityZone}, not ${zone}`);
  },
};

/**
 * Cinder's capacity check. Free space is `free − floor(total × reserved%)`. A thin
 * volume (see `isThin`) may over-subscribe: `(provisioned + size) / total` must not
 * exceed the ratio, and `free × ratio` must hold the size; a thick one needs the free
 * space itself. Flint adds one check of its own: the reservation in the DB must fit
 * under `capacityLimitGiB`, or the conditional UPDATE would refuse it anyway.
 */
export const CapacityFilter: PoolFilter = {
  name: 'CapacityFilter',
  filter(pool, req) {
    const size = req.sizeGiB;
    const total = pool.totalCapacityGiB;
    if (total <= 0) return reject('reports 0 GiB total capacity; its agent may not see its storage');
    const free = pool.freeCapacityGiB - reservedGiB(pool);
    const freeText = `${formatGiB(Math.max(free, 0))} free${pool.reservedPercentage > 0 ? ` after ${pool.reservedPercentage}% reserved` : ''}`;
    const ratio = pool.maxOverSubscriptionRatio;
    const thin = isThin(pool, req);
    if (thin && ratio < 1) return reject(`reports an invalid over-subscription ratio ${ratio} (must be at least 1)`);
    if (thin) {
      const provisioned = provisionedGiB(pool);
      if ((provisioned + size) / total > ratio) {
        return reject(
          `needs ${size} GiB thin, but ${formatGiB(provisioned)} is already provisioned of the ` +
            `${formatGiB(total * ratio)} allowed (${formatGiB(total)} × over-subscription ${ratio})`,
        );
      }
      if (free * ratio < size) return reject(`needs ${size} GiB thin, ${freeText} (× over-subscription ${ratio})`);
    } else if (free < size) {
      return reject(`needs ${size} GiB, ${freeText}`);
    }
    const limit = capacityLimitGiB(pool, thin);
    if (pool.allocatedCapacityGiB + size > limit) {
      return reject(
        `needs ${size} GiB, but Flint has already reserved ${formatGiB(pool.allocatedCapacityGiB)} ` +
          `of the ${formatGiB(limit)} it may allocate there`,
      );
    }
    return PASS;
  },
};

/** The capabilities every pool has, whatever its driver reports in `capabilities`. */
export function poolCapabilities(pool: PoolState): Record<string, unknown> {
  return {
    ...pool.capabilities,
    thin_provisioning_support: pool.thinProvisioningSupport,
    thick_provisioning_support: pool.thickProvisioningSupport,
    driver: pool.driver,
    image_format: pool.imageFormat,
    pool: pool.pool,
    host: pool.host,
  };
}

function show(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return typeof value === 'string' ? `"${value}"` : String(value);
}

/**
 * The volume type's extra specs against the pool's capabilities, as Cinder does:
 * an unscoped key (`replication`) or a `capabilities:` one (`capabilities:replication`)
 * names a capability that must exist and match (see `matchesSpec`); a key with any
 * other scope (`provisioning:type`, `qos:…`) is for the driver and is ignored.
 */
export const CapabilitiesFilter: PoolFilter = {
  name: 'CapabilitiesFilter',
  filter(pool, req: PlacementRequest) {
    const type = req.volumeType;
    if (type === null) return PASS;
    const capabilities = poolCapabilities(pool);
    for (const [key, spec] of Object.entries(type.extraSpecs)) {
      const scope = key.split(':');
      if (scope.length > 1 && scope[0] !== 'capabilities') continue;
      const path = scope[0] === 'capabilities' ? scope.slice(1) : scope;
      const name = path.join(':');
      // Flint's capabilities are flat, so a nested path (`capabilities:a:b`) is never reported.
      const value = path.length === 1 && Object.hasOwn(capabilities, name) ? capabilities[name] : undefined;
      const wants = `volume type ${type.name} needs ${name} ${show(spec)}`;
      if (value === undefined || value === null) return reject(`${wants}; the pool does not report ${name}`);
      if (!matchesSpec(value, spec)) return reject(`${wants}; the pool has ${show(value)}`);
    }
    return PASS;
  },
};

/**
 * A new volume copied from a snapshot or a volume (`sameBackendAs` set) can only be made
 * by the source's driver, inside its pool: every other pool is refused. A request
 * without `sameBackendAs` accepts any pool. Cinder keeps such copies on the source's
 * backend the same way (its scheduler pins them to the source's host).
 */
export const SameBackendFilter: PoolFilter = {
  name: 'SameBackendFilter',
  filter(pool, req) {
    const want = req.sameBackendAs;
    if (want === undefined) return PASS;
    const id = `${pool.host}@${pool.pool}`;
    if (id === want) return PASS;
    return reject(`the volume is a copy of a snapshot or volume on ${want}, and copies are made within the source's pool, not on ${id}`);
  },
};

/**
 * The source's pool for copies first (the one reason that matters for them), then the
 * backup's repository for restores, then Cinder's default order: zone, capacity, capabilities.
 */
export const DEFAULT_FILTERS: readonly PoolFilter[] = Object.freeze([SameBackendFilter, BackupRepositoryFilter, AvailabilityZoneFilter, CapacityFilter, CapabilitiesFilter]);
