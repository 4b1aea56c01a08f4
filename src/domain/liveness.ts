/**
 * When a pool or a service counts as DOWN, from its heartbeats (Cinder's
 * `service_down_time`, counted in beats rather than seconds): every role beats every
 * `intervalSeconds` (FLINT_HEARTBEAT_SECONDS), and one silent for `MISSED_BEATS_DOWN` of
 * them is DOWN. The scheduler places nothing on a DOWN pool, and the API shows it DOWN. Pure.
 */

/** Heartbeats a pool or a service may miss in a row and still be UP. */
export const MISSED_BEATS_DOWN = 3;

/** How long a sender that beats every `intervalSeconds` may stay silent and still be UP, in ms. */
export function silenceLimitMs(intervalSeconds: number): number {
  return intervalSeconds * MISSED_BEATS_DOWN * 1000;
}

/** The instant before which a heartbeat of a sender beating every `intervalSeconds` says it is DOWN. */
export function staleBefore(intervalSeconds: number, now: number = Date.now()): Date {
  return new Date(now - silenceLimitMs(intervalSeconds));
}

/** When a sender whose last heartbeat was `at` turns DOWN (ms since the epoch; NaN when `at` is unreadable). */
export function downAt(at: string | Date, intervalSeconds: number): number {
  return new Date(at).getTime() + silenceLimitMs(intervalSeconds);
}

/**
 * Whether a sender whose last heartbeat was `at` is UP at `now`: its heartbeat is at most
 * `MISSED_BEATS_DOWN` intervals old. An unreadable `at` is DOWN.
 */
export function isUp(at: string | Date, intervalSeconds: number, now: number = Date.now()): boolean {
  return now <= downAt(at, intervalSeconds);
}
