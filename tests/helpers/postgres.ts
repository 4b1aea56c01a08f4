/**
 * Throw-away PostgreSQL databases for tests, so tests can run in parallel and
 * never see each other's rows. The server is the machine's PostgreSQL on
 * 127.0.0.1:5432 (trust auth, user `postgres`); set FLINT_TEST_PG_ADMIN_URL to
 * use another one.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Admin connection used to create and drop test databases. */
const ADMIN_URL = process.env.FLINT_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database created for one test (or test file). */
export interface TempDatabase {
  /** Connection URL of the new, empty database. */
  url: string;
  /** Drops the database, closing any connections still open to it; safe to call twice. */
  drop(): Promise<void>;
  /**
   * Makes the database unavailable (`false`: new connections are refused and open ones
   * terminated, as in an outage) or available again (`true`).
   */
  setAvailable(available: boolean): Promise<void>;
}

// The part of `pg` used here. `pg` is installed as a dependency of
// @mikro-orm/postgresql but has no type declarations in this project, so it is
// imported through a non-literal specifier and typed by hand.
interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface PgModule {
  Client: new (config: { connectionString: string; connectionTimeoutMillis?: number }) => PgClient;
}

let pgModule: Promise<PgModule> | undefined;

function loadPg(): Promise<PgModule> {
  const specifier: string = 'pg';
  pgModule ??= (import(specifier) as Promise<Partial<PgModule> & { default?: PgModule }>).then((mod) => {
    const Client = mod.Client ?? mod.default?.Client;
    if (Client === undefined) throw new Error('the `pg` package does not export Client');
    return { Client };
  });
  return pgModule;
}

async function withAdminClient<T>(fn: (client: PgClient) => Promise<T>): Promise<T> {
  const { Client } = await loadPg();
  const client = new Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  // An idle client whose server goes away emits 'error'; unhandled, it would crash the test worker.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function isLocalServer(url: string): boolean {
  const host = new URL(url).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || host === '';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let startAttempt: Promise<void> | undefined;

/**
 * Starts the local Debian cluster, at most once per process: a container that
 * was just booted has PostgreSQL installed but not running.
 */
function startLocalCluster(): Promise<void> {
  startAttempt ??= (async () => {
    const versions = (await readdir('/etc/postgresql').catch(() => [] as string[])).sort(
      (a, b) => Number(b) - Number(a),
    );
    const version = versions[0];
    if (version === undefined) throw new Error('PostgreSQL is not installed (/etc/postgresql is empty or missing)');
    await execFileAsync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']).catch(
      (err: Error & { stdout?: string; stderr?: string }) => {
        // "Cluster is already running." (exit 2) is fine: another worker may have started it first.
        if (!/already running/i.test(`${err.stdout ?? ''}${err.stderr ?? ''}`)) throw err;
      },
    );
  })();
  return startAttempt;
}

async function ensureServer(): Promise<void> {
  try {
    await withAdminClient(async () => undefined);
    return;
  } catch (err) {
    if (!isLocalServer(ADMIN_URL)) throw err;
  }
  try {
    await startLocalCluster();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${ADMIN_URL} and could not be started: ${(err as Error).message}`);
  }
  // The cluster accepts connections a moment after pg_ctlcluster returns.
  let lastError: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      await withAdminClient(async () => undefined);
      return;
    } catch (err) {
      lastError = err;
      await sleep(200);
    }
  }
  throw new Error(`PostgreSQL started but is not reachable at ${ADMIN_URL}: ${String(lastError)}`);
}

/**
 * Creates an empty database `flint_test_<random>` on the test PostgreSQL
 * server (starting the local cluster once if it is down) and returns its URL.
 * `drop()` removes it with `DROP DATABASE … WITH (FORCE)`, so connections a
 * failed test left open do not block the cleanup.
 */
export async function createTempDatabase(): Promise<TempDatabase> {
  await ensureServer();
  // Hex only, so the name is a safe identifier without escaping.
  const name = `flint_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => withAdminClient(async (client) => void (await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))),
    setAvailable: (available) =>
      withAdminClient(async (client) => {
        await client.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS ${available ? 'true' : 'false'}`);
        if (!available) await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`);
      }),
  };
}
