/**
 * Token buckets by key (a token id, a client address): each key may take `burst` at once
 * and then `ratePerSecond`, refilled continuously. Pure, with the clock passed in, so unit
 * tests drive time by hand.
 *
 * Memory stays bounded whatever keys an attacker invents: a full bucket is the same as no
 * bucket, so full ones are dropped first; past `maxKeys` the least recently used go too
 * (which forgives them; only under a flood of distinct keys).
 */

export interface BucketSpec {
  ratePerSecond: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  /** Clock reading (ms) when `tokens` was computed. */
  at: number;
}

/** Keys kept at most. @default 100_000 */
export const DEFAULT_MAX_KEYS = 100_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(
    private readonly spec: BucketSpec,
    opts: { maxKeys?: number; now?: () => number } = {},
  ) {
    if (!(spec.ratePerSecond > 0) || !(spec.burst >= 1)) throw new Error('a token bucket needs ratePerSecond > 0 and burst >= 1');
    this.maxKeys = opts.maxKeys ?? DEFAULT_MAX_KEYS;
    this.now = opts.now ?? (() => performance.now());
  }

  /**
   * Takes `n` tokens from `key`'s bucket. Answers 0 when they were taken, else the seconds
   * until `n` tokens will be there (nothing is taken then).
   */
  take(key: string, n = 1): number {
    const now = this.now();
    const b = this.current(key, now);
    if (b.tokens >= n) {
      b.tokens -= n;
      this.store(key, b);
      return 0;
    }
    this.store(key, b);
    return (n - b.tokens) / this.spec.ratePerSecond;
  }

  /** Seconds until `key` has `n` tokens; 0 when it has them now. Takes nothing. */
  wait(key: string, n = 1): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const tokens = this.refilled(b, this.now());
    return tokens >= n ? 0 : (n - tokens) / this.spec.ratePerSecond;
  }

  /** Keys held now (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private refilled(b: Bucket, now: number): number {
    return Math.min(this.spec.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.spec.ratePerSecond);
  }

  private current(key: string, now: number): Bucket {
    const b = this.buckets.get(key);
    if (!b) return { tokens: this.spec.burst, at: now };
    // Re-inserted by store(): the map's order is then least recently used first.
    this.buckets.delete(key);
    return { tokens: this.refilled(b, now), at: now };
  }

  private store(key: string, b: Bucket): void {
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) this.prune(b.at);
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (this.refilled(b, now) >= this.spec.burst) this.buckets.delete(k);
    const target = Math.floor(this.maxKeys * 0.9);
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(k);
    }
  }
}

/** Whole seconds for a `Retry-After` header and `extensions.retryAfterSeconds`: at least 1. */
export function retryAfterSeconds(seconds: number): number {
  return Math.max(1, Math.ceil(seconds));
}
