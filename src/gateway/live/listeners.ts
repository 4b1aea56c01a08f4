/**
 * The subscribers' side of the live fan-out, shared by LiveHub (hub.ts) and BackupLive
 * (backup.ts): a set of listeners per kind, and one bounded queue per subscriber over it, which
 * drops stale versions and can hold live events behind a change feed's replay.
 */
import type { ListenOptions } from '../../resolvers/ports/index.js';

/** Events buffered per slow subscriber before the oldest are dropped. @default 1000 */
export const SUBSCRIBER_BUFFER = 1000;

export type Listeners<T> = Set<(ev: T) => void>;

export function emit<T>(listeners: Listeners<T>, ev: T): void {
  for (const l of listeners) l(ev);
}

export interface IterateOptions<T> extends ListenOptions<T> {
  /** Which object an event is about, to drop stale ones with `isStale`. */
  key?: (ev: T) => string;
  isStale?: (ev: T, last: T) => boolean;
  /** Read once the listener is in place and queued like an event (null: nothing). */
  refresh?: () => Promise<T | null>;
}

/** One subscriber's queue over a listener set: bounded, ends on `return()` or `until`. */
export function iterate<T>(listeners: Listeners<T>, accept: (ev: T) => boolean, opts: IterateOptions<T>): AsyncIterableIterator<T> {
  const queue: T[] = [];
  const seen = new Map<string, T>();
  let wake: (() => void) | undefined;
  let done = false;
  const push = (ev: T): void => {
    if (done) return;
    if (opts.key) {
      const k = opts.key(ev);
      const last = seen.get(k);
      if (last !== undefined && opts.isStale?.(ev, last)) return;
      seen.set(k, ev);
    }
    queue.push(ev);
    if (queue.length > SUBSCRIBER_BUFFER) queue.shift();
    wake?.();
  };
  // Live events that came while the replay was read, in arrival order; bounded like the queue (a
  // subscriber SUBSCRIBER_BUFFER events behind loses the oldest, as a slow one always has).
  let held: T[] | undefined = opts.replay ? [] : undefined;
  const listener = (ev: T): void => {
    if (!accept(ev)) return;
    if (!held) return push(ev);
    held.push(ev);
    if (held.length > SUBSCRIBER_BUFFER) held.shift();
  };
  listeners.add(listener);
  if (opts.first) push(opts.first);
  if (opts.replay) {
    // The replay's state of a resource is at least as new as any event held for it: the stale check drops those.
    opts.replay.then(
      (events) => {
        for (const ev of events) if (accept(ev)) push(ev);
        const waiting = held ?? [];
        held = undefined;
        for (const ev of waiting) push(ev);
      },
      () => finish(),
    );
  }
  if (opts.refresh) void opts.refresh().then((ev) => ev !== null && push(ev), () => undefined);
  const finish = (): void => {
    done = true;
    listeners.delete(listener);
    wake?.();
  };
  const iterator: AsyncIterableIterator<T> = {
    next: async () => {
      while (queue.length === 0 && !done) await new Promise<void>((r) => (wake = r));
      const ev = queue.shift();
      if (ev === undefined) return { done: true, value: undefined };
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
