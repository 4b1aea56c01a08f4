/**
 * Deadlines do not run out while the bus is down (issue 14, found by the chaos suite). After
 * a NATS node was killed, nats-server 2.9 answered "jetstream is not enabled: no responders"
 * for up to 50 s, and a stream could stall for about 70 s; operations whose commands or
 * answers were stuck in it missed the 60 s deadline and failed in the open, although nothing
 * was wrong but the wait. So every probe that finds JetStream unreachable pushes the deadline
 * of each open operation to at least `holdMs` from now: an operation gets that long after the
 * bus is back (during which an agent command is sent again, see resend.ts), and then the
 * usual deadline applies. A gateway cut off from a bus that others still reach would hold
 * them for ever, so only operations younger than `HOLD_AT_MOST` timeouts are held. Pure.
 */

/** Operations older than this many timeouts are not held any more. */
export const HOLD_AT_MOST = 3;

export interface BusHold {
  /** Open operations with an earlier deadline get this one. */
  readonly deadlineAt: Date;
  /** Only operations created after this are held. */
  readonly createdAfter: Date;
}

/**
 * How long an operation gets after the bus is back: half the timeout, 5 s to 5 min. Commands
 * stored during a stall were seen to reach their agent up to 35 s after the stream recovered
 * (its consumers' leaders moved once more), and the resends need a round or two.
 */
export function holdMs(timeoutSeconds: number): number {
  return Math.min(300_000, Math.max(5_000, Math.round((timeoutSeconds * 1000) / 2)));
}

/** What one probe that found the bus down does to the deadlines, at `now`. */
export function busHold(now: number, timeoutSeconds: number): BusHold {
  return { deadlineAt: new Date(now + holdMs(timeoutSeconds)), createdAfter: new Date(now - HOLD_AT_MOST * timeoutSeconds * 1000) };
}

/** A stream's replicas as its info shows them: how many it has, its leader (none: no leader) and its followers. */
export interface StreamReplicas {
  readonly replicas: number;
  readonly leader?: string | undefined;
  readonly followers: ReadonlyArray<{ readonly name: string; readonly current: boolean }>;
}

/**
 * Whether a stream has a leader and a quorum of current replicas, the leader included: what
 * it needs to store and deliver commands. With one node of three down the other two are a
 * quorum; with both followers behind (seen after a node kill: they reset their copy of the
 * stream again and again for 90 s while the leader still took publishes), it has none. A
 * stream of one replica always has.
 */
export function streamHasQuorum(s: StreamReplicas): boolean {
  if (s.replicas <= 1) return true;
  if (!s.leader) return false;
  return 1 + s.followers.filter((f) => f.current).length >= Math.floor(s.replicas / 2) + 1;
}
