/**
 * Errors the SDK throws, and the one place where what came over the wire (an HTTP
 * body, a graphql-ws error or close event) becomes a {@link FlintApiError}.
 */
import type { GraphQLFormattedError } from 'graphql';

/** Code of failures where no GraphQL answer arrived: connection refused, reset, timeout, not JSON. */
export const NETWORK = 'NETWORK';

/** graphql-ws close code the gateway uses when it refuses a connection's token, or when that token is revoked or expires later. */
export const CLOSE_FORBIDDEN = 4403;
/** WebSocket "Try Again Later": the gateway could not check the token (its database is unavailable); graphql-ws reconnects. */
export const CLOSE_TRY_AGAIN_LATER = 1013;
/** Close code of a connection refused by an API limit; the reason starts with `RATE_LIMITED:`. */
export const CLOSE_RATE_LIMITED = 4429;

/**
 * A request that the API answered with errors, or that got no usable answer at all.
 * Tests and callers branch on {@link FlintApiError.code}, never on the message.
 */
export class FlintApiError extends Error {
  /** `extensions.code` of the first error (e.g. `BAD_USER_INPUT`), or `NETWORK` when it has none. */
  readonly code: string;
  /** Every error of the response, as the server formatted them. */
  readonly errors: readonly GraphQLFormattedError[];
  /** HTTP status of the response; 0 when none arrived or over WebSocket. */
  readonly status: number;

  constructor(errors: readonly GraphQLFormattedError[], opts: { status?: number; cause?: unknown } = {}) {
    const first = errors[0];
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
    super(`${first?.message ?? 'The API answered with an error but said nothing about it.'}${more}`, { cause: opts.cause });
    this.name = 'FlintApiError';
    const code = first?.extensions?.code;
    this.code = typeof code === 'string' ? code : NETWORK;
    this.errors = errors;
    this.status = opts.status ?? 0;
  }

  /** A failure without any GraphQL answer, as one error with code `NETWORK` (or the code given). */
  static network(message: string, opts: { status?: number; cause?: unknown; code?: string } = {}): FlintApiError {
    return new FlintApiError([{ message, extensions: { code: opts.code ?? NETWORK } }], opts);
  }
}

/** Why {@link FlintWaitError} was thrown. */
export type WaitFailure = 'TIMEOUT' | 'ENDED';

/**
 * `waitForVolume` or `waitForSnapshot` gave up: the condition did not hold within the time
 * allowed (`TIMEOUT`), or the server ended the stream first, e.g. the resource was deleted (`ENDED`).
 */
export class FlintWaitError<T = unknown> extends Error {
  readonly code: WaitFailure;
  /** The last state seen, if any arrived. */
  readonly last: T | undefined;

  constructor(code: WaitFailure, message: string, last: T | undefined) {
    super(message);
    this.name = 'FlintWaitError';
    this.code = code;
    this.last = last;
  }
}

function isFormattedErrors(x: unknown): x is GraphQLFormattedError[] {
  return Array.isArray(x) && x.length > 0 && x.every((e) => typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string');
}

/** The shape of a GraphQL-over-HTTP response, whatever the server sent. */
export interface HttpResult<TData> {
  data?: TData | null;
  errors?: GraphQLFormattedError[];
  status: number;
}

/**
 * Reads a response body (text) into a result. A body that is not a GraphQL response
 * (a proxy's HTML page, an empty 502) becomes one error: `SERVICE_UNAVAILABLE` for
 * 503, `NETWORK` otherwise, so callers always get a code.
 */
export function parseHttpResult<TData>(status: number, text: string): HttpResult<TData> {
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (typeof body === 'object' && body !== null && ('data' in body || 'errors' in body)) {
    const { data, errors } = body as { data?: TData | null; errors?: unknown };
    const result: HttpResult<TData> = { status };
    if (data !== undefined) result.data = data;
    if (isFormattedErrors(errors)) result.errors = errors;
    if (!result.errors && status >= 400) result.errors = [{ message: `HTTP ${status} without any error message.`, extensions: { code: NETWORK } }];
    return result;
  }
  const snippet = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  const code = status === 503 ? 'SERVICE_UNAVAILABLE' : NETWORK;
  return { status, errors: [{ message: `HTTP ${status}: the answer is not a GraphQL response${snippet ? `: ${snippet}` : ''}`, extensions: { code } }] };
}

/** The data of a result, or the {@link FlintApiError} for its errors. */
export function dataOrThrow<TData>(result: HttpResult<TData>): TData {
  if (result.errors?.length) throw new FlintApiError(result.errors, { status: result.status });
  if (result.data === undefined || result.data === null) throw FlintApiError.network(`HTTP ${result.status}: the response has neither data nor errors.`, { status: result.status });
  return result.data;
}

interface CloseLike {
  code: number;
  reason: string;
}

function isCloseLike(x: unknown): x is CloseLike {
  return typeof x === 'object' && x !== null && typeof (x as CloseLike).code === 'number' && 'reason' in x;
}

/**
 * What graphql-ws hands a sink's `error`: the server's errors for the operation, a
 * close event (4403: the token was refused), or an Error of the socket.
 */
export function fromSocketError(x: unknown): FlintApiError {
  if (x instanceof FlintApiError) return x;
  if (isFormattedErrors(x)) return new FlintApiError(x);
  if (isCloseLike(x)) {
    if (x.code === CLOSE_FORBIDDEN) {
      // The gateway says why when a token it had accepted stops working (revoked, expired).
      const why = /token (was revoked|expired)/.exec(x.reason)?.[0];
      return FlintApiError.network(`The gateway refused the WebSocket connection (4403${why ? `: ${why}` : ''}): pass a valid token; ask an admin for one (\`flint token create\`).`, {
        code: 'UNAUTHENTICATED',
      });
    }
    if (x.code === CLOSE_TRY_AGAIN_LATER) {
      return FlintApiError.network('The gateway could not check the token just now (1013, try again later); retry shortly: the token was not refused.', { code: 'SERVICE_UNAVAILABLE', cause: x });
    }
    if (x.code === CLOSE_RATE_LIMITED && x.reason.startsWith('RATE_LIMITED: ')) {
      return FlintApiError.network(x.reason.slice('RATE_LIMITED: '.length), { code: 'RATE_LIMITED' });
    }
    return FlintApiError.network(`The WebSocket closed (${x.code}${x.reason ? ` ${x.reason}` : ''}).`, { cause: x });
  }
  const message = x instanceof Error ? x.message : typeof x === 'object' && x !== null && 'message' in x ? String((x as { message: unknown }).message) : String(x);
  return FlintApiError.network(`The WebSocket failed: ${message || 'no reason given'}.`, { cause: x });
}
