/**
 * The NATS side of every role: connect (with the role's own credentials and private inbox,
 * src/bus/nats/credentials.ts), make sure the streams and buckets exist, publish commands and
 * events, and run a durable pull consumer with bounded concurrency.
 *
 * Who makes the topology: gateways create the streams and buckets (idempotently: any number
 * may start at once); schedulers and agents are not allowed to (src/bus/nats/permissions.ts), so
 * they only bind to them, and one that starts first says it waits and retries until a
 * gateway has made them. Each consumer creates its own durable, through the JetStream API
 * subject that names its filter, so NATS can hold an agent to its host's commands.
 */
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { ContractError, encode, inboxPrefix, KV_POOLS, KV_SERVICES, STREAM_CMD, STREAM_EVT, subjects, type BusRole, type EnvelopeMeta } from '../contract/index.js';
import { currentRequestId } from './request-scope.js';

/** How long JetStream remembers a message id to drop a duplicate publish. @default 120_000 */
export const DUPLICATE_WINDOW_MS = 120_000;
/** Events are kept for replay and debugging. @default 7 days */
export const EVENTS_MAX_AGE_MS = 7 * 24 * 3600_000;
/** Pool heartbeats older than this vanish from the bucket (staleness is judged earlier, from `updatedAt`). */
export const POOLS_TTL_MS = 3600_000;
/** Service heartbeats are kept a day so a dead service shows as DOWN rather than vanishing. */
export const SERVICES_TTL_MS = 24 * 3600_000;

const NS = 1_000_000;

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

/**
 * Whether a failed look for the buckets may succeed when asked again: they do not exist yet,
 * or the request timed out or found no responder (a busy or restarting server).
 */
