/**
 * Rows read without the ORM, as the plain shape of their entity: every column of the table
 * becomes its property, converted from how each database returns it (SQLite: datetimes as
 * epoch milliseconds, booleans as 0/1, JSON as text; PostgreSQL: timestamps as text, bigint as
 * text, jsonb as an object). The batch reads of a page's nested lists use it
 * (./batch-reads.ts): MikroORM's hydration of each row (`ensurePropagation`, the identity
 * map's bookkeeping) cost a page of snapshots more than its SQL. The mapping is made once per
 * entity from the ORM's own metadata, so it follows the entity as it changes;
 * tests/integration/entity-rows.test.ts checks it against the ORM on both databases.
 */
import { ReferenceKind, type EntityClass, type EntityMetadata, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import { preparedOf, queryPrepared, type PreparedQuery } from './prepared.js';

type Row = Record<string, unknown>;
type Convert = (v: unknown) => unknown;

const date: Convert = (v) => new Date(typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : (v as string | number));
const json: Convert = (v) => (typeof v === 'string' ? JSON.parse(v) : v);

function converterOf(type: string, runtimeType: string): Convert | undefined {
  if (type === 'json' || /JsonType/i.test(type)) return json;
  if (runtimeType === 'Date') return date;
  if (runtimeType === 'number') return Number;
  if (runtimeType === 'boolean') return Boolean;
  return undefined;
}

/** A function from a row of `meta`'s table (`SELECT *`) to the entity's properties; nulls stay null. */
export function entityRowMapper<T>(meta: EntityMetadata<T>): (row: Row) => T {
  const columns: Array<{ property: string; column: string; convert: Convert | undefined }> = [];
  for (const prop of meta.props) {
    if (prop.kind !== ReferenceKind.SCALAR || prop.persist === false || prop.fieldNames?.length !== 1) continue;
    const type = prop.customType?.constructor.name ?? String(prop.type);
    columns.push({ property: prop.name as string, column: prop.fieldNames[0]!, convert: converterOf(type, String(prop.runtimeType)) });
  }
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
 * The `entity` row with primary key `id` (its plain shape, not a managed entity), or null.
 * Outside a transaction it is one statement prepared once per connection on `em`'s pool;
 * inside one it must see the transaction's own writes on the transaction's connection, so the
 * ORM reads it. The read-by-id of the hot paths (a create's outcome reads its volume and
 * operation several times) spent most of its CPU in MikroORM, knex and a statement prepared
 * again for every value (MikroORM writes the values into the SQL).
 */
export async function findById<T extends object>(em: EntityManager, entity: EntityClass<T>, id: string): Promise<T | null> {
  if (em.isInTransaction()) return em.findOne(entity, { id } as FilterQuery<T>, { disableIdentityMap: true });
  const meta = em.getMetadata().get<T>(entity.name);
  let q = byId.get(meta.tableName);
  if (!q) byId.set(meta.tableName, (q = preparedOf(`SELECT * FROM ${meta.tableName} WHERE id = ?`, `SELECT * FROM ${meta.tableName} WHERE id = $1`)));
  const kind = em.getPlatform() instanceof PostgreSqlPlatform ? 'postgresql' : 'sqlite';
  const [row] = await queryPrepared(em.getConnection().getKnex(), kind, q, [id]);
  return row ? rowMapperOf(meta)(row) : null;
}
