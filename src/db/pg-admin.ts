/**
 * Databases on a PostgreSQL server, made and dropped through an admin connection (user
 * `postgres` on the machine's server by default): `flint cluster` makes its database here,
 * and tests make throw-away ones. A database can also be taken offline and back, as in an
 * outage: its connections are ended and new ones refused, while the server's other
 * databases go on.
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The machine's PostgreSQL, as its admin. */
export const LOCAL_PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

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

async function withAdminClient<T>(adminUrl: string, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const { Client } = await loadPg();
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
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

/**
 * Makes sure the PostgreSQL at `adminUrl` answers, starting the local Debian cluster once
 * when it is local and down.
 */
export async function ensurePostgres(adminUrl: string): Promise<void> {
  try {
    await withAdminClient(adminUrl, async () => undefined);
    return;
  } catch (err) {
    if (!isLocalServer(adminUrl)) throw err;
  }
  try {
    await startLocalCluster();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${adminUrl} and could not be started: ${(err as Error).message}`);
  }
  // The cluster accepts connections a moment after pg_ctlcluster returns.
  let lastError: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      await withAdminClient(adminUrl, async () => undefined);
      return;
    } catch (err) {
      lastError = err;
      await sleep(200);
    }
  }
  throw new Error(`PostgreSQL started but is not reachable at ${adminUrl}: ${String(lastError)}`);
}

/** A database's name, checked to be a plain identifier (so it needs no quoting rules). */
function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`"${name}" is not a database name Flint makes (a-z, 0-9, _)`);
  return name;
}

/** The URL of database `name` on the server of `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${ident(name)}`;
  return url.toString();
}

/** Creates database `name` unless it exists; returns its URL. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  await ensurePostgres(adminUrl);
  await withAdminClient(adminUrl, async (client) => {
    const found = (await client.query(`SELECT 1 FROM pg_database WHERE datname = '${ident(name)}'`)) as { rowCount?: number };
    if (!found.rowCount) await client.query(`CREATE DATABASE "${ident(name)}"`);
  });
  return databaseUrl(adminUrl, name);
}

/** Drops database `name`, ending the connections still open to it; safe when it is gone. */
export function dropDatabase(adminUrl: string, name: string): Promise<void> {
  return withAdminClient(adminUrl, async (client) => void (await client.query(`DROP DATABASE IF EXISTS "${ident(name)}" WITH (FORCE)`)));
}

/**
 * Takes database `name` offline (`false`: its connections are ended and new ones refused,
 * as in an outage or a restart) or brings it back (`true`).
 */
export function setDatabaseAvailable(adminUrl: string, name: string, available: boolean): Promise<void> {
  return withAdminClient(adminUrl, async (client) => {
    await client.query(`ALTER DATABASE "${ident(name)}" ALLOW_CONNECTIONS ${available ? 'true' : 'false'}`);
    if (!available) await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${ident(name)}' AND pid <> pg_backend_pid()`);
  });
}
