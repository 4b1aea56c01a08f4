/**
 * Heartbeats into the KV buckets: every service says it is alive (`flint-services`),
 * and an agent also publishes each pool's capacity and capabilities (`flint-pools`),
 * which is the scheduler's whole view of the cluster. The first beat is sent before
 * `start…` resolves, so a started service is visible at once.
 */
import type { Logger, PoolConfig } from '../config/index.js';
import { encode, KIND, poolKey, serviceKey, type Bus, type PoolStats, type ServiceHeartbeat } from '../bus/index.js';
import type { VolumeDriver } from './drivers/index.js';

export interface Heartbeat {
  /** Stops beating (waits for a beat in progress); the last values stay in the bucket. */
  stop(): Promise<void>;
}

type HeartbeatLog = Pick<Logger, 'warn'>;

export interface ServiceHeartbeatOptions {
  role: ServiceHeartbeat['role'];
  host: string;
  /** Availability zone. */
  zone: string;
  intervalSeconds: number;
  /** Build version, shown by the services query. */
  version: string;
  /** Where failed beats are reported (they are retried at the next tick). */
  log?: HeartbeatLog;
}

/**
 * Puts a `ServiceHeartbeat` under `serviceKey(role, host)` now and every
 * `intervalSeconds`. Used by the gateway, the scheduler and the agent.
 * @throws when the first beat cannot be written.
 */
export function startServiceHeartbeat(bus: Pick<Bus, 'services'>, opts: ServiceHeartbeatOptions): Promise<Heartbeat> {
  const startedAt = new Date().toISOString();
  const key = serviceKey(opts.role, opts.host);
  return every(opts.intervalSeconds, opts.log, 'service heartbeat', async () => {
    const beat: ServiceHeartbeat = {
      host: opts.host,
      role: opts.role,
      availabilityZone: opts.zone,
      version: opts.version,
      startedAt,
      heartbeatAt: new Date().toISOString(),
      intervalSeconds: opts.intervalSeconds,
    };
    await bus.services.put(key, encode(KIND.serviceHeartbeat, beat));
  });
}

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
}

/** The stats record of one pool: the driver's capacity and capabilities plus the pool's configuration. */
export async function collectPoolStats(host: string, zone: string, pool: AgentPool): Promise<PoolStats> {
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
    capabilities: caps.extra,
    updatedAt: new Date().toISOString(),
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
        const stats = await collectPoolStats(opts.host, opts.zone, pool);
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

/** Runs `beat` now (awaited) and then every `intervalSeconds`, never overlapping itself. */
async function every(intervalSeconds: number, log: HeartbeatLog | undefined, what: string, beat: () => Promise<void>): Promise<Heartbeat> {
  await beat();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const schedule = (): void => {
    timer = setTimeout(() => {
      running = beat()
        .catch((err: unknown) => log?.warn({ err }, `${what} failed; retrying at the next beat`))
        .finally(() => {
          if (!stopped) schedule();
        });
    }, intervalSeconds * 1000);
    timer.unref();
  };
  schedule();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

export interface AgentHeartbeatOptions extends PoolHeartbeatOptions {
  version: string;
}

/** An agent's heartbeats: its pools' stats and its own `agent` service heartbeat, on one interval. */
export async function startAgentHeartbeat(bus: Pick<Bus, 'pools' | 'services'>, opts: AgentHeartbeatOptions): Promise<Heartbeat> {
  const pools = await startPoolHeartbeat(bus, opts);
  let service: Heartbeat;
  try {
    service = await startServiceHeartbeat(bus, { role: 'agent', host: opts.host, zone: opts.zone, intervalSeconds: opts.intervalSeconds, version: opts.version, log: opts.log });
  } catch (err) {
    await pools.stop();
    throw err;
  }
  return { stop: async () => void (await Promise.all([pools.stop(), service.stop()])) };
}
