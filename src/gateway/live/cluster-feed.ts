/**
 * Pools and services as streams for dashboards (`poolsChanged`, `servicesChanged`).
 * Each stream is shared by every subscriber of this gateway: a change is read once
 * (one allocation query, not one per dashboard) and handed to all of them. Changes come
 * from watches on the `flint-pools` and `flint-services` buckets; a pool or service that
 * stops beating sends nothing, so a timer set for the moment the oldest one would turn
 * DOWN re-emits then. Clients never poll.
 */
import { KvWatchInclude } from '@nats-io/kv';
import { readServiceBeat, SERVICES_TTL_MS, type Bus, type PoolView, type ServiceHeartbeat } from '../../bus/index.js';
import { capacity, type Db } from '../../db/index.js';
import { downAt } from '../../domain/liveness.js';
import type { ClusterFeedPort, PoolSnapshot } from '../../resolvers/ports/index.js';

/** Shortest time between two snapshots of one stream (so at most 4 a second). @default 250 */
export const FEED_MIN_INTERVAL_MS = 250;

export interface ClusterFeedDeps {
  bus: Bus;
  db: Db;
  /** The gateway's live view of the pools (also behind the `pools` query). */
  pools: PoolView;
  /** Pools silent for three of these are DOWN. */
  heartbeatSeconds: number;
  onError: (err: unknown) => void;
}

export class ClusterFeed implements ClusterFeedPort {
  private readonly beats = new Map<string, ServiceHeartbeat>();
  private readonly watchers: Array<{ stop(): void }> = [];
  private readonly poolStream: SharedSnapshots<PoolSnapshot>;
  private readonly serviceStream: SharedSnapshots<ServiceHeartbeat[]>;

  private constructor(private readonly deps: ClusterFeedDeps) {
    this.poolStream = new SharedSnapshots(
      async () => ({ stats: deps.pools.list(), allocated: await capacity.allocations(deps.db.fork()) }),
      (s) => nextDown(s.stats.map((p) => ({ at: p.updatedAt, intervalSeconds: deps.heartbeatSeconds }))),
      deps.onError,
    );
    this.serviceStream = new SharedSnapshots(
      async () => this.servicesNow(),
      (beats) => nextDown(beats.map((b) => ({ at: b.heartbeatAt, intervalSeconds: b.intervalSeconds }))),
      deps.onError,
    );
  }

  /** Starts the watches; resolves once the services bucket has been read. */
  static async start(deps: ClusterFeedDeps): Promise<ClusterFeed> {
    const feed = new ClusterFeed(deps);
    try {
      await feed.watchPools();
      await feed.watchServices();
    } catch (err) {
      feed.stop();
      throw err;
    }
    return feed;
  }

  pools(): AsyncIterableIterator<PoolSnapshot> {
    return this.poolStream.subscribe();
  }

  services(): AsyncIterableIterator<ServiceHeartbeat[]> {
    return this.serviceStream.subscribe();
  }

  stop(): void {
    for (const w of this.watchers.splice(0)) w.stop();
    this.poolStream.stop();
    this.serviceStream.stop();
  }

  /** The pool stats themselves live in the PoolView; this watch only says when they changed. */
  private async watchPools(): Promise<void> {
    const iter = await this.deps.bus.pools.watch({ include: KvWatchInclude.UpdatesOnly, headers_only: true });
    this.watchers.push(iter);
    void (async () => {
      for await (const _ of iter) this.poolStream.changed();
    })().catch(this.deps.onError);
  }

  private async watchServices(): Promise<void> {
    const kv = this.deps.bus.services;
    const iter = await kv.watch();
    this.watchers.push(iter);
    let ready!: () => void;
    const loaded = new Promise<void>((r) => (ready = r));
    void (async () => {
      for await (const e of iter) {
        const beat = e.operation === 'PUT' ? readServiceBeat(e.key, e.value) : null;
        if (beat) this.beats.set(e.key, beat);
        else if (e.operation !== 'PUT') this.beats.delete(e.key);
        if (e.delta === 0) ready();
        this.serviceStream.changed();
      }
      ready();
    })().catch(this.deps.onError);
    // An empty bucket sends no entry: do not wait for one.
    if ((await kv.status()).values === 0) ready();
    await loaded;
  }

