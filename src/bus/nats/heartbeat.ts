/**
 * Service heartbeats into the `flint-services` bucket: every role says it is alive. The
 * first beat is sent before `start…` resolves, so a started service is visible at once.
 */
import type { Logger } from '../../config/logger.js';
import type { KV } from '@nats-io/kv';
import { decodeEnvelope, decodePayload, encode, ENVELOPE_VERSION, KIND, serviceHeartbeat, serviceKey, type ServiceHeartbeat } from '../contract/index.js';
import { worthAskingAgain, type Bus } from './connection.js';

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
  /** An agent's backend hosts (`ServiceHeartbeat.backends`); absent or empty: not sent. */
  backends?: readonly string[];
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
      ...(opts.backends && opts.backends.length > 0 ? { backends: [...opts.backends] } : {}),
    };
    await bus.services.put(key, encode(KIND.serviceHeartbeat, beat));
  });
}

/**
 * The service heartbeat stored under `key`, or null when it is not one this build can read or
 * not the one that key may hold: NATS lets only the agent of host H write `agent.H`
 * (src/bus/nats/permissions.ts), so a beat whose payload names another role or host is forged
 * and ignored.
 */
export function readServiceBeat(key: string, value: Uint8Array): ServiceHeartbeat | null {
  try {
    const beat = decodePayload(decodeEnvelope(value), serviceHeartbeat);
    return serviceKey(beat.role, beat.host) === key ? beat : null;
  } catch {
    // A heartbeat from an incompatible build: not a service this gateway can describe.
    return null;
  }
}

/** Every service's latest heartbeat in the bucket now (read, not watched: a beat written a moment ago is in it). */
export async function readServiceBeats(bus: Pick<Bus, 'services'>): Promise<ServiceHeartbeat[]> {
  const kv = bus.services;
  // A key listing can name a key twice when it is written during the listing (a heartbeat).
  const keys = new Set<string>();
  for await (const key of await kv.keys()) keys.add(key);
  const beats: ServiceHeartbeat[] = [];
  for (const key of keys) {
    const e = await kv.get(key);
    const beat = e?.operation === 'PUT' ? readServiceBeat(key, e.value) : null;
    if (beat) beats.push(beat);
  }
  return beats;
}

/** Runs `beat` now (awaited) and then every `intervalSeconds`, never overlapping itself. */
export async function every(intervalSeconds: number, log: HeartbeatLog | undefined, what: string, beat: () => Promise<void>): Promise<Heartbeat> {
  await firstBeat(log, what, beat);
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


/** How long the first beat is asked again while JetStream does not answer yet. @default 60_000 */
export const FIRST_BEAT_PATIENCE_MS = 60_000;

/**
 * The first beat, asked again while JetStream has no answer yet: a bucket just made at
 * replicas 3 has no leader for a moment ("jetstream is not enabled: no responders"), and a
 * role that started then must not die of it. Any other failure (a refused permission) throws.
 */
async function firstBeat(log: HeartbeatLog | undefined, what: string, beat: () => Promise<void>): Promise<void> {
  const until = Date.now() + FIRST_BEAT_PATIENCE_MS;
  for (let told = false; ; ) {
    try {
      return await beat();
    } catch (err) {
      if (!worthAskingAgain(err) || Date.now() > until) throw err;
      if (!told) log?.warn({ err }, `${what}: JetStream does not answer yet; asking again`);
      told = true;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** A service whose last heartbeat speaks another contract than this build. */
export interface PeerContract {
  /** Its KV key, `<role>.<host>`. */
  service: string;
  /** The contract version its heartbeat carries (`v`). */
  version: number;
  heartbeatAt: string;
}

/**
 * Services heard from within `withinMs` whose heartbeats carry an older contract version
 * than this build (they and this build cannot understand each other: upgrade them). Reads
 * every heartbeat once; for a role's start-up message.
 */
export async function peersOfOlderContracts(services: KV, withinMs: number, now = Date.now()): Promise<PeerContract[]> {
  const keys = new Set<string>();
  for await (const k of await services.keys()) keys.add(k);
  const older: PeerContract[] = [];
  for (const key of keys) {
    const e = await services.get(key);
    if (!e || e.operation !== 'PUT') continue;
    try {
      const raw = JSON.parse(new TextDecoder().decode(e.value)) as { v?: unknown; payload?: { heartbeatAt?: unknown } };
      const at = typeof raw.payload?.heartbeatAt === 'string' ? raw.payload.heartbeatAt : '';
      if (typeof raw.v === 'number' && raw.v < ENVELOPE_VERSION && now - Date.parse(at) < withinMs) older.push({ service: key, version: raw.v, heartbeatAt: at });
    } catch {
      // Not a Flint heartbeat: nothing to say about it.
    }
  }
  return older;
}
