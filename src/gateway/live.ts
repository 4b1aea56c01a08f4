/**
 * Live fan-out. Whoever commits a volume change publishes it on core NATS
 * (`flint.live.<project>.volume.<id>`); every gateway follows `flint.live.>` once and
 * hands each event to its in-process GraphQL subscriptions. The database stays the
 * truth: a missed live event is only a missed notification.
 */
import type { Subscription as NatsSubscription } from '@nats-io/transport-node';
import { decode, encode, KIND, liveVolume, subjects, type Bus, type LiveVolume } from '../bus/index.js';
import { toVolumeView, type Volume } from '../db/index.js';

/** Events buffered per slow subscriber before the oldest are dropped. @default 1000 */
export const SUBSCRIBER_BUFFER = 1000;

type Listener = (ev: LiveVolume) => void;

export class LiveHub {
  private readonly listeners = new Set<Listener>();
  private sub: NatsSubscription | undefined;

  constructor(private readonly bus: Bus) {}

  start(onError: (err: unknown) => void): void {
    this.sub = this.bus.nc.subscribe(subjects.liveAll, {
      callback: (err, msg) => {
        if (err) return onError(err);
        try {
          const ev = decode(msg.data, KIND.liveVolume, liveVolume).payload;
          for (const l of this.listeners) l(ev);
        } catch (e) {
          onError(e);
        }
      },
    });
  }

  publish(type: LiveVolume['type'], volume: Volume): void {
    const view = toVolumeView(volume);
    this.bus.nc.publish(subjects.liveVolume(view.projectId, view.id), encode(KIND.liveVolume, { type, volume: view } satisfies LiveVolume));
  }

  /**
   * Events that pass `accept`, as an async iterable; `first` is yielded before them.
   * Breaking out of the loop (or the client leaving) unsubscribes. Stale versions of a
   * volume (arriving after a newer one) are skipped so a subscriber never goes back in time.
   */
  listen(accept: (ev: LiveVolume) => boolean, opts: { first?: LiveVolume; until?: (ev: LiveVolume) => boolean } = {}): AsyncIterableIterator<LiveVolume> {
    const queue: LiveVolume[] = [];
    const seen = new Map<string, number>();
    let wake: (() => void) | undefined;
    let done = false;
    const push = (ev: LiveVolume): void => {
      if (done) return;
      const last = seen.get(ev.volume.id);
      if (last !== undefined && ev.volume.version <= last) return;
      seen.set(ev.volume.id, ev.volume.version);
      queue.push(ev);
      if (queue.length > SUBSCRIBER_BUFFER) queue.shift();
      wake?.();
    };
    const listener: Listener = (ev) => {
      if (accept(ev)) push(ev);
    };
    this.listeners.add(listener);
    if (opts.first) push(opts.first);
    const finish = (): void => {
      done = true;
      this.listeners.delete(listener);
      wake?.();
    };
    const iterator: AsyncIterableIterator<LiveVolume> = {
      next: async () => {
        while (queue.length === 0 && !done) await new Promise<void>((r) => (wake = r));
        const ev = queue.shift();
        if (!ev) return { done: true, value: undefined };
        if (opts.until?.(ev)) finish();
        return { done: false, value: ev };
      },
      return: async () => {
        finish();
        queue.length = 0;
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.listeners.clear();
  }
}
