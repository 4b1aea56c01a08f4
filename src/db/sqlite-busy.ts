/**
 * SQLite transactions that another process's commit made stale are run again, in place.
 *
 * The gateway and the scheduler are two processes writing one SQLite file (WAL). A transaction
 * begins deferred: its first read takes a snapshot, its first write the write lock. When the
 * other process committed in between, SQLite cannot move the snapshot forward and answers
 * SQLITE_BUSY at once, without waiting out the busy timeout. The recorder then gave the outcome
 * back to NATS and recorded it a second later on redelivery: 21 of 320 creates at 32 clients
 * waited for that. Such a transaction changed nothing, so it is run again at once, with a fresh
 * fork and a new snapshot (a nested one is left to its root).
 *
 * Beginning every transaction IMMEDIATE instead (the write lock taken at BEGIN) was measured and
 * not kept: better-sqlite3's busy wait blocks the event loop, both processes then wait at every
 * BEGIN, and c=32 creates took 25% longer at the median.
 */
import { LockWaitTimeoutException, type TransactionOptions } from '@mikro-orm/core';
import { SqlEntityManager } from '@mikro-orm/knex';
import type { BetterSqliteDriver } from '@mikro-orm/better-sqlite';

/** Runs of one transaction before its SQLITE_BUSY is the caller's. */
export const BUSY_ATTEMPTS = 10;

/**
 * A run that failed later than this waited out the busy timeout (another connection held the
 * lock that long, and better-sqlite3 waits with the event loop blocked): not run again.
 */
const QUICK_FAILURE_MS = 1_000;

/** Whether `err` is SQLite's "database is locked", as the driver or as the ORM throws it. */
export function isSqliteBusy(err: unknown): boolean {
  return err instanceof LockWaitTimeoutException || /^SQLITE_BUSY/.test(String((err as { code?: unknown } | null)?.code ?? ''));
}

export class SqliteEntityManager extends SqlEntityManager<BetterSqliteDriver> {
  override async transactional<T>(cb: (em: this) => T | Promise<T>, options: TransactionOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      try {
        return await super.transactional(cb, options);
      } catch (err) {
        if (!isSqliteBusy(err) || this.isInTransaction() || attempt >= BUSY_ATTEMPTS || Date.now() - started > QUICK_FAILURE_MS) throw err;
        // A little apart, so two processes that collided do not collide again.
        await new Promise((r) => setTimeout(r, Math.random() * attempt * 2));
      }
    }
  }
}
