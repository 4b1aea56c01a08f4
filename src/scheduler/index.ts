/** The scheduler: pure placement, its command handling, and the NATS/DB adapter. */
export * from './placement/index.js';
export { SchedulerCore, type SchedulerDeps } from './scheduler-core.js';
export { startScheduler, type RunningRole } from './service.js';
