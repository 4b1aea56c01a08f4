/**
 * The UPDATE and COUNT statements of a simple filter, written with the values as parameters
 * (pure: ./update-rows.ts runs them). MikroORM writes the values into the SQL, so each of its
 * updates was a new text for SQLite to prepare and PostgreSQL to plan, and its query builder
 * cost more than the statement: a create's status moves, its operation's and the checks around
 * them ran through it. Here a text depends only on the filter's shape (properties, operators,
 * nulls), and is prepared once per connection.
 *
 * A filter is, per property, a value, null, or an object of `$in` (strings), `$ne`, `$lt`,
 * `$lte`, `$gt`, `$gte`; several properties and operators are ANDed, as MikroORM does. Any
 * other form (`$or`, a property this does not know, a raw fragment) gives undefined, and the
 * caller asks the ORM.
 */
import { IN_LIST, listParam, type SqlDialect } from './sql-lists.js';

/**
 * How a property's values are stored: as given (text, numbers), or converted (SQLite: datetimes
 * as epoch ms, booleans as 0/1; JSON as text). A number may come back as text (PostgreSQL's bigint).
 */
export type ColumnKind = 'plain' | 'number' | 'date' | 'json' | 'boolean';

export interface Column {
  name: string;
  kind: ColumnKind;
}

/** A table's columns by property name. */
export type Columns = ReadonlyMap<string, Column>;

/** A statement with `?` placeholders and its parameters, in order. */
export interface WrittenSql {
  sql: string;
  params: unknown[];
}

const COMPARISONS: Record<string, string> = { $ne: '<>', $lt: '<', $lte: '<=', $gt: '>', $gte: '>=' };

/** `value` as `kind` is stored in `d`. */
export function toColumnValue(d: SqlDialect, kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'date':
      return d === 'sqlite' && value instanceof Date ? value.getTime() : value;
    case 'boolean':
      return d === 'sqlite' ? (value ? 1 : 0) : Boolean(value);
    case 'json':
      return JSON.stringify(value);
    default:
      return value;
  }
}

const quoted = (name: string) => `"${name}"`;

/** A value the statement can bind as it is (after conversion), not an operator object or a fragment. */
function isValue(v: unknown): boolean {
  return v === null || v instanceof Date || typeof v !== 'object';
}

/** One property's condition, or undefined when its form is not one this writes. */
function condition(d: SqlDialect, col: Column, filter: unknown, params: unknown[]): string[] | undefined {
  const name = quoted(col.name);
  if (filter === null) return [`${name} IS NULL`];
  // A JSON document is not compared here (its text is not the ORM's comparison).
  if (col.kind === 'json') return filter !== null && typeof filter === 'object' && Object.keys(filter).join() === '$ne' && (filter as { $ne: unknown }).$ne === null ? [`${name} IS NOT NULL`] : undefined;
  if (isValue(filter)) {
    params.push(toColumnValue(d, col.kind, filter));
    return [`${name} = ?`];
  }
  if (Array.isArray(filter) || Object.getPrototypeOf(filter) !== Object.prototype) return undefined;
  const out: string[] = [];
  for (const [op, v] of Object.entries(filter as Record<string, unknown>)) {
    if (op === '$in') {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string') || col.kind !== 'plain') return undefined;
      if (v.length === 0) {
        out.push('1 = 0');
        continue;
      }
      params.push(listParam(d, v as string[]));
      out.push(`${name} ${IN_LIST[d]}`);
    } else if (op === '$ne' && v === null) {
      out.push(`${name} IS NOT NULL`);
    } else if (COMPARISONS[op] && v !== null && v !== undefined && isValue(v)) {
      params.push(toColumnValue(d, col.kind, v));
      out.push(`${name} ${COMPARISONS[op]} ?`);
    } else {
      return undefined;
    }
  }
  return out.length ? out : undefined;
}

/** The WHERE clause (without the keyword) of `where`, or undefined (see above). */
export function whereSql(d: SqlDialect, columns: Columns, where: Record<string, unknown>): WrittenSql | undefined {
  const params: unknown[] = [];
  const parts: string[] = [];
  for (const [prop, filter] of Object.entries(where)) {
    if (filter === undefined) continue;
    const col = columns.get(prop);
    if (!col) return undefined;
    const c = condition(d, col, filter, params);
    if (!c) return undefined;
    parts.push(...c);
  }
  return { sql: parts.length ? parts.join(' AND ') : '1 = 1', params };
}

/**
 * `UPDATE table SET … WHERE …`: `set`'s properties take their values (undefined ones are left
 * out, as MikroORM does), `bump`'s columns go up by one. Undefined when a property or the
 * filter's form is not one this writes, or when there is nothing to set.
 */
export function updateSql(d: SqlDialect, table: string, columns: Columns, where: Record<string, unknown>, set: Record<string, unknown>, bump: readonly string[] = []): WrittenSql | undefined {
  const assignments: string[] = [];
  const params: unknown[] = [];
  for (const [prop, value] of Object.entries(set)) {
    if (value === undefined) continue;
    const col = columns.get(prop);
    if (!col || !(isValue(value) || col.kind === 'json')) return undefined;
    params.push(toColumnValue(d, col.kind, value));
    assignments.push(`${quoted(col.name)} = ?`);
  }
  for (const prop of bump) {
    const col = columns.get(prop);
    if (!col || col.kind !== 'number') return undefined;
    assignments.push(`${quoted(col.name)} = ${quoted(col.name)} + 1`);
  }
  if (!assignments.length) return undefined;
  const w = whereSql(d, columns, where);
  if (!w) return undefined;
  return { sql: `UPDATE ${quoted(table)} SET ${assignments.join(', ')} WHERE ${w.sql}`, params: [...params, ...w.params] };
}

/** `SELECT count(*) AS n FROM table WHERE …`, or undefined (see above). */
export function countSql(d: SqlDialect, table: string, columns: Columns, where: Record<string, unknown>): WrittenSql | undefined {
  const w = whereSql(d, columns, where);
  return w && { sql: `SELECT count(*) AS n FROM ${quoted(table)} WHERE ${w.sql}`, params: w.params };
}
