/**
 * Metrics and request tracing: the public face of `src/metrics/`. One Prometheus
 * registry per process (`metricsRegistry`), each role's metrics, the gateway's
 * GraphQL hooks, the command scope that binds a request id to the scheduler's and
 * agents' logs, and the small HTTP server of the roles without a port of their own.
 */
export { metricsRegistry, PUBLISH_BUCKETS } from './registry.js';
export { gatewayMetrics, setPoolSource, poolSourceFrom, countOperation, type PoolCapacity, type PoolSource } from './gateway.js';
export { graphqlObservability, describeOperation, type GraphqlObservability, type ObservedContext } from './graphql.js';
export { schedulerMetrics, agentMetrics, countPlacement, countAgentCommand, AGENT_COMMAND_BUCKETS } from './roles.js';
export { hop, HOPS, type Hop } from './hops.js';
export { inCommandScope, noteEmitted, scopedLogger, type CommandScope } from './command-scope.js';
export { natsCheck, databaseCheck, readinessProbe, type Check, type Readiness } from './readiness.js';
export { startMetricsServer, serveRoleMetrics, sendMetrics, type MetricsServerOptions, type RunningMetricsServer } from './server.js';
export * from './labels.js';
export { loadMetricsToken, metricsTokenProblems, metricsAuthorized, METRICS_TOKEN_MIN_LENGTH, METRICS_UNAUTHORIZED } from './metrics-token.js';
