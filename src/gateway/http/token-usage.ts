/**
 * `ApiToken.lastUsedAt`, written at most about once a minute per token rather than per
 * request: `TokenUsage` (pure, the clock passed in) decides which uses are worth a write,
 * and the writer flushes them in one UPDATE every few seconds. The UPDATE itself skips
 * rows written within the interval, so several gateways do not multiply the writes.
 */
import type { Logger } from '../../config/logger.js';
import { touchTokens, type Db } from '../../db/index.js';

/** A token's `lastUsedAt` is written at most once per this. @default 60_000 */
export const TOKEN_USAGE_INTERVAL_MS = 60_000;
/** How often noted uses are written. @default 5_000 */
export const TOKEN_USAGE_FLUSH_MS = 5_000;
/** Tokens whose last write time is remembered (the least recently noted go first). @default 10_000 */
export const TOKEN_USAGE_MAX_TRACKED = 10_000;

export class TokenUsage {
  /** tokenId → when its use was last queued; Map order: oldest first. */
  private readonly queuedAt = new Map<string, number>();
  /** tokenId → the latest use waiting for a write. */
  private pending = new Map<string, number>();

  constructor(
    private readonly intervalMs: number = TOKEN_USAGE_INTERVAL_MS,
    private readonly maxTracked: number = TOKEN_USAGE_MAX_TRACKED,
  ) {}

  /** Notes a use of `tokenId` at `now`; queues a write unless one was queued within the interval. */
  seen(tokenId: string, now: number): void {
    const last = this.queuedAt.get(tokenId);
    if (last !== undefined && now - last < this.intervalMs) return;
    this.queuedAt.delete(tokenId);
    this.queuedAt.set(tokenId, now);
    this.pending.set(tokenId, now);
    while (this.queuedAt.size > this.maxTracked) this.queuedAt.delete(this.queuedAt.keys().next().value as string);
  }

  /** The queued uses, taken out (the writer puts them back with `requeue` when the write fails). */
  take(): Map<string, number> {
    const out = this.pending;
    this.pending = new Map();
    return out;
  }

  requeue(uses: Map<string, number>): void {
    for (const [id, at] of uses) if ((this.pending.get(id) ?? -Infinity) < at) this.pending.set(id, at);
  }

  /** Writes are due for a token only after this long. */
  get interval(): number {
    return this.intervalMs;
  }
}

/** Writes what `usage` queued, every `TOKEN_USAGE_FLUSH_MS`; `stop()` writes what is left. */
export function startTokenUsageWriter(db: Db, usage: TokenUsage, log: Logger, flushMs = TOKEN_USAGE_FLUSH_MS): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    const uses = usage.take();
    if (!uses.size) return;
    // One UPDATE for all: each row gets the latest use of the batch (within a flush period of its own).
    const at = Math.max(...uses.values());
    try {
      await touchTokens(db.fork(), [...uses.keys()], new Date(at), new Date(at - usage.interval));
    } catch (err) {
      usage.requeue(uses);
      log.warn({ err }, 'could not record when tokens were last used; will retry');
    }
  };
  const timer = setInterval(() => {
    if (!running) running = flush().finally(() => (running = undefined));
  }, flushMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
      await flush();
    },
  };
}
