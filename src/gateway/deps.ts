/**
 * What the gateway's parts share: configuration, the database, the bus, the live fan-out and
 * the log. Mutations, outcomes and sweepers take it (or a part of it); the composition root
 * (gateway.ts) builds it once.
 */
import type { Bus, PoolStats } from '../bus/index.js';
import type { FlintConfig } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import type { Db } from '../db/index.js';
import type { LiveHub } from './live/hub.js';

export interface GatewayDeps {
  config: FlintConfig;
  db: Db;
  bus: Bus;
  live: LivePublisher;
  log: Logger;
}

/** What the gateway's parts announce on (LiveHub, live/hub.ts): the rows changed, after their commit. */
export type LivePublisher = Pick<LiveHub, 'publish' | 'publishSnapshot' | 'publishMove' | 'publishOperation' | 'publishAttachment' | 'publishMessage'>;

/** The pools' latest heartbeats, as this gateway sees them (src/bus PoolView). */
export interface PoolList {
  list(): PoolStats[];
}
