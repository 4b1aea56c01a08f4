/**
 * The NATS side of every role: connect (with the role's own credentials and private inbox,
 * src/bus/nats/credentials.ts), make sure the streams and buckets exist, publish commands and
 * events. Durable pull consumers are in consumer.ts.
 *
 * Who makes the topology: gateways create the streams and buckets (idempotently: any number
 * may start at once); schedulers and agents are not allowed to (src/bus/nats/permissions.ts), so
 * they only bind to them, and one that starts first says it waits and retries until a
 * gateway has made them. Each consumer creates its own durable (consumer.ts), through the
 * JetStream API subject that names its filter, so NATS can hold an agent to its host's commands.
 */
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import {
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { encode, inboxPrefix, KV_POOLS, KV_SERVICES, STREAM_CMD, STREAM_EVT, subjects, type BusRole, type EnvelopeMeta } from '../contract/index.js';
import { currentRequestId } from './request-scope.js';

/** How long JetStream remembers a message id to drop a duplicate publish. @default 120_000 */
export const DUPLICATE_WINDOW_MS = 120_000;
/** Events are kept for replay and debugging. @default 7 days */
export const EVENTS_MAX_AGE_MS = 7 * 24 * 3600_000;
/** Pool heartbeats older than this vanish from the bucket (staleness is judged earlier, from `updatedAt`). */
export const POOLS_TTL_MS = 3600_000;
/** Service heartbeats are kept a day so a dead service shows as DOWN rather than vanishing. */
export const SERVICES_TTL_MS = 24 * 3600_000;

/** Nanoseconds per millisecond: JetStream's durations are in nanoseconds. */
export const NS = 1_000_000;

export interface Bus {
  readonly nc: NatsConnection;
  /** This connection's reply-inbox prefix (nats.js `inboxPrefix`). */
  readonly inboxPrefix: string;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly pools: KV;
  readonly services: KV;
  close(): Promise<void>;
}

/** Between two looks for the topology while a gateway has not made it yet. @default 1_000 */
export const TOPOLOGY_RETRY_MS = 1_000;

export interface ConnectBusOptions {
  /**
   * The role this connection serves: a `gateway` creates the streams and buckets; a
   * `scheduler` or an `agent` waits for them. `all` (one connection for every role, as tests
   * that run the roles in one process use) creates them. @default 'all'
   */
  role?: BusRole | 'all';
  /** The agent's host (its private inbox prefix). */
  host?: string;
  /** Authentication and TLS (src/bus/nats/credentials.ts); absent: none (an unauthenticated server). */
  auth?: Pick<ConnectionOptions, 'authenticator' | 'tls'>;
  /** Told once when the topology is not there yet (and the connection waits for a gateway to make it). */
  onWaiting?: (what: string) => void;
  /** Ends the wait for the topology (the role is stopping). */
  signal?: AbortSignal;
  /**
   * Replicas of the streams and buckets a gateway makes, and of existing streams (raised or
   * lowered to match). 3 on a 3-node cluster. @default 1
   */
  replicas?: number;
}

/**
 * Connects (retrying for ever on later disconnects) and ensures the topology (`role`
 * gateway or all) or waits for it (scheduler, agent). The first connection attempt is not
 * retried: a server that refuses the credentials fails the start (`NatsAuthError`).
 */
export async function connectBus(url: string, name: string, opts: ConnectBusOptions = {}): Promise<Bus> {
  const role = opts.role ?? 'all';
  const prefix = role === 'all' ? '_INBOX' : inboxPrefix(role, opts.host);
  const nc = await connect({
    servers: url.split(','),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: false,
    inboxPrefix: prefix,
    // nats.js otherwise makes an Error (a stack captured) for every request and its timeout, a
    // JetStream publish included, to show the caller's stack should it fail: 2% of a gateway's
    // CPU at 32 creating clients. A failure is the same error, with nats.js's stack.
    noAsyncTraces: true,
    ...opts.auth,
  });
  try {
    // checkAPI off: `$JS.API.INFO` is a round trip that tells nothing the first real request would not.
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const js = jetstream(nc, { checkAPI: false });
    const kvm = new Kvm(js);
    let pools: KV;
    let services: KV;
    if (role === 'gateway' || role === 'all') {
      const replicas = opts.replicas ?? 1;
      // A cluster that is still electing its JetStream leader answers 503 or not at all: ask again.
      ({ pools, services } = await untilAnswered(opts, async () => {
        await ensureStreams(jsm, replicas);
        return {
          pools: await kvm.create(KV_POOLS, { history: 1, ttl: POOLS_TTL_MS, replicas }),
          services: await kvm.create(KV_SERVICES, { history: 1, ttl: SERVICES_TTL_MS, replicas }),
        };
      }));
      for (const bucket of [KV_POOLS, KV_SERVICES]) await matchReplicas(jsm, `KV_${bucket}`, replicas);
    } else {
      await waitForTopology(jsm, opts);
      pools = await kvm.open(KV_POOLS, { allow_direct: true });
      services = await kvm.open(KV_SERVICES, { allow_direct: true });
    }
    return {
      nc,
      inboxPrefix: prefix,
      js,
      jsm,
      pools,
      services,
      close: async () => {
        if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
      },
    };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/**
 * Waits until the buckets exist (a gateway makes the streams before them), looking every
 * `TOPOLOGY_RETRY_MS`. "Not found" and a JetStream request that timed out or found no
 * responder (a busy or restarting server) are asked again; any other failure (a refused
 * permission, a closed connection) ends the wait at once.
 */
async function waitForTopology(jsm: JetStreamManager, opts: ConnectBusOptions): Promise<void> {
  await untilAnswered(opts, async () => {
    for (const bucket of [KV_POOLS, KV_SERVICES]) await jsm.streams.info(`KV_${bucket}`);
  }, `the NATS streams and buckets (${STREAM_CMD}, ${STREAM_EVT}, ${KV_POOLS}, ${KV_SERVICES}) do not exist yet: a gateway makes them; waiting for one`);
}

/**
 * Runs `attempt` until it succeeds, every `TOPOLOGY_RETRY_MS`, while it fails in a way worth
 * asking again (not there yet, no JetStream leader, a timeout); tells `opts.onWaiting` once.
 */
async function untilAnswered<T>(opts: ConnectBusOptions, attempt: () => Promise<T>, waiting?: string): Promise<T> {
  let told = false;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (err) {
      if (!worthAskingAgain(err)) throw err;
      if (!told) {
        told = true;
        opts.onWaiting?.(waiting ?? `JetStream does not answer yet (${err instanceof Error ? err.message : String(err)}): a NATS cluster may still be electing its leader; waiting`);
      }
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, TOPOLOGY_RETRY_MS);
      opts.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}

/** JetStream's JSClusterNoPeersErr. */
const NO_PEERS_FOR_PLACEMENT = 10005;

/**
 * Whether a failed look for the buckets may succeed when asked again: they do not exist yet,
 * the request timed out or found no responder (a busy or restarting server), or a cluster
 * whose nodes have not all met yet has too few peers for the replicas asked
 * ("no suitable peers for placement", err_code 10005: seen in CI when three nodes had just
 * started).
 */
export function worthAskingAgain(err: unknown): boolean {
  if (isNotFound(err)) return true;
  const e = err as { name?: unknown; code?: unknown; api_error?: { err_code?: number } } | null;
  if (e?.api_error?.err_code === NO_PEERS_FOR_PLACEMENT) return true;
  const text = `${String(e?.name ?? '')} ${String(e?.code ?? '')} ${err instanceof Error ? err.message : String(err)}`;
  return /timeout|no responders|\b503\b|no suitable peers/i.test(text);
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number } } | null;
  return e?.api_error?.err_code === 10059 || /not found/i.test(err instanceof Error ? err.message : String(err));
}

async function ensureStreams(jsm: JetStreamManager, replicas: number): Promise<void> {
  await ensureStream(jsm, {
    name: STREAM_CMD,
    num_replicas: replicas,
    subjects: [subjects.cmdAll],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: DUPLICATE_WINDOW_MS * NS,
  });
  await ensureStream(jsm, {
    name: STREAM_EVT,
    num_replicas: replicas,
    subjects: [subjects.evtAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: EVENTS_MAX_AGE_MS * NS,
    duplicate_window: DUPLICATE_WINDOW_MS * NS,
  });
}

/**
 * Raises or lowers an existing stream's replicas to `replicas` (a single server accepts only
 * 1; a cluster moves the stream's data to the new peers itself). Consumers follow their stream.
 */
export async function matchReplicas(jsm: JetStreamManager, stream: string, replicas: number): Promise<void> {
  const info = await jsm.streams.info(stream);
  if ((info.config.num_replicas ?? 1) === replicas) return;
  await jsm.streams.update(stream, { ...info.config, num_replicas: replicas });
}

type StreamSpec = Parameters<JetStreamManager['streams']['add']>[0] & { name: string };

async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  try {
    await jsm.streams.info(spec.name);
    return await matchReplicas(jsm, spec.name, spec.num_replicas ?? 1);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await jsm.streams.add(spec);
  } catch (err) {
    // Another role created it between our info and add.
    await jsm.streams.info(spec.name).catch(() => {
      throw err;
    });
  }
}


/** Told of every JetStream publish round trip: seconds taken, and whether the server acked it. */
export type PublishObserver = (seconds: number, ok: boolean) => void;
const publishObservers = new Set<PublishObserver>();

/** Registers a publish observer (metrics); returns its removal. */
export function observePublishes(observer: PublishObserver): () => void {
  publishObservers.add(observer);
  return () => publishObservers.delete(observer);
}

/**
 * Publishes to JetStream in a versioned envelope. `msgId` makes a re-publish of the
 * same intent (after a crash, a retry) a no-op within the duplicate window.
 * The envelope carries `meta.requestId`, by default the one of the `withRequestId` scope.
 */
export async function publish<P>(bus: Pick<Bus, 'js'>, subject: string, kind: string, payload: P, msgId: string, meta?: EnvelopeMeta): Promise<void> {
  const data = encode(kind, payload, undefined, { requestId: meta?.requestId ?? currentRequestId() });
  const started = performance.now();
  let ok = false;
  try {
    await bus.js.publish(subject, data, { msgID: msgId, timeout: 5000 });
    ok = true;
  } finally {
    const seconds = (performance.now() - started) / 1000;
    for (const observe of publishObservers) observe(seconds, ok);
  }
}
