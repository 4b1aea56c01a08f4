/**
 * The API request a process works for, carried across awaits: what `publish()` sends from
 * inside `withRequestId` carries that id in its envelope (`requestId`), so one request can be
 * followed through the logs of every role.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const requestScope = new AsyncLocalStorage<string>();

/**
 * Runs `fn` so that what `publish()` sends from inside it (however deep, e.g. the outbox
 * dispatch of a mutation) carries `requestId`. With `undefined`, `fn` runs as it is.
 */
export function withRequestId<T>(requestId: string | undefined, fn: () => T): T {
  return requestId ? requestScope.run(requestId, fn) : fn();
}

/** The request id of the `withRequestId` scope the caller runs in, if any. */
export function currentRequestId(): string | undefined {
  return requestScope.getStore();
}
