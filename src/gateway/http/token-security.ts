/**
 * Everything a gateway does about API tokens, put together once: the authenticator with
 * its cache, `lastUsedAt` bookkeeping, the registry of authenticated WebSockets, the
 * guard that closes them on revocation or expiry, and the admins' token mutations of the API.
 */
import type { Bus } from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import type { Db } from '../../db/index.js';
import { Authenticator } from './auth.js';
import { startTokenGuard, type TokenGuard } from './token-guard.js';
import { TokenMutations } from '../mutations/token.js';
import { TokenSessions } from './token-sessions.js';
import { startTokenUsageWriter, TokenUsage } from './token-usage.js';

export interface TokenSecurity {
  auth: Authenticator;
  guard: TokenGuard;
  mutations: TokenMutations;
  stop(): Promise<void>;
}

export function startTokenSecurity(bus: Pick<Bus, 'nc'>, db: Db, log: Logger, opts: { recheckMs?: number } = {}): TokenSecurity {
  const usage = new TokenUsage();
  const auth = new Authenticator(db, { usage, log });
  // An expired token's sockets close at its expiry; the cache forgets it then too.
  const sessions = new TokenSessions((tokenId) => auth.forget(tokenId));
  const guard = startTokenGuard({ bus, db, auth, sessions, log, ...opts });
  const writer = startTokenUsageWriter(db, usage, log);
  const mutations = new TokenMutations({ db, guard, log });
  return {
    auth,
    guard,
    mutations,
    stop: async () => {
      guard.stop();
      await writer.stop();
    },
  };
}
