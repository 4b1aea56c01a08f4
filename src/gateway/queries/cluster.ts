/**
 * Pools and services for admins: now (`pools`, `services`) and as they change
 * (`poolsChanged`, `servicesChanged`, from the shared streams of ../live/cluster-feed.ts).
 */
import { readServiceBeats, type Bus, type PoolView, type ServiceHeartbeat } from '../../bus/index.js';
import { capacity, type Db, type Principal } from '../../db/index.js';
import { requireAdmin } from '../../domain/index.js';
import type { ClusterFeedPort, ClusterPort, PoolSnapshot } from '../../resolvers/ports/index.js';

export interface ClusterQueriesDeps {
  db: Db;
  bus: Pick<Bus, 'services'>;
  pools: Pick<PoolView, 'list'>;
  feed: ClusterFeedPort;
  heartbeatSeconds: number;
}

export class ClusterQueries implements ClusterPort {
  readonly heartbeatSeconds: number;

  constructor(private readonly deps: ClusterQueriesDeps) {
    this.heartbeatSeconds = deps.heartbeatSeconds;
  }

  async pools(p: Principal | null): Promise<PoolSnapshot> {
    requireAdmin(p, 'Listing pools');
    return { stats: this.deps.pools.list(), allocated: await capacity.allocations(this.deps.db.fork()) };
  }

  async services(p: Principal | null): Promise<ServiceHeartbeat[]> {
    requireAdmin(p, 'Listing services');
    return readServiceBeats(this.deps.bus);
  }

  watchPools(p: Principal | null): AsyncIterableIterator<PoolSnapshot> {
    requireAdmin(p, 'Watching pools');
    return this.deps.feed.pools();
  }

  watchServices(p: Principal | null): AsyncIterableIterator<ServiceHeartbeat[]> {
    requireAdmin(p, 'Watching services');
    return this.deps.feed.services();
  }
}
