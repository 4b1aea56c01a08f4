/**
 * Rows read without the ORM, as the plain shape of their entity: every column of the table
 * becomes its property, converted from how each database returns it (SQLite: datetimes as
 * epoch milliseconds, booleans as 0/1, JSON as text; PostgreSQL: timestamps as text, bigint as
 * text, jsonb as an object). The batch reads of a page's nested lists (./batch-reads.ts) and
 * the reads by primary key of the hot paths (`findById`) use it: MikroORM's hydration of each row (`ensurePropagation`, the identity
 * map's bookkeeping) cost a page of snapshots more than its SQL. The mapping is made once per
 * entity from the ORM's own metadata, so it follows the entity as it changes;
 * tests/integration/entity-rows.test.ts checks it against the ORM on both databases.
 */
import { ReferenceKind, type EntityClass, type EntityMetadata } from '@mikro-orm/core';
import type { EntityManager, Knex } from '@mikro-orm/knex';
import { statementOf, type SqlDialect } from './sql-lists.js';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import { queryPrepared, type PreparedQuery } from './prepared.js';
import type { Column, ColumnKind, Columns } from './where-sql.js';

type Row = Record<string, unknown>;
type Convert = (v: unknown) => unknown;

const date: Convert = (v) => new Date(typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : (v as string | number));
const json: Convert = (v) => (typeof v === 'string' ? JSON.parse(v) : v);
const CONVERT: Record<ColumnKind, Convert | undefined> = { plain: undefined, number: Number, date, json, boolean: Boolean };

function kindOf(type: string, runtimeType: string): ColumnKind {
  if (type === 'json' || /JsonType/i.test(type)) return 'json';
  if (runtimeType === 'Date') return 'date';
  if (runtimeType === 'number') return 'number';
  if (runtimeType === 'boolean') return 'boolean';
  return 'plain';
}

/** The columns of `meta`'s scalar properties stored in one column each, by property name. */
export function columnsOfEntity(meta: EntityMetadata): Columns {
  const out = new Map<string, Column>();
  for (const prop of meta.props) {
    if (prop.kind !== ReferenceKind.SCALAR || prop.persist === false || prop.fieldNames?.length !== 1) continue;
    out.set(prop.name, { name: prop.fieldNames[0]!, kind: kindOf(prop.customType?.constructor.name ?? String(prop.type), String(prop.runtimeType)) });
  }
  return out;
}

const columnsByMeta = new WeakMap<EntityMetadata, Columns>();

/** {@link columnsOfEntity} of `meta`, made once. */
export function columnsOf(meta: EntityMetadata): Columns {
  let c = columnsByMeta.get(meta);
  if (!c) columnsByMeta.set(meta, (c = columnsOfEntity(meta)));
  return c;
}

/** A function from a row of `meta`'s table (`SELECT *`) to the entity's properties; nulls stay null. */
export function entityRowMapper<T>(meta: EntityMetadata<T>): (row: Row) => T {
  const columns = [...columnsOfEntity(meta as EntityMetadata)].map(([property, c]) => ({ property, column: c.name, convert: CONVERT[c.kind] }));
  return (row) => {
    const out: Row = {};
    for (const c of columns) {
      const v = row[c.column];
      out[c.property] = v === null || v === undefined ? null : c.convert ? c.convert(v) : v;
    }
    return out as T;
  };
}

const mappers = new WeakMap<EntityMetadata, (row: Row) => unknown>();

/** {@link entityRowMapper} of `meta`, made once. */
export function rowMapperOf<T>(meta: EntityMetadata<T>): (row: Row) => T {
  let m = mappers.get(meta as EntityMetadata);
  if (!m) mappers.set(meta as EntityMetadata, (m = entityRowMapper(meta)));
  return m as (row: Row) => T;
}

const byId = new Map<string, PreparedQuery>();

/**
 * The `entity` row whose primary key (one column) is `id`, in its plain shape (not a managed
 * entity), or null: one statement prepared once per connection. In a transaction it runs on
 * the transaction's connection (knex's transaction client hands out that one) and sees the
 * transaction's writes; as the ORM's reads do (flush mode AUTO), changes of that entity
 * waiting in `em`'s unit of work are flushed first. A create's outcome reads its volume,
 * operation and reservation several times; through the ORM each read was MikroORM, knex and a
 * statement prepared again for every value (MikroORM writes the values into the SQL).
 */
export async function findById<T extends object>(em: EntityManager, entity: EntityClass<T>, id: string): Promise<T | null> {
  const meta = em.getMetadata().get<T>(entity.name);
  let q = byId.get(meta.tableName);
  if (!q) {
    const key = meta.properties[meta.primaryKeys[0]!].fieldNames[0];
    byId.set(meta.tableName, (q = statementOf(() => `SELECT * FROM ${meta.tableName} WHERE ${key} = ?`)));
  }
  const [row] = await rowsOf(em, entity, q, [id]);
  return row ?? null;
}

/**
 * The rows of `q` (a `SELECT *` of `entity`'s table) in the entity's plain shape, run as
 * {@link findById} runs its statement: on `em`'s transaction when it is in one, after
 * flushing the changes of that entity waiting in `em`'s unit of work.
 */
export async function rowsOf<T extends object>(em: EntityManager, entity: EntityClass<T>, q: PreparedQuery, params: readonly unknown[]): Promise<T[]> {
  const meta = em.getMetadata().get<T>(entity.name);
  if (em.getUnitOfWork().shouldAutoFlush(meta)) await em.flush();
  return (await queryPrepared(knexOf(em), dialectOf(em), q, params)).map(rowMapperOf(meta));
}

/** The knex that runs `em`'s statements: its transaction's when it is in one, else its pool's. */
export function knexOf(em: EntityManager): Knex {
  return em.getTransactionContext<Knex.Transaction>() ?? em.getConnection().getKnex();
}

/** The database `em` talks to. */
export function dialectOf(em: EntityManager): SqlDialect {
  return em.getPlatform() instanceof PostgreSqlPlatform ? 'postgresql' : 'sqlite';
}
