/**
 * A real gateway in this process, for HTTP and WebSocket tests that need no agent or
 * scheduler: its own nats-server, a migrated SQLite file or temporary PostgreSQL database,
 * and `startGateway` on a free port, as tests/integration/client.test.ts starts one. A
 * second gateway can share the first's NATS and database (`alongside`), as several
 * gateways do in production. Its JSON log lines are kept in `logs`.
 */
import { join } from 'node:path';
import { connectBus, type Bus } from '../../src/bus/index.js';
import type { NatsServerProcess } from '../../src/cli/dev/nats-server.js';
import { createLogger, loadConfig, type FlintConfig } from '../../src/config/index.js';
import { createToken, openDb, type Db, type Role } from '../../src/db/index.js';
import { startGateway } from '../../src/gateway/index.js';
import type { Backend } from './databases.js';
import { withNats } from './nats.js';
import { createTempDatabase, type TempDatabase } from './postgres.js';
import { tempDir } from './tmp.js';
import { StopStack } from '../../src/lifecycle/index.js';
import { UNLIMITED_QUOTAS } from './quota-env.js';

export interface TestGateway {
  /** `http://127.0.0.1:PORT/graphql` */
  url: string;
  /** `http://127.0.0.1:PORT` */
  base: string;
  backend: Backend;
  config: FlintConfig;
  /** This gateway's own connection pool and bus connection. */
  db: Db;
  bus: Bus;
  nats: Pick<NatsServerProcess, 'url'>;
  /** FLINT_DATABASE_URL of the database, for the CLI. */
  databaseUrl: string;
  /** The temporary PostgreSQL database this gateway made (not one it shares). */
  pg?: TempDatabase;
  dataDir: string;
  /** The gateway's log lines (JSON), level info and up. */
  logs: string[];
  /** A new token straight in the database. */
  token(project: string, role: Role, opts?: { expiresAt?: Date | null; name?: string }): Promise<{ token: string; id: string; projectId: string }>;
  /** Stops the gateway and everything this one started (not what it shares). */
  stop(): Promise<void>;
}

export interface StartTestGatewayOptions {
  backend: Backend;
  /** Share the NATS and database of this gateway instead of starting new ones. */
  alongside?: TestGateway;
  /** More configuration, e.g. `{ FLINT_METRICS_TOKEN_FILE: file }`. */
  env?: Record<string, string>;
}

export async function startTestGateway(opts: StartTestGatewayOptions): Promise<TestGateway> {
  const cleanups = new StopStack();
  const stop = (): Promise<void> => cleanups.unwindOrThrow();
  try {
    const dir = await tempDir('flint-gw-');
    cleanups.push('temporary directory', () => dir.cleanup());
    let natsUrl: string;
    let databaseUrl: string;
    let pg: TempDatabase | undefined;
    if (opts.alongside) {
      natsUrl = opts.alongside.nats.url;
      databaseUrl = opts.alongside.databaseUrl;
    } else {
      const nats = await withNats();
      cleanups.push('nats-server', () => nats.stop());
      natsUrl = nats.url;
      if (opts.backend === 'postgresql') {
        const made = await createTempDatabase();
        cleanups.push('database', () => made.drop());
        databaseUrl = made.url;
        pg = made;
      } else {
        databaseUrl = `sqlite:${join(dir.path, 'flint.sqlite')}`;
      }
    }
    const config = loadConfig({
      FLINT_DATA_DIR: dir.path,
      FLINT_NATS_URL: natsUrl,
      FLINT_DATABASE_URL: databaseUrl,
      FLINT_LISTEN: '127.0.0.1:0',
      FLINT_AGENT_HOST: 'gw-test',
      FLINT_HEARTBEAT_SECONDS: '1',
      FLINT_QUOTA_DEFAULTS: UNLIMITED_QUOTAS,
      ...opts.env,
    });
    const logs: string[] = [];
    const log = createLogger('gateway-test', 'info', { write: (s: string) => void logs.push(s) });
    const db = await openDb(config.database);
    cleanups.push('database connection', () => db.close());
    if (!opts.alongside) await db.migrate();
    const bus = await connectBus(natsUrl, 'gateway-test');
    cleanups.push('NATS connection', () => bus.close());
    const gw = await startGateway(config, bus, db, log);
    cleanups.push('gateway', () => gw.stop());
    return {
      url: gw.url,
      base: gw.url.replace(/\/graphql$/, ''),
      backend: opts.backend,
      config,
      db,
      bus,
      nats: { url: natsUrl },
      databaseUrl,
      ...(pg ? { pg } : {}),
      dataDir: dir.path,
      logs,
      token: async (project, role, o = {}) => {
        const c = await createToken(db.fork(), project, role, o.name, { expiresAt: o.expiresAt ?? null });
        return { token: c.token, id: c.row.id, projectId: c.principal.projectId };
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** A GraphQL POST; the whole answer with its status and headers. */
export async function post(
  url: string,
  token: string | undefined,
  query: string,
  variables?: unknown,
): Promise<{ status: number; headers: Headers; body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as never };
}

/** `extensions.code` of the first error, if any. */
export const codeOf = (r: { body: { errors?: Array<{ extensions?: Record<string, unknown> }> } }): unknown => r.body.errors?.[0]?.extensions?.code;

/** A bare graphql-ws socket, to see exactly how the gateway closes it. */
export interface RawSocket {
  /** Resolves on `connection_ack`; rejects when the socket closes first. */
  acked: Promise<void>;
  /** Resolves when the socket closes, with the close code, the reason and the time (ms). */
  closed: Promise<{ code: number; reason: string; at: number }>;
  /** Sends a `subscribe` message (after the ack). */
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
  /** Messages received, parsed. */
  messages: Array<{ type: string; id?: string; payload?: unknown }>;
  close(): void;
}

export async function rawSocket(url: string, token: string | undefined): Promise<RawSocket> {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const messages: RawSocket['messages'] = [];
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })),
  );
  const acked = new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as RawSocket['messages'][number];
      messages.push(m);
      if (m.type === 'connection_ack') resolve();
    });
    void closed.then((c) => reject(new Error(`closed before the ack: ${c.code} ${c.reason}`)));
  });
  acked.catch(() => undefined);
  ws.once('error', () => undefined);
  ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} })));
  return {
    acked,
    closed,
    messages,
    subscribe: (id, query, variables = {}) => ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
    close: () => ws.close(1000, 'done'),
  };
}
