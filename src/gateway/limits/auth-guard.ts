/**
 * Slows down guessing tokens from one address, without letting that address lock out a
 * good token. Pure, with the clock passed in.
 *
 * Each address may fail `perMinute` authentications at once, refilled at `perMinute` a
 * minute. An address that used them up gets RATE_LIMITED for any token this gateway has
 * not seen succeed, before the token is even looked up: one guess per refill, and
 * nothing learnt from the refusal. A token that authenticated here in the last
 * `KNOWN_TOKEN_MS` (from any address) is still checked and served, so an attacker
 * sharing an address (a NAT, an unconfigured proxy) with good clients does not lock
 * them out. Only a token never used at this gateway waits until the address has a
 * failure left.
 */
import { hash } from 'node:crypto';
import { TokenBuckets } from './token-bucket.js';

/** How long a token that authenticated counts as known. @default 86_400_000 (a day) */
export const KNOWN_TOKEN_MS = 24 * 3600_000;
/** Known tokens kept at most (the oldest are forgotten first). @default 100_000 */
export const MAX_KNOWN_TOKENS = 100_000;

/** A known token is re-dated at most this often (it is asked on every request). @default 60_000 */
const REFRESH_MS = 60_000;

/** Never kept in clear: a hash is enough to recognise a token again. */
const digest = (token: string): string => hash('sha256', token, 'base64');

export class AuthFailureGuard {
  private readonly failures: TokenBuckets;
  /** Token digest → when it stops counting as known; insertion order is oldest first. */
  private readonly known = new Map<string, number>();
  private readonly now: () => number;

  constructor(perMinute: number, opts: { now?: () => number; maxKeys?: number } = {}) {
    this.now = opts.now ?? (() => performance.now());
    this.failures = new TokenBuckets({ ratePerSecond: perMinute / 60, burst: perMinute }, { now: this.now, maxKeys: opts.maxKeys });
  }

  /**
   * Seconds `address` must wait before `token` is checked; 0 when it may be checked now
   * (a known token always may).
   */
  wait(address: string, token: string): number {
    const left = this.failures.wait(address);
    if (left === 0) return 0;
    return this.isKnown(token) ? 0 : left;
  }

  /** A token from `address` was refused (unknown, revoked, malformed). */
  failed(address: string): void {
    this.failures.take(address);
  }

  /** `token` authenticated. */
  succeeded(token: string): void {
    const key = digest(token);
    const until = this.now() + KNOWN_TOKEN_MS;
    if ((this.known.get(key) ?? 0) > until - REFRESH_MS) return;
    this.known.delete(key);
    this.known.set(key, until);
    if (this.known.size > MAX_KNOWN_TOKENS) this.known.delete(this.known.keys().next().value!);
  }

  private isKnown(token: string): boolean {
    const until = this.known.get(digest(token));
    return until !== undefined && until > this.now();
  }
}
