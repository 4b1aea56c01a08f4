/**
 * The dashboard's one connection to the gateway: graphql-ws on `/graphql` of the page's
 * own origin. It reconnects forever with a growing, jittered delay; subscriptions resume
 * by themselves (graphql-ws subscribes again) and `onConnected` tells the page to load
 * its initial data again. A ping every 10 s that gets no pong within 5 s drops the
 * socket, so a half-open connection is noticed too.
 */
import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';

export type Phase = 'connecting' | 'live' | 'reconnecting' | 'rejected' | 'failed';

export interface ConnectionEvents {
  phase(phase: Phase, detail?: string): void;
  /** The socket is (again) acknowledged: reload what subscriptions do not resend. */
  onConnected(): void;
}

/** graphql-ws close code of a refused `connection_init` (a bad or revoked token). */
const FORBIDDEN = 4403;
const PING_EVERY_MS = 10_000;
const PONG_WITHIN_MS = 5_000;

export function graphqlUrl(loc: Location = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/graphql`;
}

/** Delay before reconnect attempt `retries` (0-based): 1, 2, 4, 8, then 15 s, plus up to 1 s of jitter. */
export function retryDelayMs(retries: number, random: () => number = Math.random): number {
  return Math.min(1000 * 2 ** retries, 15_000) + Math.floor(random() * 1000);
}

export interface Connection {
  /** Follows a subscription until `dispose()`; returns its own unsubscribe. */
  subscribe<T>(query: string, next: (data: T) => void, error?: (message: string) => void): () => void;
  /** One query over the socket; `cancel()` drops it (and its late answer). */
  request<T>(query: string, variables?: Record<string, unknown>): { result: Promise<T>; cancel(): void };
  dispose(): void;
}

export function connect(token: string, events: ConnectionEvents): Connection {
  let everConnected = false;
  let disposed = false;
  let socket: WebSocket | undefined;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;

  const client: Client = createClient({
    url: graphqlUrl(),
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: false,
    keepAlive: PING_EVERY_MS,
    retryAttempts: Infinity,
    // The default retries only on close events; a failed connect is an `error` event in browsers.
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, retryDelayMs(retries))),
    onNonLazyError: (err) => {
      if (!disposed) events.phase('failed', describe(err));
    },
    on: {
      connecting: (isRetry) => events.phase(everConnected || isRetry ? 'reconnecting' : 'connecting'),
      opened: (s) => {
        socket = s as WebSocket;
      },
      connected: () => {
        everConnected = true;
        events.phase('live');
        events.onConnected();
      },
      ping: (received) => {
        if (received) return;
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => {
          if (socket?.readyState === WebSocket.OPEN) socket.close(4408, 'No pong');
        }, PONG_WITHIN_MS);
      },
      pong: (received) => {
        if (received) clearTimeout(pongTimer);
      },
      closed: (ev) => {
        clearTimeout(pongTimer);
        socket = undefined;
        if (disposed) return;
        if ((ev as CloseEvent | undefined)?.code === FORBIDDEN) {
          // graphql-ws would retry a refused token forever: stop and ask for another.
          disposed = true;
          events.phase('rejected');
          void client.dispose();
          return;
        }
        events.phase('reconnecting');
      },
    },
  });

  return {
    subscribe<T>(query: string, next: (data: T) => void, error?: (message: string) => void) {
      return client.subscribe<T>(
        { query },
        {
          next: (r: FormattedExecutionResult<T, unknown>) => {
            if (r.errors?.length) error?.(r.errors.map((e) => e.message).join('; '));
            else if (r.data) next(r.data);
          },
          error: (err) => {
            if (!disposed) error?.(describe(err));
          },
          complete: () => undefined,
        },
      );
    },
    request<T>(query: string, variables?: Record<string, unknown>) {
      let cancelled = false;
      let stop: () => void = () => undefined;
      const result = new Promise<T>((resolve, reject) => {
        let answer: FormattedExecutionResult<T, unknown> | undefined;
        stop = client.subscribe<T>(
          { query, variables },
          {
            next: (r) => {
              answer = r;
            },
            error: (err) => reject(new Error(describe(err))),
            complete: () => {
              if (cancelled) return;
              if (answer?.errors?.length) reject(new Error(answer.errors.map((e) => e.message).join('; ')));
              else if (answer?.data) resolve(answer.data);
              else reject(new Error('The gateway sent no data.'));
            },
          },
        );
      });
      return {
        result,
        cancel: () => {
          cancelled = true;
          stop();
        },
      };
    },
    dispose() {
      disposed = true;
      clearTimeout(pongTimer);
      void client.dispose();
    },
  };
}

function describe(err: unknown): string {
  if (Array.isArray(err)) return err.map((e: { message?: string }) => e.message ?? String(e)).join('; ');
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'code' in err) {
    const e = err as { code: number; reason?: string };
    return `connection closed (${e.code}${e.reason ? `: ${e.reason}` : ''})`;
  }
  return 'connection failed';
}
