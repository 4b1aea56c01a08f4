/** Plain pools and requests for the placement tests; each test overrides what it is about. */
import type { PlacementRequest } from '../../../src/bus/contract/index.js';
import type { PoolState } from '../../../src/scheduler/placement/index.js';

export const NOW = new Date('2025-01-01T12:00:00.000Z');

/** A thick-only 1000 GiB pool, empty, in zone nova, nothing reserved. */
export function pool(overrides: Partial<PoolState> = {}): PoolState {
  return {
    host: 'host1',
    pool: 'fast',
    driver: 'file',
    availabilityZone: 'nova',
    totalCapacityGiB: 1000,
    freeCapacityGiB: 1000,
    provisionedCapacityGiB: 0,
    volumeCount: 0,
    maxOverSubscriptionRatio: 1,
    reservedPercentage: 0,
    thinProvisioningSupport: false,
    thickProvisioningSupport: true,
    imageFormat: 'raw',
    capabilities: {},
    updatedAt: NOW.toISOString(),
    allocatedCapacityGiB: 0,
    ...overrides,
  };
}

/** A thin pool: 100 GiB total, over-subscription 10. */
export function thinPool(overrides: Partial<PoolState> = {}): PoolState {
  return pool({
    totalCapacityGiB: 100,
    freeCapacityGiB: 100,
    maxOverSubscriptionRatio: 10,
    thinProvisioningSupport: true,
    thickProvisioningSupport: false,
    imageFormat: 'qcow2',
    ...overrides,
  });
}

export function request(overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return { volumeId: 'vol-1', projectId: 'proj-1', sizeGiB: 10, availabilityZone: null, volumeType: null, ...overrides };
}

export function typed(extraSpecs: Record<string, string>, overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return request({ volumeType: { name: 'gold', extraSpecs }, ...overrides });
}
