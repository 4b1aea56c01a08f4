/** Pure domain logic: errors, the volume state machine, input checks. */
export * from './errors.js';
export * from './volume-states.js';
export * from './volume-input.js';
export * from './access.js';
export * from './snapshot-states.js';
export * from './backup-states.js';
export * from './extra-specs-rules.js';
export * from './manage-rules.js';
export * from './token-rules.js';
export * from './text-hygiene.js';
export * from './operations.js';
export * from './liveness.js';
export * from './encryption.js';
export * from './export-host.js';
