/**
 * The bus on NATS: the connection and its topology, durable consumers, the pool view,
 * heartbeats, the token-revocation broadcast, and the credentials and permissions each role
 * connects with.
 */
export * from './connection.js';
export * from './consumer.js';
export * from './ask-again.js';
export * from './request-scope.js';
export * from './pool-view.js';
export * from './heartbeat.js';
export * from './token-revocation.js';
export * from './credentials.js';
export * from './permissions.js';
export * from './provision.js';
