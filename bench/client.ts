/**
 * One benchmark client as a real user would be: its own keep-alive HTTP connection for
 * GraphQL POSTs and its own graphql-ws connection carrying one `volumeEvents`
 * subscription, opened before it creates anything. A create is done when that
 * subscription delivers the volume with status AVAILABLE.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface GqlResult<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

interface Outcome {
  ok: boolean;
  status: string;
  at: number;
}

interface Waiter {
  resolve: (o: Outcome) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const CREATE = 'mutation($input: CreateVolumeInput!) { createVolume(input: $input) { volume { id status } operation { id } } }';
const EVENTS = 'subscription { volumeEvents { type volume { id status } } }';

export class BenchClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly ws: Client;
  private readonly target: URL;
  /** Final outcome per volume id as first seen on the subscription, with its arrival time. */
  private readonly seen = new Map<string, Outcome>();
  private readonly waiters = new Map<string, Waiter>();
  private failure: Error | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    url: string,
    private readonly token: string,
  ) {
    this.target = new URL(url);
    this.ws = createClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: true,
      retryAttempts: 0,
    });
  }

  /** Opens the subscription; call {@link createAndWait} once after it to know it is live. */
  subscribe(): void {
    this.unsubscribe = this.ws.subscribe<{ volumeEvents: { type: string; volume: { id: string; status: string } } }>(
      { query: EVENTS },
      {
        next: (r) => {
          const at = performance.now();
          if (r.errors) return this.fail(new Error(`subscription error: ${JSON.stringify(r.errors)}`));
          const v = r.data?.volumeEvents.volume;
          if (!v || this.seen.has(v.id)) return;
          const ok = v.status === 'AVAILABLE';
          if (!ok && !v.status.startsWith('ERROR')) return;
          const outcome = { ok, status: v.status, at };
          this.seen.set(v.id, outcome);
          const w = this.waiters.get(v.id);
          if (w) {
            this.waiters.delete(v.id);
            clearTimeout(w.timer);
            w.resolve(outcome);
          }
        },
        error: (e) => this.fail(new Error(`subscription failed: ${e instanceof Error ? e.message : JSON.stringify(e)}`)),
        complete: () => this.fail(new Error('subscription completed by the server')),
      },
    );
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const [id, w] of this.waiters) {
      clearTimeout(w.timer);
      w.reject(err);
      this.waiters.delete(id);
    }
  }

  /**
   * A GraphQL POST on this client's own connection. A kept-alive socket the gateway closed
   * while it was idle (between phases) resets the next request before the server reads
   * it: that request is sent once more on a new socket (Node's documented remedy).
   */
  async gql<T>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>> {
    try {
      return await this.post<T>(query, variables);
    } catch (err) {
      if ((err as { staleSocket?: boolean }).staleSocket) return this.post<T>(query, variables);
      throw err;
    }
  }

  private post<T>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>> {
    const body = JSON.stringify({ query, variables });
    return new Promise((resolve, reject) => {
      const req = request(
        this.target,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${this.token}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as GqlResult<T>);
            } catch {
              reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 500)}`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (req.reusedSocket && err.code === 'ECONNRESET') Object.assign(err, { staleSocket: true });
        reject(err);
      });
      req.end(body);
    });
  }

  private outcome(id: string, timeoutMs: number): Promise<Outcome> {
    const known = this.seen.get(id);
    if (known) return Promise.resolve(known);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`volume ${id} not AVAILABLE on the subscription within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
    });
  }

  /**
   * Creates a 1 GiB volume and resolves when this client's subscription shows it AVAILABLE:
   * `sentAt` is just before the POST, `availableAt` the arrival of that event.
   */
  async createAndWait(name: string, timeoutMs = 60_000): Promise<{ id: string; operationId: string; sentAt: number; availableAt: number; latencyMs: number }> {
    const sentAt = performance.now();
    const r = await this.gql<{ createVolume: { volume: { id: string }; operation: { id: string } } }>(CREATE, { input: { name, sizeGiB: 1 } });
    if (r.errors || !r.data) throw new Error(`createVolume failed: ${JSON.stringify(r.errors)}`);
    const id = r.data.createVolume.volume.id;
    const o = await this.outcome(id, timeoutMs);
    if (!o.ok) throw new Error(`volume ${id} ended ${o.status}`);
    return { id, operationId: r.data.createVolume.operation.id, sentAt, availableAt: o.at, latencyMs: o.at - sentAt };
  }

  /** Forgets outcomes seen so far (between phases, so the map stays small). */
  forget(): void {
    this.seen.clear();
  }

  async close(): Promise<void> {
    this.fail(new Error('client closed'));
    this.unsubscribe?.();
    await this.ws.dispose();
    this.agent.destroy();
  }
}
