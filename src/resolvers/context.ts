/** What every resolver receives: who is asking, and the services that do the work. */
import type { Bus, LiveVolume, PoolStats } from '../bus/index.js';
import type { Db, Principal } from '../db/index.js';
import type { VolumeServiceApi } from './services.js';

export interface LiveApi {
  listen(accept: (ev: LiveVolume) => boolean, opts?: { first?: LiveVolume; until?: (ev: LiveVolume) => boolean }): AsyncIterableIterator<LiveVolume>;
}

export interface Services {
  volumes: VolumeServiceApi;
  db: Db;
  bus: Bus;
  /** Live volume events (src/gateway/live.ts). */
  live: LiveApi;
  /** Latest heartbeat of every pool. */
  pools: { list(): PoolStats[] };
  /** Pools and services silent for three heartbeats are DOWN. */
  heartbeatSeconds: number;
}

export interface Context {
  principal: Principal | null;
  requestId: string;
  services: Services;
}