export function worthAskingAgain(err: unknown): boolean {
  if (isNotFound(err)) return true;
  const e = err as { name?: unknown; code?: unknown } | null;
  const text = `${String(e?.name ?? '')} ${String(e?.code ?? '')} ${err instanceof Error ? err.message : String(err)}`;
  return /timeout|no responders|\b503\b/i.test(text);
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

export interface ConsumerSpec {
  stream: string;
  durable: string;
  filterSubject: string;
  /** Redelivery after this long without an ack or `working()`. @default 30_000 */
  ackWaitMs?: number;
  /** @default -1 (for ever: commands are idempotent and must not be lost) */
  maxDeliver?: number;
}

/** Creates the durable pull consumer when missing (shared by every replica of a role). */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  try {
    await jsm.consumers.info(spec.stream, spec.durable);
  } catch {
    await jsm.consumers.add(spec.stream, {
      durable_name: spec.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: spec.filterSubject,
      ack_wait: (spec.ackWaitMs ?? 30_000) * NS,
      max_deliver: spec.maxDeliver ?? -1,
      max_ack_pending: 1000,
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

/**
 * What a handler wants done with its message: `ack` (done), `retry` (redeliver after the
 * consumer's retry delay), `{ retryAfterMs }` (redeliver later, e.g. to wait for fresh
 * heartbeats), or `drop` (no build can handle it).
 */
export type Disposition = 'ack' | 'retry' | 'drop' | { retryAfterMs: number };

export interface ConsumerRunner {
  stop(): Promise<void>;
}

export interface RunConsumerOptions extends ConsumerSpec {
  /** Messages handled at once. @default 8 */
  concurrency?: number;
  /** Delay before a `retry` comes back. @default 1000 */
  retryDelayMs?: number;
  onError?: (err: unknown, msg: JsMsg) => void;
  /** Told when the subscription itself failed or ended and is being set up again. */
  onResubscribe?: (err: unknown) => void;
}

/** Pause before setting a failed subscription up again. @default 1000 */
export const RESUBSCRIBE_DELAY_MS = 1000;

/**
 * How long one pull waits on the server before the client asks again (nats.js: 30 s, with
 * idle heartbeats every 15 s). A pull lives on its consumer's leader: when the leadership
 * moves (a NATS node died, or a gateway asked it to step down) the pull is gone, and the
 * client only notices after two missed heartbeats. The chaos suite saw agents get no command
 * for 66 s after a quorum loss healed, while the step-downs of every resend round moved the
 * leaders again before the old pulls ran out. At 5 s, heartbeats come every 2.5 s and a
 * lost pull is replaced within about 7 s; an idle consumer costs one request per 5 s.
 */
export const PULL_EXPIRES_MS = 5_000;

/**
 * Runs `handler` on every message of a durable consumer. A message is acked only when
 * the handler resolves `ack`; `retry` (or a thrown error) naks it for redelivery;
 * `drop` (or a ContractError: a message no build can understand) terminates it.
 * Long handlers keep their message with `working()` so it is not redelivered meanwhile.
 * If the subscription ends for any reason but `stop()` (NATS restarted, consumer
 * recreated), it is set up again: a role never silently stops consuming.
 */
export async function runConsumer(bus: Bus, opts: RunConsumerOptions, handler: (msg: JsMsg) => Promise<Disposition>): Promise<ConsumerRunner> {
  await ensureConsumer(bus.jsm, opts);
  const concurrency = opts.concurrency ?? 8;
  const ackWait = opts.ackWaitMs ?? 30_000;
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let messages: { close(): Promise<void | Error> } | undefined;
  let wakeUp: (() => void) | undefined;

  const handle = async (m: JsMsg): Promise<void> => {
    const keepAlive = setInterval(() => m.working(), Math.max(1000, ackWait / 3));
    try {
      const d = await handler(m);
      if (d === 'ack') await m.ackAck().catch(() => m.ack());
      else if (d === 'drop') m.term();
      else if (d === 'retry') m.nak(opts.retryDelayMs ?? 1000);
      else m.nak(d.retryAfterMs);
    } catch (err) {
      opts.onError?.(err, m);
      if (err instanceof ContractError) m.term();
      else m.nak(opts.retryDelayMs ?? 1000);
    } finally {
      clearInterval(keepAlive);
    }
  };

  const consumeOnce = async (): Promise<void> => {
    await ensureConsumer(bus.jsm, opts);
    const consumer = await bus.js.consumers.get(opts.stream, opts.durable);
    const iter = await consumer.consume({ max_messages: concurrency, expires: PULL_EXPIRES_MS });
    messages = iter;
    // Not awaited: close() settles only once the iteration below has drained the iterator
    // (nats.js 3.4), so awaiting it here would wait for ever.
    if (stopped) void iter.close().catch(() => undefined);
    // A pull that the server lost (restart, missed heartbeats, consumer gone) can leave the
    // iterator waiting for ever: end it, and the loop below subscribes again.
    void (async () => {
      for await (const n of iter.status()) {
        if ((n.type === 'heartbeats_missed' && n.count >= 2) || n.type === 'consumer_not_found' || n.type === 'consumer_deleted' || n.type === 'stream_not_found') {
          await iter.close();
          break;
        }
      }
    })().catch(() => undefined);
    for await (const m of iter) {
      const p = handle(m).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
  };

  // After a reconnect the server may have restarted and forgotten our pull: start afresh.
  void (async () => {
    for await (const st of bus.nc.status()) {
      if (stopped) break;
      if (st.type === 'reconnect') await messages?.close().catch(() => undefined);
    }
  })().catch(() => undefined);

  const loop = (async () => {
    while (!stopped) {
      let failure: unknown = new Error('the subscription ended');
      try {
        await consumeOnce();
      } catch (err) {
        failure = err;
      }
      if (stopped) break;
      opts.onResubscribe?.(failure);
      await new Promise<void>((r) => {
        wakeUp = r;
        setTimeout(r, RESUBSCRIBE_DELAY_MS);
      });
    }
  })();

  return {
    stop: async () => {
      stopped = true;
      wakeUp?.();
      // close() settles once the loop has drained the iterator: wait for both together, not in turn
      // (a stop right after the start found the loop not yet iterating and waited for ever).
      const closing = messages?.close().catch(() => undefined);
      await loop.catch(() => undefined);
      await closing;
      await Promise.allSettled([...inFlight]);
    },
  };
}
