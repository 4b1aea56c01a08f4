/**
 * Updates and counts of a simple filter without the ORM's query builder: the statement of
 * ./where-sql.ts, prepared once per connection (./prepared.ts) and run on the transaction's
 * connection when `em` is in one. A filter of another form goes to the ORM as before, so the
 * callers need not know which forms are written here.
 *
 * Like `em.nativeUpdate`, an update touches no managed entity and flushes nothing; like the
 * ORM's reads, a count first flushes the changes of its entity waiting in `em`'s unit of work.
 */
import { raw, type EntityClass, type EntityData, type EntityMetadata, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { columnsOf, dialectOf, knexOf } from './entity-rows.js';
import { preparedOf, queryPrepared, runPrepared, type PreparedQuery } from './prepared.js';
import { placeholders } from './sql-lists.js';
import { countSql, updateSql, type WrittenSql } from './where-sql.js';
import type { SqlDialect } from './sql-lists.js';

function prepared(d: SqlDialect, w: WrittenSql) {
  const sql = placeholders(d, w.sql);
  return d === 'sqlite' ? preparedOf(sql, '') : preparedOf('', sql);
}

/**
 * `UPDATE … SET set, bump + 1 WHERE where`: the number of rows it changed. `bump` names
 * integer properties that go up by one (a row's `version`).
 */
export async function updateRows<T extends object>(em: EntityManager, entity: EntityClass<T>, where: FilterQuery<T>, set: EntityData<T>, bump: ReadonlyArray<keyof T & string> = []): Promise<number> {
  const meta = em.getMetadata().get<T>(entity.name);
  const d = dialectOf(em);
  const w = updateSql(d, meta.tableName, columnsOf(meta as EntityMetadata), where as Record<string, unknown>, set as Record<string, unknown>, bump);
  if (!w) {
    const bumped = Object.fromEntries(bump.map((p) => [p, raw(`${columnsOf(meta as EntityMetadata).get(p)?.name ?? p} + 1`)]));
    return em.nativeUpdate(entity, where, { ...set, ...bumped } as EntityData<T>);
  }
  return runStatement(em, prepared(d, w), w.params);
}

/**
 * Runs `q` (a write) with `params` on `em`'s connection, its transaction's when it is in one;
 * the rows it changed. Errors are the ORM's exceptions (a unique violation is
 * UniqueConstraintViolationException…), as its own statements throw them.
 */
export async function runStatement(em: EntityManager, q: PreparedQuery, params: readonly unknown[]): Promise<number> {
  try {
    return await runPrepared(knexOf(em), dialectOf(em), q, params);
  } catch (err) {
    throw err instanceof Error ? em.getPlatform().getExceptionConverter().convertException(err) : err;
  }
}

/** How many rows of `entity` match `where`. */
export async function countRows<T extends object>(em: EntityManager, entity: EntityClass<T>, where: FilterQuery<T>): Promise<number> {
  const meta = em.getMetadata().get<T>(entity.name);
  const d = dialectOf(em);
  const w = countSql(d, meta.tableName, columnsOf(meta as EntityMetadata), where as Record<string, unknown>);
  if (!w) return em.count(entity, where);
  if (em.getUnitOfWork().shouldAutoFlush(meta)) await em.flush();
  const [row] = await queryPrepared(knexOf(em), d, prepared(d, w), w.params);
  return Number(row?.n ?? 0);
}
