/**
 * A list of values as one statement parameter, so a statement's text does not change with
 * the list's length and stays prepared: a JSON array read by `json_each` in SQLite, an array
 * in PostgreSQL.
 */
import { preparedOf, type PreparedQuery } from './prepared.js';

export type SqlDialect = 'sqlite' | 'postgresql';

/** `IN_LIST[d]` after a column: true when the column is one of the list's values (the next `?`). */
export const IN_LIST: Record<SqlDialect, string> = {
  sqlite: 'IN (SELECT value FROM json_each(?))',
  postgresql: '= ANY(?::text[])',
};

/** The parameter of an {@link IN_LIST}. */
export function listParam(d: SqlDialect, values: readonly string[]): unknown {
  return d === 'sqlite' ? JSON.stringify(values) : [...values];
}

/** `?` placeholders as PostgreSQL's `$1…` (SQLite takes `?` as it is). */
export function placeholders(d: SqlDialect, sql: string, first = 1): string {
  let n = first - 1;
  return d === 'postgresql' ? sql.replace(/\?/g, () => `$${++n}`) : sql;
}

/** A statement written once with `?` placeholders (`sql` may differ by database, e.g. with {@link IN_LIST}), prepared for both. */
export function statementOf(sql: (d: SqlDialect) => string): PreparedQuery {
  return preparedOf(placeholders('sqlite', sql('sqlite')), placeholders('postgresql', sql('postgresql')));
}
