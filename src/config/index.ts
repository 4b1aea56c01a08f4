export * from './config.js';
export {
  DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO,
  DEFAULT_POOL_TARGET,
  DEFAULT_POOL_TARGETS,
  POOL_TARGET_KINDS,
  backendHostsOf,
  HOST_NAME,
  poolLocation,
  poolTargetsOf,
  type FilePoolConfig,
  type PoolConfig,
  type PoolConfigBase,
  type RbdCluster,
  type RbdPoolConfig,
  type PoolConfigInput,
  type PoolTargetKind,
} from './pool-config.js';
export { WEIGHER_NAMES, type DatabaseConfig } from './setting-parsers.js';
export * from './logger.js';
export * from './version.js';
export * from './secret-key.js';
export * from './private-files.js';
export * from './api-limits.js';
export * from './nats-auth.js';
