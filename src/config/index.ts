export * from './config.js';
export * from './logger.js';
export * from './version.js';
export * from './secret-key.js';
export * from './private-files.js';
export * from './api-limits.js';
export * from './nats-auth.js';
