/**
 * Statements prepared once per connection, for the hot reads and writes that skip the ORM
 * (./volume-rows.ts, ./volume-list-sql.ts, ./entity-rows.ts, ./update-rows.ts). They see what
 * the ORM committed; in a transaction (a knex transaction passed in) they run on its connection.
 *
 * - SQLite (better-sqlite3): `prepare` once per connection, kept in a WeakMap keyed by it.
 *   Outside transactions they run on a read-only connection of their own (`readSqliteOn`).
 * - PostgreSQL (pg): a named query on a connection of the ORM's pool, which pg prepares on
 *   a connection the first time it runs there and reuses after.
 */
import { createHash } from 'node:crypto';
import type { Knex } from '@mikro-orm/knex';

/** One statement in each database's syntax (`?` for SQLite, `$1…` for PostgreSQL), and a name unique among them. */
export interface PreparedQuery {
  name: string;
  sqlite: string;
  postgresql: string;
}

type Row = Record<string, unknown>;
interface SqliteStatement {
  all(...params: unknown[]): Row[];
  run(...params: unknown[]): { changes: number };
}
export interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}
interface PgConnection {
  query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: Row[]; rowCount: number | null }>;
}

const sqliteStatements = new WeakMap<object, Map<string, SqliteStatement>>();

function sqliteStatement(conn: SqliteConnection, q: PreparedQuery): SqliteStatement {
  let statements = sqliteStatements.get(conn);
  if (!statements) sqliteStatements.set(conn, (statements = new Map()));
  let statement = statements.get(q.name);
  if (!statement) statements.set(q.name, (statement = conn.prepare(q.sqlite)));
  return statement;
}

function sqliteAll(conn: SqliteConnection, q: PreparedQuery, params: readonly unknown[]): Row[] {
  return sqliteStatement(conn, q).all(...params);
}

/** SQLite connections kept for reads outside transactions, by the ORM's knex (./orm.ts registers them). */
const sqliteReaders = new WeakMap<object, SqliteConnection>();

/**
 * Runs the prepared reads that `knex` (the ORM's pool, not a transaction) is asked for on
 * `reader`, a connection of their own to the same SQLite file. The pool has one connection,
 * which every write transaction holds: a read no longer waits for them (WAL lets a reader see
 * the last commit while a writer works), nor for the pool's acquire and release.
 */
export function readSqliteOn(knex: Knex, reader: SqliteConnection): void {
  sqliteReaders.set(knex, reader);
}

/**
 * The rows of `q` with `params`: on SQLite's reader connection when `knex` has one (see
 * {@link readSqliteOn}), else on a connection of `knex`'s pool, or the transaction's own
 * connection when `knex` is a transaction.
 */
export async function queryPrepared(knex: Knex, kind: 'sqlite' | 'postgresql', q: PreparedQuery, params: readonly unknown[]): Promise<Row[]> {
  const reader = kind === 'sqlite' ? sqliteReaders.get(knex) : undefined;
  if (reader) return sqliteAll(reader, q, params);
  return onConnection(knex, async (conn) => {
    if (kind === 'postgresql') return (await (conn as PgConnection).query({ name: q.name, text: q.postgresql, values: [...params] })).rows;
    return sqliteAll(conn as SqliteConnection, q, params);
  });
}

/**
 * Runs `q` (an UPDATE or DELETE) with `params` on a connection of `knex`'s pool, or the
 * transaction's own when `knex` is a transaction (never SQLite's reader); the rows it changed.
 */
export async function runPrepared(knex: Knex, kind: 'sqlite' | 'postgresql', q: PreparedQuery, params: readonly unknown[]): Promise<number> {
  return onConnection(knex, async (conn) => {
    if (kind === 'postgresql') return (await (conn as PgConnection).query({ name: q.name, text: q.postgresql, values: [...params] })).rowCount ?? 0;
    return sqliteStatement(conn as SqliteConnection, q).run(...params).changes;
  });
}

/** `work` on a connection of `knex` (a transaction's: its own), given back after. */
async function onConnection<T>(knex: Knex, work: (conn: unknown) => Promise<T>): Promise<T> {
  const client = knex.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<unknown> };
  const conn = await client.acquireConnection();
  try {
    return await work(conn);
  } finally {
    await client.releaseConnection(conn);
  }
}

/** Statement texts seen so far, each with its name: one per text, a few per shape of query. */
const named = new Map<string, PreparedQuery>();

/**
 * The prepared query of these texts (one may be empty when only the other database runs it),
 * named by their hash, so a statement built from a filter's shape (./volume-list-sql.ts) is
 * prepared once per connection however often it runs.
 */
export function preparedOf(sqlite: string, postgresql: string): PreparedQuery {
  const key = `${sqlite}\n${postgresql}`;
  let q = named.get(key);
  if (!q) named.set(key, (q = { name: `flint_${createHash('sha1').update(key).digest('hex').slice(0, 16)}`, sqlite, postgresql }));
  return q;
}
