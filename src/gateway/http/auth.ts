/**
 * Bearer tokens to principals. Accepted tokens are cached briefly (src/gateway/http/token-cache.ts)
 * so a busy client does not hit the database per request; unknown ones never are. A token
 * past its `expiresAt` is refused, cached or not. When the database cannot be asked, the
 * answer is SERVICE_UNAVAILABLE (retry), never UNAUTHENTICATED: a client must not throw a
 * good token away because of an outage.
 */
import type { Logger } from '../../config/logger.js';
import { hashToken, resolveToken, type Db, type Principal } from '../../db/index.js';
import { FlintError, ServiceUnavailableError, UnauthenticatedError } from '../../domain/errors.js';
import { TokenCache } from './token-cache.js';
import type { TokenUsage } from './token-usage.js';

/** Finds the principal of a token (null: unknown, revoked or expired); throws when it cannot tell. */
export type TokenLookup = (token: string, now: Date) => Promise<Principal | null>;

export interface AuthenticatorOptions {
  /** @default a TokenCache with its defaults */
  cache?: TokenCache;
  /** Told of every accepted use, for `lastUsedAt`. */
  usage?: TokenUsage;
  /** @default resolveToken on a fork of `db` */
  lookup?: TokenLookup;
  /** @default Date.now */
  now?: () => number;
  log?: Pick<Logger, 'warn'>;
}

/** Seconds a client is told to wait (`retry-after`) when authentication is unavailable. @default 5 */
export const AUTH_RETRY_AFTER_SECONDS = 5;

/** The database outage is logged at most once per this. @default 10_000 */
export const AUTH_WARN_INTERVAL_MS = 10_000;

export const REFUSED_TOKEN_MESSAGE = 'This token is unknown, revoked or expired; ask an admin for a new one (`flint token create`).';

export class Authenticator {
  private readonly cache: TokenCache;
  private readonly lookup: TokenLookup;
  private readonly now: () => number;
  private lastWarnAt = -Infinity;

  constructor(db: Pick<Db, 'fork'> | null, private readonly opts: AuthenticatorOptions = {}) {
    this.cache = opts.cache ?? new TokenCache();
    this.now = opts.now ?? Date.now;
    if (opts.lookup) this.lookup = opts.lookup;
    else if (db) this.lookup = (token, now) => resolveToken(db.fork(), token, now);
    else throw new Error('Authenticator needs a database or a lookup');
  }

  /**
   * The principal of an `Authorization` value (`Bearer <token>`); null when none was
   * sent. A malformed header or a refused token is UNAUTHENTICATED; a database that
   * cannot be asked is SERVICE_UNAVAILABLE.
   */
  async fromHeader(header: string | undefined | null): Promise<Principal | null> {
    if (header === undefined || header === null || header === '') return null;
    const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!m) throw new UnauthenticatedError('The Authorization header must be "Bearer <token>".');
    return this.fromToken(m[1]!);
  }

  async fromToken(token: string): Promise<Principal> {
    const key = hashToken(token);
    const now = this.now();
    let principal = this.cache.get(key, now);
    if (!principal) {
      let found: Principal | null;
      try {
        found = await this.lookup(token, new Date(now));
      } catch (err) {
        // Once per interval: during an outage every request would say it again.
        if (now - this.lastWarnAt >= AUTH_WARN_INTERVAL_MS) {
          this.lastWarnAt = now;
          this.opts.log?.warn({ err }, 'authentication could not reach the database');
        }
        throw new ServiceUnavailableError('Authentication is unavailable for a moment (the database cannot be reached); your token was not refused: retry shortly.', err);
      }
      if (!found) throw new UnauthenticatedError(REFUSED_TOKEN_MESSAGE);
      this.cache.set(key, found, now);
      principal = found;
    }
    // The cache keeps no entry past its token's expiry; this is the rule, stated once more.
    if (principal.expiresAt && principal.expiresAt.getTime() <= now) {
      this.cache.dropToken(principal.tokenId);
      throw new UnauthenticatedError(REFUSED_TOKEN_MESSAGE);
    }
    this.opts.usage?.seen(principal.tokenId, now);
    return principal;
  }

  /** Forgets a revoked token at once. */
  forget(tokenId: string): void {
    this.cache.dropToken(tokenId);
  }
}

/** The HTTP answer to a failed authentication: 401 for a refused token, 503 (with retry-after) when it cannot be checked. */
export function authRefusal(err: unknown): { status: number; code: string; message: string; headers: Record<string, string> } {
  if (err instanceof FlintError && err.code === 'SERVICE_UNAVAILABLE') {
    return { status: 503, code: err.code, message: err.message, headers: { 'retry-after': String(AUTH_RETRY_AFTER_SECONDS) } };
  }
  // A token that was sent but is bad must not read as anonymous.
  if (err instanceof UnauthenticatedError) return { status: 401, code: err.code, message: err.message, headers: {} };
  return { status: 500, code: 'INTERNAL', message: 'Internal error while checking the token; report it to the operator.', headers: {} };
}
