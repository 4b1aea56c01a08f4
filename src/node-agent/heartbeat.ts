/**
 * The agent's heartbeats: each pool's capacity and capabilities (`flint-pools`), which
 * is the scheduler's whole view of the cluster, plus its service heartbeat
 * (src/bus/nats/heartbeat.ts). The first beat is sent before `start…` resolves.
 */
import { poolTargetsOf, type PoolConfig } from '../config/index.js';
import { encode, every, KIND, poolKey, startServiceHeartbeat, type Bus, type Heartbeat, type HeartbeatLog, type PoolStats } from '../bus/index.js';
import type { VolumeDriver } from './drivers/index.js';

/** A pool with its driver, as the agent runs it. */
export interface AgentPool {
  config: PoolConfig;
  driver: VolumeDriver;
}

export interface PoolHeartbeatOptions {
  host: string;
  zone: string;
  intervalSeconds: number;
  pools: readonly AgentPool[];
  log?: HeartbeatLog;
  /** The backup repository this agent reaches, advertised with every pool (see `PoolStats.backupRepositoryId`). */
  backupRepository?: { spec: string; id: string | null };
}

/** The stats record of one pool: the driver's capacity and capabilities plus the pool's configuration. */
export async function collectPoolStats(host: string, zone: string, pool: AgentPool, backup?: { spec: string; id: string | null }): Promise<PoolStats> {
  const capacity = await pool.driver.stats();
  const caps = pool.driver.capabilities();
  return {
    host,
    pool: pool.config.name,
    driver: pool.driver.name,
    availabilityZone: zone,
    totalCapacityGiB: capacity.totalCapacityGiB,
    freeCapacityGiB: capacity.freeCapacityGiB,
    provisionedCapacityGiB: capacity.provisionedCapacityGiB,
    volumeCount: capacity.volumeCount,
    maxOverSubscriptionRatio: pool.config.maxOverSubscriptionRatio,
    reservedPercentage: pool.config.reservedPercentage,
    thinProvisioningSupport: caps.thinProvisioningSupport,
    thickProvisioningSupport: caps.thickProvisioningSupport,
    imageFormat: pool.config.imageFormat,
    targets: [...poolTargetsOf(pool.config).targets],
    defaultTarget: poolTargetsOf(pool.config).defaultTarget,
    capabilities: caps.extra,
    updatedAt: new Date().toISOString(),
    ...(backup ? { backupRepository: backup.spec } : {}),
    ...(backup?.id ? { backupRepositoryId: backup.id } : {}),
  };
}

/**
 * Puts every pool's `PoolStats` under `poolKey(host, pool)` now and every
 * `intervalSeconds`. A pool whose stats cannot be read is skipped (and logged): its
 * entry then goes stale and the scheduler stops placing volumes there.
 * @throws when the first beat cannot be written at all.
 */
export function startPoolHeartbeat(bus: Pick<Bus, 'pools'>, opts: PoolHeartbeatOptions): Promise<Heartbeat> {
  return every(opts.intervalSeconds, opts.log, 'pool heartbeat', async () => {
    const results = await Promise.allSettled(
      opts.pools.map(async (pool) => {
        const stats = await collectPoolStats(opts.host, opts.zone, pool, opts.backupRepository);
        await bus.pools.put(poolKey(opts.host, pool.config.name), encode(KIND.poolStats, stats));
      }),
    );
    results.forEach((r, i) => {
      if (r.status === 'rejected') opts.log?.warn({ err: r.reason, pool: opts.pools[i]!.config.name }, 'pool stats not published');
    });
    if (results.length > 0 && results.every((r) => r.status === 'rejected')) {
      throw (results[0] as PromiseRejectedResult).reason;
    }
  });
}

export interface AgentHeartbeatOptions extends PoolHeartbeatOptions {
  version: string;
  /** Backend hosts this agent serves besides its own (`ServiceHeartbeat.backends`). */
  backends?: readonly string[];
}

/** An agent's heartbeats: its pools' stats and its own `agent` service heartbeat, on one interval. */
export async function startAgentHeartbeat(bus: Pick<Bus, 'pools' | 'services'>, opts: AgentHeartbeatOptions): Promise<Heartbeat> {
  const pools = await startPoolHeartbeat(bus, opts);
  let service: Heartbeat;
  try {
    service = await startServiceHeartbeat(bus, { role: 'agent', host: opts.host, zone: opts.zone, intervalSeconds: opts.intervalSeconds, version: opts.version, log: opts.log, ...(opts.backends ? { backends: opts.backends } : {}) });
  } catch (err) {
    await pools.stop();
    throw err;
  }
  return { stop: async () => void (await Promise.all([pools.stop(), service.stop()])) };
}
