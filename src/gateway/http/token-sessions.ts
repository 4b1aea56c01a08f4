/**
 * The graphql-ws sockets of this gateway by the token that authenticated them, so a
 * revoked token's sockets can be closed at once and an expiring token's at its expiry.
 * A closed socket ends every subscription on it; the client sees close code 4403
 * (graphql-ws's Forbidden) with the reason.
 */
import type { Principal } from '../../db/index.js';

/** graphql-ws's Forbidden: the token no longer authenticates. */
export const CLOSE_TOKEN_REFUSED = 4403;
/** WebSocket "Try Again Later": the token could not be checked (database unavailable); retry. */
export const CLOSE_TRY_AGAIN_LATER = 1013;

/** The part of a `ws` WebSocket this registry uses. */
export interface SessionSocket {
  /** 1: open (a socket that closed while its token was checked is not tracked). */
  readonly readyState: number;
  close(code: number, reason: string): void;
  once(event: 'close', listener: () => void): unknown;
}

export type EndReason = 'revoked' | 'expired';

const REASONS: Record<EndReason, string> = {
  revoked: 'Forbidden: the token was revoked',
  expired: 'Forbidden: the token expired',
};

const SOCKET_OPEN = 1;

/** Longest setTimeout Node accepts; a later expiry is armed again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class TokenSessions {
  private readonly sockets = new Map<string, Set<SessionSocket>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /**
   * @param onExpired told when a token's sockets were closed at its expiry (to forget the token).
   * @param now the clock (ms).
   */
  constructor(
    private readonly onExpired: (tokenId: string) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Tracks a socket authenticated by `p` until it closes; closes it at once when the token has expired already. */
  add(socket: SessionSocket, p: Principal): void {
    if (socket.readyState !== SOCKET_OPEN) return;
    const expiresAt = p.expiresAt?.getTime();
    if (expiresAt !== undefined && expiresAt <= this.now()) {
      socket.close(CLOSE_TOKEN_REFUSED, REASONS.expired);
      return;
    }
    let set = this.sockets.get(p.tokenId);
    if (!set) this.sockets.set(p.tokenId, (set = new Set()));
    set.add(socket);
    socket.once('close', () => this.remove(p.tokenId, socket));
    if (expiresAt !== undefined && !this.timers.has(p.tokenId)) this.arm(p.tokenId, expiresAt);
  }

  /** Closes every socket of a token; returns how many. */
  close(tokenId: string, reason: EndReason): number {
    const set = this.sockets.get(tokenId);
    this.sockets.delete(tokenId);
    this.disarm(tokenId);
    if (!set) return 0;
    for (const s of set) s.close(CLOSE_TOKEN_REFUSED, REASONS[reason]);
    return set.size;
  }

  /** Tokens with an open socket here. */
  tokenIds(): string[] {
    return [...this.sockets.keys()];
  }

  /** Sockets open for a token. */
  count(tokenId: string): number {
    return this.sockets.get(tokenId)?.size ?? 0;
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private arm(tokenId: string, expiresAt: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(tokenId);
      if (!this.sockets.has(tokenId)) return;
      if (this.now() < expiresAt) return this.arm(tokenId, expiresAt);
      this.close(tokenId, 'expired');
      this.onExpired(tokenId);
    }, Math.min(Math.max(0, expiresAt - this.now()), MAX_TIMER_MS));
    timer.unref();
    this.timers.set(tokenId, timer);
  }

  private disarm(tokenId: string): void {
    const t = this.timers.get(tokenId);
    if (t) clearTimeout(t);
    this.timers.delete(tokenId);
  }

  private remove(tokenId: string, socket: SessionSocket): void {
    const set = this.sockets.get(tokenId);
    if (!set) return;
    set.delete(socket);
    if (set.size === 0) {
      this.sockets.delete(tokenId);
      this.disarm(tokenId);
    }
  }
}
