/** A real graphql-ws client for tests: collects what a subscription yields, and its end. */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Collected<T> {
  values: T[];
  errors: unknown[];
  completed: boolean;
  /** Resolves with the first value (from the start) that satisfies `pred`. */
  waitFor(pred: (v: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Resolves when the server completes the subscription. */
  waitComplete(timeoutMs?: number): Promise<void>;
  /** Resolves when the server sends an error. */
  waitError(timeoutMs?: number): Promise<unknown>;
  close(): void;
}

export function wsClient(url: string, token?: string): Client {
  return createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    lazy: true,
    retryAttempts: 0,
  });
}

export function collect<T>(client: Client, query: string, variables: Record<string, unknown>, pick: (data: Record<string, unknown>) => T): Collected<T> {
  const state: Collected<T> = {
    values: [],
    errors: [],
    completed: false,
    waitFor: (pred, timeoutMs = 20_000) => poll(() => state.values.find(pred), timeoutMs, () => `no matching value; got ${JSON.stringify(state.values)} errors ${JSON.stringify(state.errors)}`),
    waitComplete: (timeoutMs = 20_000) => poll(() => (state.completed ? true : undefined), timeoutMs, () => 'subscription did not complete').then(() => undefined),
    waitError: (timeoutMs = 20_000) => poll(() => state.errors[0], timeoutMs, () => `no error; values ${JSON.stringify(state.values)}`),
    close: () => dispose(),
  };
  const dispose = client.subscribe(
    { query, variables },
    {
      next: (r) => {
        if (r.errors) state.errors.push(r.errors);
        if (r.data) state.values.push(pick(r.data as Record<string, unknown>));
      },
      error: (e) => state.errors.push(e),
      complete: () => {
        state.completed = true;
      },
    },
  );
  return state;
}

async function poll<R>(get: () => R | undefined, timeoutMs: number, message: () => string): Promise<R> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(message());
    await new Promise((r) => setTimeout(r, 50));
  }
}
