/**
 * The agent (cinder-volume analog): the public face of `src/node-agent/`. Other
 * folders import from here only.
 */
export { startAgent, DEFAULT_AGENT_CONCURRENCY, type AgentOptions, type RunningAgent } from './agent.js';
export { AgentCore, AGENT_COMMANDS, type AgentCommand, type AgentCommandPayloads, type AgentCoreOptions, type Emit } from './agent-core.js';
export {
  startPoolHeartbeat,
  startAgentHeartbeat,
  collectPoolStats,
  type PoolHeartbeatOptions,
  type AgentHeartbeatOptions,
  type AgentPool,
} from './heartbeat.js';
export {
  FileOutcomeStore,
  MemoryOutcomeStore,
  DEFAULT_OUTCOME_RETENTION_MS,
  type OutcomeStore,
  type RecordedMessage,
} from './outcome-store.js';
export { KeyedMutex } from './keyed-mutex.js';
export { MigrationAgent, pastDeadline, exportName, type MigrationAgentOptions } from './migration.js';
export * from './drivers/index.js';
