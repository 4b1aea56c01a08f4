/** Bearer tokens to principals, with a short cache so a busy client does not hit the database per request. */
import { resolveToken, type Db, type Principal } from '../db/index.js';
import { UnauthenticatedError } from '../domain/errors.js';

/** A revoked token stops working within this. @default 10_000 */
export const TOKEN_CACHE_MS = 10_000;

export class Authenticator {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();

  constructor(private readonly db: Db) {}

  /**
   * The principal of an `Authorization` value (`Bearer <token>`); null when none was
   * sent. A malformed header or an unknown token is UNAUTHENTICATED.
   */
  async fromHeader(header: string | undefined | null): Promise<Principal | null> {
    if (header === undefined || header === null || header === '') return null;
    const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!m) throw new UnauthenticatedError('The Authorization header must be "Bearer <token>".');
    const token = m[1]!;
    const hit = this.cache.get(token);
    const now = Date.now();
    if (hit && hit.until > now) return this.known(hit.principal);
    const principal = await resolveToken(this.db.fork(), token);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(token, { principal, until: now + TOKEN_CACHE_MS });
    return this.known(principal);
  }

  private known(p: Principal | null): Principal {
    if (!p) throw new UnauthenticatedError('This token is unknown or revoked; create one with `flint token create`.');
    return p;
  }
}
