/**
 * Who may run an operation now, for HTTP requests and WebSocket messages alike: the
 * client's address, the failed-authentication guard, authentication itself, and the
 * per-token (or, without a token, per-address) token bucket.
 */
import type { IncomingMessage } from 'node:http';
import type { ApiLimitsConfig } from '../../config/index.js';
import type { Principal } from '../../db/index.js';
import { FlintError, isRetryable, RateLimitedError, UnauthenticatedError } from '../../domain/index.js';
import type { Authenticator } from '../http/auth.js';
import { AuthFailureGuard } from './auth-guard.js';
import { addressKey, clientAddress } from './client-address.js';
import { retryAfterSeconds, TokenBuckets } from './token-bucket.js';

/** An operation weighs one more unit of its token's bucket per this many objects it could fetch (its cost). */
export const COST_PER_UNIT = 100;

export type Authentication = { principal: Principal | null } | { refused: FlintError };

export class RequestGate {
  private readonly trusted: ReadonlySet<string>;
  private readonly guard: AuthFailureGuard;
  private readonly tokens: TokenBuckets;
  private readonly anonymous: TokenBuckets;
  /** Addresses of keep-alive connections, computed once per connection. */
  private readonly bySocket = new WeakMap<object, string>();

  constructor(
    private readonly config: ApiLimitsConfig,
    private readonly auth: Authenticator,
    now?: () => number,
  ) {
    this.trusted = new Set(config.trustedProxies);
    this.guard = new AuthFailureGuard(config.authFailuresPerMinute, { now });
    this.tokens = new TokenBuckets({ ratePerSecond: config.ratePerSecond, burst: config.rateBurst }, { now });
    this.anonymous = new TokenBuckets({ ratePerSecond: config.anonymousRatePerSecond, burst: config.anonymousBurst }, { now });
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** The key of the request's client for per-address limits (IPv6: its /64). */
  address(req: IncomingMessage): string {
    const socket = req.socket;
    const known = this.bySocket.get(socket);
    if (known !== undefined) return known;
    const key = addressKey(clientAddress(socket.remoteAddress, req.headers['x-forwarded-for'], this.trusted));
    // A keep-alive connection is one client, unless it may come from a proxy that names a client per request.
    if (this.trusted.size === 0) this.bySocket.set(socket, key);
    return key;
  }

  /**
   * The principal of an `Authorization` value (null without one), or why it is refused:
   * UNAUTHENTICATED for a bad token, RATE_LIMITED when `address` failed too often and
   * the token is not one this gateway has seen succeed (it is then not even looked up).
   */
  async authenticate(header: string | undefined | null, address: string): Promise<Authentication> {
    if (header === undefined || header === null || header === '') return { principal: null };
    const token = /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1] ?? header;
    if (this.config.enabled) {
      const wait = this.guard.wait(address, token);
      if (wait > 0) {
        const after = retryAfterSeconds(wait);
        return {
          refused: new RateLimitedError(
            `Too many failed authentications from your address; try again in ${after} s with a valid token (FLINT_API_AUTH_FAILURES_PER_MINUTE). Tokens already used with this gateway still work.`,
            after,
          ),
        };
      }
    }
    try {
      const principal = await this.auth.fromHeader(header);
      if (this.config.enabled) this.guard.succeeded(token);
      return { principal };
    } catch (err) {
      if (!(err instanceof UnauthenticatedError)) throw err;
      if (this.config.enabled) this.guard.failed(address);
      return { refused: err };
    }
  }

  /**
   * Charges a token's bucket for the size of an operation `take` already counted once:
   * one more unit per {@link COST_PER_UNIT} of its cost (at most the whole burst), so a
   * token cannot run big operations as often as small ones. Without a token nothing more
   * is charged (such callers can read nothing costly).
   */
  charge(principal: Principal | null, cost: number): RateLimitedError | undefined {
    if (!this.config.enabled || !principal) return undefined;
    const extra = Math.min(this.config.rateBurst - 1, Math.floor(cost / COST_PER_UNIT));
    if (extra <= 0) return undefined;
    const wait = this.tokens.take(principal.tokenId, extra);
    if (wait === 0) return undefined;
    const after = retryAfterSeconds(wait);
    return new RateLimitedError(
      `This operation counts as ${extra + 1} of this token's operations (one more per ${COST_PER_UNIT} objects it could fetch) and the token has run too many lately ` +
        `(FLINT_API_RATE_PER_SECOND); try again in ${after} s, or ask for smaller pages.`,
      after,
    );
  }

  /** Counts one operation against the caller's bucket; the refusal when it is empty. */
  take(principal: Principal | null, address: string): RateLimitedError | undefined {
    if (!this.config.enabled) return undefined;
    const wait = principal ? this.tokens.take(principal.tokenId) : this.anonymous.take(address);
    if (wait === 0) return undefined;
    const after = retryAfterSeconds(wait);
    return principal
      ? new RateLimitedError(
          `This token ran more than ${this.config.ratePerSecond} operations a second (burst ${this.config.rateBurst}; FLINT_API_RATE_PER_SECOND); try again in ${after} s, and spread your requests out.`,
          after,
        )
      : new RateLimitedError(
          `Too many requests without a token from your address (${this.config.anonymousRatePerSecond} a second; FLINT_API_ANONYMOUS_RATE_PER_SECOND); try again in ${after} s, or send a token.`,
          after,
        );
  }
}

/** The body of a refused request: the error as `formatError` would show it. */
export function errorBody(e: FlintError): { errors: Array<{ message: string; extensions: Record<string, unknown> }> } {
  return { errors: [{ message: e.message, extensions: { ...e.details, code: e.code, retryable: isRetryable(e.code, e.details) } }] };
}
