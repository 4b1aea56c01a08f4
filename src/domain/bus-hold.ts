/**
 * Deadlines do not run out while the bus is down (issue 14, found by the chaos suite). After
 * a NATS node was killed, nats-server 2.9 answered "jetstream is not enabled: no responders"
 * for up to 50 s, and a stream could stall for about 70 s; operations whose commands or
 * answers were stuck in it missed the 60 s deadline and failed in the open, although nothing
 * was wrong but the wait. So every probe that finds JetStream unreachable pushes the deadline
 * of each open operation to at least `holdMs` from now: an operation gets that long after the
 * bus is back (during which its command is sent again, see resend.ts), and then the usual
 * deadline applies. A gateway cut off from a bus that others still reach would hold them for
 * ever, so only operations younger than `HOLD_AT_MOST` timeouts are held. Pure.
 */
import { resendIntervalMs } from './resend.js';

/** Operations older than this many timeouts are not held any more. */
export const HOLD_AT_MOST = 3;

export interface BusHold {
  /** Open operations with an earlier deadline get this one. */
  readonly deadlineAt: Date;
  /** Only operations created after this are held. */
  readonly createdAfter: Date;
}

/** How long an operation gets after the bus is back: one resend interval (a quarter of the timeout, 5 s to 60 s). */
export function holdMs(timeoutSeconds: number): number {
  return resendIntervalMs(timeoutSeconds);
}

/** What one probe that found the bus down does to the deadlines, at `now`. */
export function busHold(now: number, timeoutSeconds: number): BusHold {
  return { deadlineAt: new Date(now + holdMs(timeoutSeconds)), createdAfter: new Date(now - HOLD_AT_MOST * timeoutSeconds * 1000) };
}
