/**
 * Service heartbeats into the `flint-services` bucket: every role says it is alive. The
 * first beat is sent before `start…` resolves, so a started service is visible at once.
 */
import type { Logger } from '../config/logger.js';
import { encode } from './envelope.js';
import { KIND, type ServiceHeartbeat } from './messages.js';
import { serviceKey } from './subjects.js';
import type { Bus } from './connection.js';

export interface Heartbeat {
  /** Stops beating (waits for a beat in progress); the last values stay in the bucket. */
  stop(): Promise<void>;
}

export type HeartbeatLog = Pick<Logger, 'warn'>;

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

/**
 * Whether a service heartbeat read under `key` is the one that key may hold: NATS lets only
 * the agent of host H write `agent.H` (src/bus/permissions.ts), so a beat whose payload names
 * another role or host is forged and must be ignored.
 */
export function serviceBeatMatchesKey(key: string, beat: Pick<ServiceHeartbeat, 'role' | 'host'>): boolean {
  return serviceKey(beat.role, beat.host) === key;
}

/** Runs `beat` now (awaited) and then every `intervalSeconds`, never overlapping itself. */
export async function every(intervalSeconds: number, log: HeartbeatLog | undefined, what: string, beat: () => Promise<void>): Promise<Heartbeat> {
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

