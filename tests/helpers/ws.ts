/** A real graphql-ws client for tests: collects what a subscription yields, and its end. */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { pollUntil } from './wait.js';

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
    waitFor: (pred, timeoutMs = 20_000) => pollUntil(() => state.values.find(pred), timeoutMs, () => `no matching value; got ${JSON.stringify(state.values)} errors ${JSON.stringify(state.errors)}`, 50),
    waitComplete: (timeoutMs = 20_000) => pollUntil(() => (state.completed ? true : undefined), timeoutMs, () => 'subscription did not complete', 50).then(() => undefined),
    waitError: (timeoutMs = 20_000) => pollUntil(() => state.errors[0], timeoutMs, () => `no error; values ${JSON.stringify(state.values)}`, 50),
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
