/**
 * Keeps this gateway's authenticated sessions honest after the fact: a revocation
 * broadcast (`flint.gw.token.revoked`) drops the token from the cache and closes its
 * sockets within moments; because a broadcast can be missed (NATS down, a gateway
 * reconnecting), the tokens of open sockets are also checked against the database every
 * few seconds. Sockets are authenticated by the API limits' WebSocket guard and then
 * handed to `track`.
 */
import type { Subscription as NatsSubscription } from '@nats-io/transport-node';
import { decode, publishTokenRevoked, subjects, TOKEN_REVOKED_KIND, tokenRevoked, type Bus, type TokenRevoked } from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import { deadTokens, type Db, type Principal } from '../../db/index.js';
import type { Authenticator } from './auth.js';
import type { EndReason, SessionSocket, TokenSessions } from './token-sessions.js';

/** How often the tokens of open sockets are checked against the database. @default 3_000 */
export const TOKEN_RECHECK_MS = 3_000;

export interface TokenGuardDeps {
  bus: Pick<Bus, 'nc'>;
  db: Pick<Db, 'fork'>;
  auth: Authenticator;
  sessions: TokenSessions;
  log: Logger;
  /** @default TOKEN_RECHECK_MS */
  recheckMs?: number;
}

export interface TokenGuard {
  /** Applies a revocation made here (forget, close), then tells the other gateways. */
  revoked(tokenId: string, revokedAt: Date): Promise<void>;
  /** Follows an authenticated socket, to close it when its token is revoked or expires. */
  track(socket: SessionSocket, principal: Principal): void;
  stop(): void;
}

export function startTokenGuard(deps: TokenGuardDeps): TokenGuard {
  const { auth, sessions, log } = deps;
  const end = (tokenId: string, reason: EndReason, why: string): void => {
    auth.forget(tokenId);
    const closed = sessions.close(tokenId, reason);
    if (closed) log.info({ tokenId, closed, reason }, `closed the WebSockets of a token: ${why}`);
  };

  // Another gateway, or `flint token revoke`, says a token was revoked. The database has
  // the last word (the bus is a trust boundary): the sockets close only when the token no
  // longer authenticates there, or when the database cannot be asked (refusing is safer).
  const onBroadcast = async (msg: TokenRevoked): Promise<void> => {
    auth.forget(msg.tokenId);
    if (!sessions.count(msg.tokenId)) return;
    let reason: EndReason | undefined = 'revoked';
    try {
      reason = (await deadTokens(deps.db.fork(), [msg.tokenId], new Date())).get(msg.tokenId);
    } catch (err) {
      log.warn({ err, tokenId: msg.tokenId }, 'could not check a revoked token in the database; closing its sockets all the same');
    }
    if (reason) end(msg.tokenId, reason, 'revocation broadcast');
    else log.warn({ tokenId: msg.tokenId }, 'ignored a revocation broadcast for a token the database still accepts');
  };

  const sub: NatsSubscription = deps.bus.nc.subscribe(subjects.tokenRevoked, {
    callback: (err, m) => {
      if (err) return log.warn({ err }, 'token revocation subscription error');
      let payload: TokenRevoked;
      try {
        payload = decode(m.data, TOKEN_REVOKED_KIND, tokenRevoked).payload;
      } catch (e) {
        return log.warn({ err: e }, 'ignored an unreadable token revocation');
      }
      void onBroadcast(payload).catch((e: unknown) => log.warn({ err: e }, 'token revocation failed'));
    },
  });

  let checking = false;
  const recheck = async (): Promise<void> => {
    const ids = sessions.tokenIds();
    if (!ids.length) return;
    let dead: Map<string, EndReason>;
    try {
      dead = await deadTokens(deps.db.fork(), ids, new Date());
    } catch (err) {
      // Kept open: closing every socket because the database blinked would only make them all reconnect into the same outage.
      log.warn({ err }, 'could not re-check the tokens of open WebSockets; will retry');
      return;
    }
    for (const [id, reason] of dead) end(id, reason, 'periodic check');
  };
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void recheck().finally(() => (checking = false));
  }, deps.recheckMs ?? TOKEN_RECHECK_MS);
  timer.unref();

  return {
    revoked: async (tokenId, revokedAt) => {
      end(tokenId, 'revoked', 'revoked through this gateway');
      try {
        await publishTokenRevoked(deps.bus.nc, { tokenId, revokedAt: revokedAt.toISOString() });
      } catch (err) {
        log.warn({ err, tokenId }, 'could not broadcast a token revocation; other gateways find it at their next check');
      }
    },
    track: (socket, principal) => sessions.add(socket, principal),
    stop: () => {
      clearInterval(timer);
      sub.unsubscribe();
      sessions.stop();
    },
  };
}
