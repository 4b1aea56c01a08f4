/** The scheduler: pure placement, its command handling, and the NATS/DB adapter. */
export * from './placement/index.js';
export { SchedulerCore, type SchedulerDeps } from './scheduler-core.js';
export { startScheduler, type RunningRole } from './service.js';
export {
  checkMigrationTarget,
  decideRetype,
  MIGRATION_FILTERS,
  ProvisioningFilter,
  type MigrationPolicy,
  type PoolRef,
  type RetypeDecision,
  type TargetCheck,
} from './migration-decision.js';
