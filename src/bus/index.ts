/**
 * The bus: its contract (contract/: subjects, envelope, payload schemas, the registry of
 * message kinds; imports no runtime) and its NATS runtime (nats/). Every role imports it here.
 */
export * from './contract/index.js';
export * from './nats/index.js';
