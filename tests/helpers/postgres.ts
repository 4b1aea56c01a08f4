/**
 * Throw-away PostgreSQL databases for tests, so tests can run in parallel and
 * never see each other's rows. The server is the machine's PostgreSQL on
 * 127.0.0.1:5432 (trust auth, user `postgres`); set FLINT_TEST_PG_ADMIN_URL to
 * use another one.
 */
import { randomBytes } from 'node:crypto';
import { databaseUrl, dropDatabase, ensureDatabase, LOCAL_PG_ADMIN_URL, setDatabaseAvailable } from '../../src/db/pg-admin.js';

/** Admin connection used to create and drop test databases. */
const ADMIN_URL = process.env.FLINT_TEST_PG_ADMIN_URL ?? LOCAL_PG_ADMIN_URL;

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

/**
 * Creates an empty database `flint_test_<random>` on the test PostgreSQL
 * server (starting the local cluster once if it is down) and returns its URL.
 * `drop()` removes it with `DROP DATABASE … WITH (FORCE)`, so connections a
 * failed test left open do not block the cleanup.
 */
export async function createTempDatabase(): Promise<TempDatabase> {
  // Hex only, so the name is a safe identifier without escaping.
  const name = `flint_test_${randomBytes(6).toString('hex')}`;
  await ensureDatabase(ADMIN_URL, name);
  return {
    url: databaseUrl(ADMIN_URL, name),
    drop: () => dropDatabase(ADMIN_URL, name),
    setAvailable: (available) => setDatabaseAvailable(ADMIN_URL, name, available),
  };
}
