/** The bus: the one contract module every role imports (STYLE.md, "One contract module"). */
export * from './subjects.js';
export * from './envelope.js';
export * from './messages.js';
export * from './attachment-messages.js';
export * from './backup-messages.js';
export * from './connection.js';
export * from './pool-view.js';
export * from './heartbeat.js';
export * from './migration-messages.js';
export * from './manage-messages.js';
export * from './token-revocation.js';
export * from './credentials.js';
export * from './permissions.js';
export * from './nats-provision.js';
