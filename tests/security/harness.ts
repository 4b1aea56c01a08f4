/**
 * A real Flint for the security suite, started in this process as `flint dev` does: its own
 * nats-server, its own SQLite file, an agent with a `file` pool, a scheduler and a gateway
 * on a free port. Requests go over real sockets (HTTP with fetch, graphql-ws over `ws`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/config/index.js';
import { createToken, type Db } from '../../src/db/index.js';
import { startInProcessFlint } from '../helpers/in-process.js';
import { wsClient } from '../helpers/ws.js';

/** What the suite's Flint is for; the fuzzer may need limits raised that the isolation matrix keeps. */
export type HarnessPurpose = 'isolation' | 'fuzz' | 'hygiene';

/**
 * The one place the suite's Flint is configured (environment as an entry point reads it),
 * on top of the in-process stack's own (tests/helpers/in-process.ts: data dir, NATS, free ports).
 * Rate and query-cost limits (RATE_LIMITED, QUERY_TOO_COMPLEX) are raised here for the
 * fuzzer when they exist, so it exercises the resolvers rather than the limiter.
 */
export function securityEnv(purpose: HarnessPurpose): Record<string, string> {
  return {
    // Raw images are the cheapest to make; a small capacity keeps fuzzed creates from
    // filling the disk (past it the scheduler answers NO_VALID_BACKEND, which is cheap).
    FLINT_POOLS: JSON.stringify([{ name: 'p1', imageFormat: 'raw', capacityGiB: purpose === 'fuzz' ? 8 : 40, targets: ['nbd'] }]),
    // The shape and cost limits stay on; the rates are raised, so that the thousands of calls
    // reach the resolvers instead of being RATE_LIMITED (tests/security/rate-limits.test.ts tests the rates).
    FLINT_API_RATE_PER_SECOND: '100000',
    FLINT_API_RATE_BURST: '100000',
    FLINT_API_ANONYMOUS_RATE_PER_SECOND: '100000',
    FLINT_API_ANONYMOUS_BURST: '100000',
    FLINT_API_AUTH_FAILURES_PER_MINUTE: '100000',
    // The isolation matrix holds every probe's subscription open on one socket.
    FLINT_API_WS_MAX_SUBSCRIPTIONS: '100000',
  };
}

export interface GraphQLResponse {
  status: number;
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: unknown[]; extensions?: Record<string, unknown> }>;
}

export interface Flint {
  url: string;
  db: Db;
  /** A new token for `project` (created on first use) with `role`. */
  token(project: string, role: 'admin' | 'member' | 'reader'): Promise<string>;
  /** POSTs one GraphQL request; a body that is not JSON is returned as status and a pseudo error. */
  request(token: string | null, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse>;
  /** POSTs a raw body (for bodies that are not what a client would send). */
  post(token: string | null, body: string): Promise<GraphQLResponse>;
  /** What the roles logged at error level mentioning `text` (a correlation id), for a failure's message. */
  logged(text: string): string[];
  /** `GET /healthz` answered 200. */
  healthy(): Promise<boolean>;
  /** A graphql-ws client for `token`, closed by `stop()`. */
  ws(token: string | null): ReturnType<typeof wsClient>;
  stop(): Promise<void>;
}

/** Starts the whole Flint; `stop()` stops every part even when one fails to stop. */
export async function startFlint(purpose: HarnessPurpose): Promise<Flint> {
  const stoppers: Array<[string, () => Promise<unknown>]> = [];
  const clients: Array<ReturnType<typeof wsClient>> = [];
  const errorLines: string[] = [];
  const stop = async () => {
    const failures: unknown[] = [];
    for (const c of clients.splice(0)) await Promise.resolve(c.dispose()).catch((e: unknown) => failures.push(e));
    for (const [name, fn] of stoppers.splice(0)) {
      await fn().catch((err: unknown) => failures.push(new Error(`stopping ${name} failed`, { cause: err })));
    }
    if (failures.length) throw new AggregateError(failures, 'the security harness did not stop cleanly');
  };
  try {
    // Errors the roles log (an INTERNAL's cause, by correlation id) are kept to explain a failure.
    const log = createLogger(`security-${purpose}`, 'error', {
      write: (line: string) => {
        errorLines.push(line);
        if (errorLines.length > 200) errorLines.shift();
      },
    });
    const inProcess = await startInProcessFlint(`security-${purpose}`, securityEnv(purpose), log);
    stoppers.unshift(['flint', () => inProcess.stop()]);
    const { db, gateway } = inProcess;
    const url = gateway.url;

    const post = async (token: string | null, body: string): Promise<GraphQLResponse> => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
      });
      const text = await res.text();
      try {
        return { status: res.status, ...(JSON.parse(text) as Omit<GraphQLResponse, 'status'>) };
      } catch {
        return { status: res.status, errors: [{ message: `not JSON: ${text.slice(0, 200)}`, extensions: { code: 'NOT_JSON' } }] };
      }
    };
    const flint: Flint = {
      url,
      db,
      token: async (project, role) => (await createToken(db.fork(), project, role, `security ${purpose}`)).token,
      post,
      request: (token, query, variables) => post(token, JSON.stringify({ query, variables })),
      logged: (text) => errorLines.filter((l) => l.includes(text)),
      healthy: async () => (await fetch(new URL('/healthz', url))).status === 200,
      ws: (token) => {
        const c = wsClient(url, token ?? undefined);
        clients.push(c);
        return c;
      },
      stop,
    };
    // Creates fail with NO_VALID_BACKEND until the agent's first pool heartbeat is in.
    const admin = await flint.token('admin', 'admin');
    for (let i = 0; ; i++) {
      const res = await flint.request(admin, '{ pools { state } }');
      if ((res.data?.pools as Array<{ state: string }> | undefined)?.some((p) => p.state === 'UP')) break;
      if (i > 150) throw new Error('the agent pool never came up');
      await sleep(100);
    }
    return flint;
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
