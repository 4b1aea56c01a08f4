/**
 * MikroORM's better-sqlite3 driver, with transactions that take SQLite's write lock when they
 * begin (`BEGIN IMMEDIATE`) instead of at their first write (knex's `BEGIN`, deferred).
 *
 * The gateway and the scheduler are two processes writing one SQLite file. A deferred
 * transaction that reads first (a compare-and-set reads its row, a create reads its quota)
 * holds a snapshot; when the other process commits before its first write, SQLite cannot
 * move it to the newer state and answers SQLITE_BUSY at once, without waiting out the busy
 * timeout. The recorder then gave the outcome back to NATS and recorded it on redelivery: 21
 * of 320 creates at 32 clients waited for that. Begun IMMEDIATE, a transaction waits for the
 * lock (the busy timeout) and its reads see the latest commit.
 */
import type { Configuration } from '@mikro-orm/core';
import { BetterSqliteConnection, BetterSqlitePlatform } from '@mikro-orm/better-sqlite';
import { AbstractSqlDriver, BetterSqliteKnexDialect } from '@mikro-orm/knex';

interface KnexTransaction {
  begin(conn: unknown): Promise<unknown>;
  query(conn: unknown, sql: string): Promise<unknown>;
}

/** knex's better-sqlite3 client, its transactions begun IMMEDIATE (a nested one is still a savepoint). */
class ImmediateDialect extends BetterSqliteKnexDialect {
  transaction(...args: unknown[]): unknown {
    const trx = (super.transaction as (...a: unknown[]) => KnexTransaction)(...args);
    // Called once a connection is acquired, after the constructor returned.
    trx.begin = (conn) => trx.query(conn, 'BEGIN IMMEDIATE;');
    return trx;
  }
}

class ImmediateConnection extends BetterSqliteConnection {
  override createKnex(): void {
    this.client = this.createKnexClient(ImmediateDialect as never);
    this.connected = true;
  }
}

export class FlintSqliteDriver extends AbstractSqlDriver<ImmediateConnection, BetterSqlitePlatform> {
  constructor(config: Configuration) {
    super(config, new BetterSqlitePlatform(), ImmediateConnection, ['knex', 'better-sqlite3']);
  }
}
