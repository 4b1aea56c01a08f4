/**
 * Durable pull consumers: the consumer made when missing (shared by every replica of a
 * role) and the runner that hands each message to a handler and acks, naks or terminates
 * it by the handler's answer, subscribing again whenever its subscription ends.
 */
import { AckPolicy, DeliverPolicy, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { ContractError } from '../contract/index.js';
import { NS, type Bus } from './connection.js';

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
