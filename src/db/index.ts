/** The database: entities, ORM setup, and the stores every status change goes through. */
export * from './entities.js';
export * from './orm.js';
export type { Keyset, Page, PageRequest } from './page.js';
export * from './volume-store.js';
export * from './snapshot-store.js';
export * from './attachment-entity.js';
export * from './attachment-store.js';
export * from './backup-store.js';
export * from './operation-store.js';
export * from './message-store.js';
export * as capacity from './capacity-store.js';
export * from './auth-store.js';
export * as migrationCapacity from './migration-capacity.js';
export * from './volume-type-access.js';
export * from './volume-type-store.js';
export * from './token-store.js';
export * from './audit-store.js';
export * from './batch-reads.js';
