/**
 * The bus contract: subjects, the envelope, every payload's schema and the one registry of
 * message kinds. Imports only zod and src/domain, so a pure core can depend on it alone.
 */
export * from './subjects.js';
export * from './envelope.js';
export * from './registry.js';
export * from './kinds.js';
export * from './messages.js';
export * from './encryption-messages.js';
export * from './attachment-messages.js';
export * from './backup-messages.js';
export * from './migration-messages.js';
export * from './manage-messages.js';
export * from './token-messages.js';