  /** The services' heartbeats as the watch has them now (no read: attachments ask on every create). */
  servicesNow(): ServiceHeartbeat[] {
    // The bucket's TTL removes old beats without telling watchers: forget them the same way.
    const oldest = Date.now() - SERVICES_TTL_MS;
    return [...this.beats.values()].filter((b) => new Date(b.heartbeatAt).getTime() > oldest);
  }
}

/** When the first of these heartbeats that is still fresh turns DOWN (epoch ms), if any will. */
function nextDown(beats: Array<{ at: string; intervalSeconds: number }>, now = Date.now()): number | undefined {
  let next: number | undefined;
  for (const b of beats) {
    const down = downAt(b.at, b.intervalSeconds);
    if (down >= now && (next === undefined || down < next)) next = down;
  }
  return next;
}

interface Subscriber<T> {
  push(value: T): void;
}

/**
 * A snapshot recomputed on `changed()` (trailing, at most once per FEED_MIN_INTERVAL_MS)
 * and at the moment `downAt` names, and handed to every subscriber. Each subscriber
 * gets a fresh snapshot first; a slow one skips to the newest.
 */
class SharedSnapshots<T> {
  private readonly subscribers = new Set<Subscriber<T>>();
  private timer: NodeJS.Timeout | undefined;
  private downTimer: NodeJS.Timeout | undefined;
  private lastRun = 0;
  private running = false;
  private again = false;

  constructor(
    private readonly compute: () => Promise<T>,
    private readonly downAt: (value: T) => number | undefined,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Something changed: recompute soon, if anyone listens. */
  changed(): void {
    if (this.subscribers.size === 0 || this.timer) return;
    const wait = Math.max(FEED_MIN_INTERVAL_MS, this.lastRun + FEED_MIN_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, wait);
    this.timer.unref();
  }

  subscribe(): AsyncIterableIterator<T> {
    let pending: { value: T } | undefined;
    let wake: (() => void) | undefined;
    let done = false;
    let first: Promise<T> | undefined = this.computeAndArm();
    // Nobody may read a failed first snapshot: keep the rejection from going unhandled.
    first.catch(() => undefined);
    const sub: Subscriber<T> = {
      push: (value) => {
        pending = { value };
        wake?.();
      },
    };
    this.subscribers.add(sub);
    const finish = (): void => {
      done = true;
      this.subscribers.delete(sub);
      if (this.subscribers.size === 0) this.idle();
      wake?.();
    };
    const iterator: AsyncIterableIterator<T> = {
      next: async () => {
        if (first) {
          const f = first;
          first = undefined;
          try {
            return { done: false, value: await f };
          } catch (err) {
            finish();
            throw err;
          }
        }
        while (!pending && !done) await new Promise<void>((r) => (wake = r));
        if (done || !pending) return { done: true, value: undefined };
        const { value } = pending;
        pending = undefined;
        return { done: false, value };
      },
      return: async () => {
        finish();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  stop(): void {
    this.subscribers.clear();
    this.idle();
  }

  private idle(): void {
    clearTimeout(this.timer);
    clearTimeout(this.downTimer);
    this.timer = undefined;
    this.downTimer = undefined;
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.lastRun = Date.now();
    try {
      const value = await this.computeAndArm();
      for (const s of this.subscribers) s.push(value);
    } catch (err) {
      this.onError(err);
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.changed();
      }
    }
  }

  /** Computes a snapshot and sets the timer for the next heartbeat that would turn DOWN. */
  private async computeAndArm(): Promise<T> {
    const value = await this.compute();
    const at = this.downAt(value);
    clearTimeout(this.downTimer);
    this.downTimer = undefined;
    if (at !== undefined && this.subscribers.size > 0) {
      this.downTimer = setTimeout(() => {
        this.downTimer = undefined;
        this.changed();
      }, Math.max(0, at - Date.now()) + 50);
      this.downTimer.unref();
    }
    return value;
  }
}
