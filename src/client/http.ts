/** GraphQL over HTTP with global `fetch`, the bearer token and the retry policy. */
import { setTimeout as sleep } from 'node:timers/promises';
import { FlintApiError, parseHttpResult, type HttpResult } from './errors.js';
import { isNotSent, shouldRetry, waitMs, type AttemptFailure } from './retry.js';

/** One GraphQL request as sent. */
export interface GraphQLBody {
  query: string;
  variables?: unknown;
  operationName?: string;
}

/** How {@link postGraphQL} talks to the gateway. */
export interface HttpOptions {
  url: string;
  token: string | undefined;
  retries: number;
  /** Per attempt. */
  timeoutMs: number;
  /** Whether the operation is a mutation (changes what is retried). */
  mutation: boolean;
}

/**
 * Posts a request and reads the answer, trying again as {@link shouldRetry} allows.
 * GraphQL errors are returned, not thrown.
 * @throws FlintApiError `NETWORK` when no answer arrived after the last try.
 */
export async function postGraphQL<TData>(body: GraphQLBody, opts: HttpOptions): Promise<HttpResult<TData>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const payload = JSON.stringify(body);
  for (let attempt = 1; ; attempt++) {
    let failure: AttemptFailure;
    let result: HttpResult<TData> | undefined;
    let error: FlintApiError | undefined;
    try {
      const res = await fetch(opts.url, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(opts.timeoutMs) });
      result = parseHttpResult<TData>(res.status, await res.text());
      const code = result.errors?.[0]?.extensions?.code;
      const retryAfter = result.errors?.[0]?.extensions?.retryAfterSeconds;
      failure = { code: typeof code === 'string' ? code : 'NONE', status: res.status, notSent: false };
      if (typeof retryAfter === 'number') failure.retryAfterMs = retryAfter * 1000;
    } catch (err) {
      const notSent = isNotSent(err);
      const reason = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${opts.timeoutMs} ms` : describe(err);
      error = FlintApiError.network(`Could not reach the Flint gateway at ${opts.url}: ${reason}.`, { cause: err });
      failure = { code: 'NETWORK', status: 0, notSent };
    }
    if (result && !result.errors?.length) return result;
    if (!shouldRetry(failure, { attempt, retries: opts.retries, mutation: opts.mutation })) {
      if (result) return result;
      throw error!;
    }
    await sleep(waitMs(failure, attempt));
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return cause ? `${cause.message || (typeof code === 'string' ? code : cause.name)}` : err.message;
}
