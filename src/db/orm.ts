/**
 * ORM setup for both databases. SQLite (better-sqlite3, WAL, busy timeout, a transaction
 * made stale by another process's commit run again: ./sqlite-busy.ts) is the embedded
 * default; PostgreSQL is for production and several gateways. Schema changes are
 * migrations, one list per dialect (src/db/migrations/<dialect>/).
 */
import { MikroORM as SqliteORM, type Options as SqliteOptions } from '@mikro-orm/better-sqlite';
import { SqliteEntityManager } from './sqlite-busy.js';
import { MikroORM as PgORM, type Options as PgOptions } from '@mikro-orm/postgresql';
import { createRequire } from 'node:module';
import { Migrator } from '@mikro-orm/migrations';
import type { EntityClass } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import type { DatabaseConfig } from '../config/setting-parsers.js';
import type { Logger } from '../config/logger.js';
import { ensurePrivateFile, prepareSqliteFile, sqliteFiles, type PermissionNote } from '../config/private-files.js';
import { ENTITIES } from './entities.js';
import { ChangeSeqReader } from './change-feed.js';
import { sqliteMigrations } from './migrations/sqlite/index.js';
import { postgresqlMigrations } from './migrations/postgresql/index.js';
import { queryPrepared, readSqliteOn, type PreparedQuery, type SqliteConnection } from './prepared.js';
import { rowMapperOf } from './entity-rows.js';

export interface Db {
  readonly kind: DatabaseConfig['kind'];
  /** Fork per unit of work (request, message): never share one across them. */
  fork(): EntityManager;
  /** A hot read that skips the ORM: `q` prepared once per connection, run with `params` (./prepared.ts). */
  query(q: PreparedQuery, params: readonly unknown[]): Promise<Array<Record<string, unknown>>>;
  /** As `query`, each row (`SELECT *` of `entity`'s table) in the entity's plain shape (./entity-rows.ts), not a managed entity. */
  rows<T extends object>(entity: EntityClass<T>, q: PreparedQuery, params: readonly unknown[]): Promise<T[]>;
  migrate(): Promise<string[]>;
  /** Names of migrations not applied yet. */
  pending(): Promise<string[]>;
  close(): Promise<void>;
}

type AnyOrm = SqliteORM | PgORM;

type SqliteReader = SqliteConnection & { pragma(s: string): unknown; close(): void };
const require = createRequire(import.meta.url);

/** A read-only connection to the database file, as the pool's connections are set up for reading (WAL, busy timeout). */
function openSqliteReader(path: string): SqliteReader {
  const Database = require('better-sqlite3') as new (path: string, opts: { readonly: boolean; fileMustExist: boolean }) => SqliteReader;
  const reader = new Database(path, { readonly: true, fileMustExist: true });
  reader.pragma('busy_timeout = 10000');
  return reader;
}

/** Logs what `prepareSqliteFile` did to the database's files. */
export function logPermissionNote(log: Pick<Logger, 'info' | 'warn'> | undefined): (n: PermissionNote) => void {
  return (n) => {
    if (n.action === 'tightened') log?.warn(n, 'file permissions were too wide for a Flint file; tightened them');
    else if (n.action === 'left') log?.warn(n, 'file permissions are too wide for a Flint file and were left as they are');
  };
}

export async function openDb(cfg: DatabaseConfig, opts: { debug?: boolean; log?: Pick<Logger, 'info' | 'warn'> } = {}): Promise<Db> {
  const common = {
    entities: ENTITIES,
    extensions: [Migrator],
    debug: opts.debug ?? false,
    allowGlobalContext: false,
    forceUtcTimezone: true,
    discovery: { warnWhenNoEntities: true },
    // A row the ORM inserts gets its change feed seq from a trigger: read it back (src/db/change-feed.ts).
    subscribers: [new ChangeSeqReader()],
  };
  let orm: AnyOrm;
  if (cfg.kind === 'sqlite') {
    // 0600 for the database and its -wal/-shm, 0700 for a directory made for it (src/config/private-files.ts).
    prepareSqliteFile(cfg.path, logPermissionNote(opts.log));
    orm = await SqliteORM.init({
      ...common,
      entityManager: SqliteEntityManager,
      dbName: cfg.path,
      migrations: { migrationsList: sqliteMigrations, silent: true, transactional: true, allOrNothing: true, snapshot: false },
      pool: {
        afterCreate: (conn: { pragma: (s: string) => unknown }, done: (err: Error | null, conn: unknown) => void) => {
          conn.pragma('journal_mode = WAL');
          conn.pragma('busy_timeout = 10000');
          conn.pragma('synchronous = NORMAL');
          done(null, conn);
        },
      },
    } as SqliteOptions);
  } else {
    orm = await PgORM.init({
      ...common,
      clientUrl: cfg.url,
      migrations: { migrationsList: postgresqlMigrations, silent: true, transactional: true, allOrNothing: true, snapshot: false },
      pool: { min: 0, max: 10 },
    } as PgOptions);
  }
  const knex = orm.em.getConnection().getKnex();
  // SQLite's prepared reads outside transactions get a connection of their own (./prepared.ts), opened on first use.
  let reader: SqliteReader | undefined;
  if (cfg.kind === 'sqlite') {
    const path = cfg.path;
    readSqliteOn(knex, { prepare: (sql) => (reader ??= openSqliteReader(path)).prepare(sql) });
  }
  const query = (q: PreparedQuery, params: readonly unknown[]) => queryPrepared(knex, cfg.kind, q, params);
  if (cfg.kind === 'sqlite') for (const f of sqliteFiles(cfg.path)) ensurePrivateFile(f, logPermissionNote(opts.log));
  return {
    kind: cfg.kind,
    fork: () => orm.em.fork() as unknown as EntityManager,
    query,
    rows: async <T extends object>(entity: EntityClass<T>, q: PreparedQuery, params: readonly unknown[]) => (await query(q, params)).map(rowMapperOf(orm.getMetadata().get<T>(entity.name))),
    migrate: async () => (await orm.migrator.up()).map((m) => m.name),
    pending: async () => (await orm.migrator.getPendingMigrations()).map((m) => m.name),
    close: async () => {
      reader?.close();
      await orm.close(true);
    },
  };
}
