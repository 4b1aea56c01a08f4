/**
 * The gateway's cache of authenticated tokens: least recently used first out, bounded,
 * each entry for a short time only and never past its token's `expiresAt`. It holds
 * only tokens the database accepted (a miss is never cached), so a flood of random
 * tokens cannot push the good ones out; keys are the tokens' sha256, never the secret.
 * Pure: the clock is passed in.
 */
import type { Principal } from '../../db/index.js';

/** Tokens kept at most. @default 10_000 */
export const TOKEN_CACHE_MAX_ENTRIES = 10_000;
/** How long an entry is trusted before the database is asked again (a fallback: revocations are broadcast). @default 5_000 */
export const TOKEN_CACHE_TTL_MS = 5_000;

interface Entry {
  principal: Principal;
  /** Epoch ms after which the entry is not used. */
  until: number;
}

export class TokenCache {
  /** Map keeps insertion order: the first key is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  /** tokenId → its keys, to drop a revoked token by id. */
  private readonly byToken = new Map<string, Set<string>>();

  constructor(
    private readonly maxEntries: number = TOKEN_CACHE_MAX_ENTRIES,
    private readonly ttlMs: number = TOKEN_CACHE_TTL_MS,
  ) {
    if (!(maxEntries >= 1) || !(ttlMs >= 0)) throw new RangeError('TokenCache needs maxEntries >= 1 and ttlMs >= 0');
  }

  get size(): number {
    return this.entries.size;
  }

  /** The principal cached under `key` and still valid at `now`, as the most recently used. */
  get(key: string, now: number): Principal | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (now >= e.until) {
      this.delete(key, e);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.principal;
  }

  /** Caches an accepted token until `now` + TTL, or its expiry when sooner; evicts the least recently used beyond the bound. */
  set(key: string, principal: Principal, now: number): void {
    const expires = principal.expiresAt ? principal.expiresAt.getTime() : Infinity;
    const until = Math.min(now + this.ttlMs, expires);
    if (until <= now) return;
    const old = this.entries.get(key);
    if (old) this.delete(key, old);
    this.entries.set(key, { principal, until });
    let keys = this.byToken.get(principal.tokenId);
    if (!keys) this.byToken.set(principal.tokenId, (keys = new Set()));
    keys.add(key);
    while (this.entries.size > this.maxEntries) {
      const [oldest, e] = this.entries.entries().next().value as [string, Entry];
      this.delete(oldest, e);
    }
  }

  /** Forgets a token (revoked); returns how many entries went. */
  dropToken(tokenId: string): number {
    const keys = this.byToken.get(tokenId);
    if (!keys) return 0;
    for (const key of keys) this.entries.delete(key);
    this.byToken.delete(tokenId);
    return keys.size;
  }

  private delete(key: string, e: Entry): void {
    this.entries.delete(key);
    const keys = this.byToken.get(e.principal.tokenId);
    keys?.delete(key);
    if (keys && keys.size === 0) this.byToken.delete(e.principal.tokenId);
  }
}
