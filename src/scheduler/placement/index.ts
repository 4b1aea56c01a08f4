/**
 * The scheduler's pure placement logic: filters, weighers, capacity arithmetic and
 * the decision itself. No NATS, no DB; the dispatcher wires those around it.
 */
export type { FilterResult, PoolFilter, PoolState, PoolWeigher } from './types.js';
export { boolFromString, matchesSpec } from './extra-specs.js';
export { capacityLimitGiB, formatGiB, isThin, provisionedGiB, reservedGiB, virtualFreeGiB } from './capacity.js';
export { AvailabilityZoneFilter, CapabilitiesFilter, CapacityFilter, DEFAULT_FILTERS, poolCapabilities, SameBackendFilter } from './filters.js';
export {
  AllocatedCapacityWeigher,
  CapacityWeigher,
  DEFAULT_WEIGHERS,
  normalize,
  VolumeNumberWeigher,
  weighPools,
  type WeigherSetting,
} from './weighers.js';
export {
  explainNoValidBackend,
  HEARTBEAT_FILTER,
  isSilent,
  place,
  RETRY_FILTER,
  type Candidate,
  type Placement,
  type PlaceOptions,
  type Rejection,
} from './place.js';
export { BackupRepositoryFilter, reachesRepository, repositoryAdvice, type BackupLocation } from './backup-repository.js';
