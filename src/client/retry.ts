/**
 * When the SDK tries a request again, and how long it waits: a pure policy so a unit
 * test can drive it with plain values.
 */

/** Tries after the first one. @default 2 */
export const DEFAULT_RETRIES = 2;
/** First backoff step. @default 200 */
export const DEFAULT_BACKOFF_BASE_MS = 200;
/** Longest single wait. @default 5_000 */
export const DEFAULT_BACKOFF_CAP_MS = 5_000;

/** Error codes of sockets that never connected: the request cannot have reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

/** One failed attempt, as the policy sees it. */
export interface AttemptFailure {
  /** `extensions.code` of the first error, or `NETWORK`. */
  code: string;
  /** HTTP status; 0 when no response arrived. */
  status: number;
  /** True when the request cannot have reached the server (e.g. connection refused). */
  notSent: boolean;
  /** How long the gateway asked to wait (`RATE_LIMITED`'s `retryAfterSeconds`), in ms. */
  retryAfterMs?: number;
}

/** What is being retried. */
export interface RetryContext {
  /** Failed attempts so far (1 after the first failure). */
  attempt: number;
  /** Tries allowed after the first. */
  retries: number;
  /** Mutations are retried only when nothing can have been done by the failed attempt. */
  mutation: boolean;
}

/**
 * Whether to try again. `SERVICE_UNAVAILABLE` is the gateway saying nothing was done,
 * so it is always safe. A network failure is safe for queries; for a mutation only
 * when the request never left (an answer lost on the way back could mean the
 * mutation ran, and running it twice would create two volumes without an
 * idempotency key).
 */
export function shouldRetry(failure: AttemptFailure, ctx: RetryContext): boolean {
  if (ctx.attempt > ctx.retries) return false;
  if (failure.code === 'SERVICE_UNAVAILABLE') return true;
  // Refused before anything ran: safe to repeat, when the wait asked for is short.
  if (failure.code === 'RATE_LIMITED') return (failure.retryAfterMs ?? 0) <= DEFAULT_BACKOFF_CAP_MS;
  if (failure.code !== 'NETWORK') return false;
  if (failure.status !== 0 && failure.status < 502) return false;
  return !ctx.mutation || failure.notSent;
}

/** Wait before trying again after `failure`: the backoff, or longer when the gateway asked for it. */
export function waitMs(failure: AttemptFailure, attempt: number): number {
  return Math.max(backoffMs(attempt), failure.retryAfterMs ?? 0);
}

/**
 * Wait before try `attempt + 1`: exponential from `baseMs`, capped, with half of it
 * random so many clients do not come back at the same instant.
 */
export function backoffMs(attempt: number, baseMs = DEFAULT_BACKOFF_BASE_MS, capMs = DEFAULT_BACKOFF_CAP_MS, random: () => number = Math.random): number {
  const step = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (step / 2) * random());
}

/** Whether an error thrown by `fetch` happened before anything was sent (it looks at `cause.code` and an AggregateError's errors). */
export function isNotSent(err: unknown): boolean {
  const codes: string[] = [];
  const collect = (e: unknown, depth: number): void => {
    if (typeof e !== 'object' || e === null || depth > 3) return;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    collect((e as { cause?: unknown }).cause, depth + 1);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const inner of errors) collect(inner, depth + 1);
  };
  collect(err, 0);
  return codes.length > 0 && codes.every((c) => NOT_SENT_CODES.has(c));
}
