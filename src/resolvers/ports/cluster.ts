/**
 * What the pool and service queries and subscriptions need from the gateway
 * (src/gateway/queries/cluster.ts implements it); admins only.
 */
import type { PoolStats, ServiceHeartbeat } from '../../bus/index.js';
import type { Principal } from '../../db/index.js';

/** Pool heartbeats with Flint's allocations (`host@pool` → GiB), read together. */
export interface PoolSnapshot {
  stats: PoolStats[];
  allocated: Map<string, number>;
}

export interface ClusterPort {
  /** Pools and services silent for three of these are DOWN. */
  heartbeatSeconds: number;
  /** Every pool now, with its allocations. */
  pools(p: Principal | null): Promise<PoolSnapshot>;
  /** Every service's latest heartbeat now. */
  services(p: Principal | null): Promise<ServiceHeartbeat[]>;
  /** The pools now, then again after every heartbeat (a few times a second at most) and when one goes DOWN. */
  watchPools(p: Principal | null): AsyncIterableIterator<PoolSnapshot>;
  /** The services' heartbeats now, then again on every change and when one goes DOWN. */
  watchServices(p: Principal | null): AsyncIterableIterator<ServiceHeartbeat[]>;
}

/** The shared streams behind `watchPools` and `watchServices` (src/gateway/live/cluster-feed.ts). */
export interface ClusterFeedPort {
  pools(): AsyncIterableIterator<PoolSnapshot>;
  services(): AsyncIterableIterator<ServiceHeartbeat[]>;
}
