/**
 * The scheduler's live view of the pools: a watch on the `flint-pools` bucket kept in
 * memory (no KV round trip per decision), joined with the allocations in the database.
 */
import type { KV } from '@nats-io/kv';
import { decodeEnvelope, decodePayload, poolId, poolKey, poolStats, type PoolStats } from '../contract/index.js';

export class PoolView {
  /** By KV key (`<host>.<pool>`). */
  private readonly stats = new Map<string, PoolStats>();
  private stopped = false;
  private watcher: { stop(): void } | undefined;

  private constructor(private readonly kv: KV) {}

  /** Loads the current pools, then follows changes until `stop()`. */
  static async start(kv: KV, onError?: (err: unknown) => void): Promise<PoolView> {
    const view = new PoolView(kv);
    await view.follow(onError);
    return view;
  }

  private async follow(onError?: (err: unknown) => void): Promise<void> {
    const iter = await this.kv.watch();
    this.watcher = iter;
    let resolveReady!: () => void;
    const ready = new Promise<void>((r) => (resolveReady = r));
    void (async () => {
      for await (const e of iter) {
        if (e.operation === 'PUT') {
          try {
            const s = decodePayload(decodeEnvelope(e.value), poolStats);
            // The key is what NATS lets only that host write; a payload naming another host or pool is forged.
            if (poolKey(s.host, s.pool) !== e.key) throw new Error(`pool heartbeat under key ${e.key} claims to be ${poolId(s.host, s.pool)}; ignored`);
            this.stats.set(e.key, s);
          } catch (err) {
            onError?.(err);
          }
        } else {
          this.stats.delete(e.key);
        }
        if (e.delta === 0) resolveReady();
      }
      resolveReady();
    })().catch(onError);
    // An empty bucket sends no entry: do not wait for one.
    const status = await this.kv.status();
    if (status.values === 0) resolveReady();
    await ready;
  }

  list(): PoolStats[] {
    return [...this.stats.values()];
  }

  /** Pool stats joined with Flint's own allocation per pool. */
  withAllocations(allocated: Map<string, number>): Array<PoolStats & { allocatedCapacityGiB: number }> {
    return this.list().map((s) => ({ ...s, allocatedCapacityGiB: allocated.get(poolId(s.host, s.pool)) ?? 0 }));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.watcher?.stop();
  }
}
