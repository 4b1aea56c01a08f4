/**
 * The gateway's metrics: GraphQL requests, their durations and error codes, open
 * subscriptions, operations ended by the recorder, and pool capacity read at scrape
 * time from the gateway's pool view and the database's allocations.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { poolId, type PoolStats } from '../bus/index.js';
import { BoundedLabel, MAX_OPERATION_NAMES } from './labels.js';
import { metricsRegistry, once } from './registry.js';

/** One pool's capacity as the pool gauge shows it (GiB). */
export interface PoolCapacity {
  /** `host@pool` */
  pool: string;
  total: number;
  free: number;
  provisioned: number;
  /** What Flint promised to volumes on the pool; absent when the database did not answer. */
  allocated?: number;
}

/** Where the pool gauge reads pools at scrape time. */
export type PoolSource = () => Promise<PoolCapacity[]>;

let poolSource: PoolSource | undefined;

/** The gateway's metrics, registered in the process registry on first use. */
export const gatewayMetrics = once(() => {
  const registers = [metricsRegistry()];
  return {
    /** Distinct operation names seen, for the `operation` label. */
    operationNames: new BoundedLabel(MAX_OPERATION_NAMES),
    requests: new Counter({
      name: 'flint_graphql_requests_total',
      help: 'GraphQL operations received (HTTP and WebSocket), by operation name and type.',
      labelNames: ['operation', 'type'] as const,
      registers,
    }),
    duration: new Histogram({
      name: 'flint_graphql_request_duration_seconds',
      help: 'Time to answer a GraphQL request over HTTP, by operation name and type.',
      labelNames: ['operation', 'type'] as const,
      registers,
    }),
    errors: new Counter({
      name: 'flint_graphql_errors_total',
      help: 'GraphQL errors sent to clients, by extensions.code.',
      labelNames: ['code'] as const,
      registers,
    }),
    subscriptionsOpen: new Gauge({
      name: 'flint_graphql_subscriptions_open',
      help: 'GraphQL subscriptions currently open on this gateway.',
      registers,
    }),
    operations: new Counter({
      name: 'flint_operations_total',
      help: 'Asynchronous operations ended by the event recorder, by kind and outcome (succeeded|failed).',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
    poolCapacity: new Gauge({
      name: 'flint_pool_capacity_gib',
      help: 'Pool capacity in GiB from the latest heartbeats (total|free|provisioned) and Flint\'s allocations (allocated).',
      labelNames: ['pool', 'kind'] as const,
      registers,
      async collect() {
        this.reset();
        for (const p of poolSource ? await poolSource() : []) {
          this.set({ pool: p.pool, kind: 'total' }, p.total);
          this.set({ pool: p.pool, kind: 'free' }, p.free);
          this.set({ pool: p.pool, kind: 'provisioned' }, p.provisioned);
          if (p.allocated !== undefined) this.set({ pool: p.pool, kind: 'allocated' }, p.allocated);
        }
      },
    }),
  };
});

/**
 * Makes the pool gauge read from `source` (the gateway that starts last in a process
 * wins); returns the function that stops it reading from there.
 */
export function setPoolSource(source: PoolSource): () => void {
  gatewayMetrics();
  poolSource = source;
  return () => {
    if (poolSource === source) poolSource = undefined;
  };
}

/** A pool source from heartbeats and an allocation lookup; allocations that fail are left out, not the pools. */
export function poolSourceFrom(list: () => readonly PoolStats[], allocations: () => Promise<Map<string, number>>): PoolSource {
  return async () => {
    const allocated = await allocations().catch(() => undefined);
    return list().map((s) => {
      const pool = poolId(s.host, s.pool);
      return {
        pool,
        total: s.totalCapacityGiB,
        free: s.freeCapacityGiB,
        provisioned: s.provisionedCapacityGiB,
        ...(allocated ? { allocated: allocated.get(pool) ?? 0 } : {}),
      };
    });
  };
}

/** Counts an asynchronous operation the recorder ended (`kind` as in Operation.kind). */
export function countOperation(kind: string, outcome: 'succeeded' | 'failed'): void {
  gatewayMetrics().operations.inc({ kind, outcome });
}
