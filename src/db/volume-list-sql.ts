/**
 * The SQL of a page of volumes (`volumes(first: 50)`), written out rather than built by the
 * ORM: MikroORM's query builder, knex's compiler and a statement prepared again for every
 * query took most of a page's CPU. Pure: the statements for each database and their
 * parameters, from the filter and the page request. Each distinct shape of filter is one
 * statement text, so it is prepared once per connection (./prepared.ts); the values are
 * parameters, never SQL. The order and the keyset rules are those of ./page.ts
 * (tests/integration/db-volume-store.test.ts runs the same cases against both).
 */
import type { Keyset, PageRequest } from './page.js';
import { IN_LIST, listParam, placeholders, type SqlDialect } from './sql-lists.js';
import { preparedOf, type PreparedQuery } from './prepared.js';

/** What a volumes page is filtered by: the caller's scope and the API filter. */
export interface VolumeListConditions {
  /** The caller's project (a member); null for an admin. */
  projectId: string | null;
  status?: readonly string[];
  name?: string;
  availabilityZone?: string;
  /** The filter's project: with a member's scope, another project matches nothing. */
  filterProjectId?: string;
  metadata?: Record<string, string>;
}

/** The statements of one page: the count, the rows (one more than the page), and, with a cursor, whether a row lies behind it. */
export interface VolumePageStatements {
  count: { q: PreparedQuery; params: unknown[] };
  rows: { q: PreparedQuery; params: unknown[] };
  behind?: { q: PreparedQuery; params: unknown[] };
  /** The rows come newest first and must be turned round (a backward page). */
  reversed: boolean;
  size: number;
}

/** Builds one statement's WHERE for a dialect: each `?` placeholder in a condition becomes `$n` on PostgreSQL. */
class Where {
  readonly conditions: string[] = [];
  readonly params: unknown[] = [];
  constructor(private readonly dialect: SqlDialect) {}

  add(sql: string, ...params: unknown[]): void {
    this.conditions.push(sql);
    this.params.push(...params);
  }

  /** The WHERE clause in the dialect's placeholders. */
  sql(): string {
    return this.conditions.length ? ` WHERE ${placeholders(this.dialect, this.conditions.join(' AND '))}` : '';
  }
}

/** A datetime as the ORM stores it: epoch milliseconds in SQLite, a timestamp in PostgreSQL. */
const timeParam = (d: SqlDialect, t: Date): unknown => (d === 'sqlite' ? t.getTime() : t.toISOString());

function conditions(d: SqlDialect, c: VolumeListConditions): Where {
  const w = new Where(d);
  if (c.projectId) w.add('project_id = ?', c.projectId);
  if (c.status?.length) {
    w.add(`status ${IN_LIST[d]}`, listParam(d, c.status));
  } else {
    w.add(`status <> 'deleted'`);
  }
  if (c.name !== undefined) w.add('name = ?', c.name);
  if (c.availabilityZone !== undefined) w.add('availability_zone = ?', c.availabilityZone);
  if (c.filterProjectId != null) w.add('project_id = ?', c.filterProjectId);
  const wanted = Object.entries(c.metadata ?? {});
  if (wanted.length) {
    const json = JSON.stringify(Object.fromEntries(wanted));
    // Every wanted key is there with exactly that text value (./metadata-sql.ts does the same for the ORM's reads).
    if (d === 'postgresql') w.add('metadata @> ?::jsonb', json);
    else
      w.add(
        'NOT EXISTS (SELECT 1 FROM json_each(?) w WHERE NOT EXISTS (SELECT 1 FROM json_each(volume.metadata) m WHERE m.key = w.key AND m.type = \'text\' AND m.value = w.value))',
        json,
      );
  }
  return w;
}

/** Rows strictly past `k` reading in `dir` (`past`), or the others: `k`'s row and those before it. */
function side(w: Where, d: SqlDialect, k: Keyset, dir: 'asc' | 'desc', past: boolean): void {
  const [strict, orEqual] = (dir === 'asc') === past ? ['>', '>='] : ['<', '<='];
  const t = timeParam(d, k.createdAt);
  w.add(`(created_at ${strict} ? OR (created_at = ? AND id ${past ? strict : orEqual} ?))`, t, t, k.id);
}

const COLUMNS = 'SELECT * FROM volume';

/** The statements of a page of volumes, oldest first, as keysetPage (./page.ts) reads one. */
export function volumePageStatements(d: SqlDialect, c: VolumeListConditions, request: PageRequest): VolumePageStatements {
  const backward = request.last !== undefined;
  const size = backward ? request.last : request.first;
  const cursor = backward ? request.before : request.after;
  const dir = backward ? 'desc' : 'asc';
  // Each dialect's text alone names the statement: the other is never run.
  const statement = (w: Where, head: string, tail = '', ...more: unknown[]) => {
    const text = head + w.sql() + placeholders(d, tail, w.params.length + 1);
    return { q: d === 'sqlite' ? preparedOf(text, '') : preparedOf('', text), params: [...w.params, ...more] };
  };
  const count = statement(conditions(d, c), 'SELECT COUNT(*) AS n FROM volume');
  const page = conditions(d, c);
  if (cursor) side(page, d, cursor, dir, true);
  const rows = statement(page, COLUMNS, ` ORDER BY created_at ${dir}, id ${dir} LIMIT ?`, size + 1);
  let behind;
  if (cursor) {
    const other = conditions(d, c);
    side(other, d, cursor, dir, false);
    behind = statement(other, 'SELECT 1 AS found FROM volume', ' LIMIT 1');
  }
  return { count, rows, ...(behind ? { behind } : {}), reversed: backward, size };
}
