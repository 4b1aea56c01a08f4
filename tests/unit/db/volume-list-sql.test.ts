/**
 * The statements of a page of volumes (src/db/volume-list-sql.ts): one text per shape of
 * filter, so they stay prepared; values only ever as parameters; PostgreSQL's placeholders
 * numbered in order; a backward page read newest first. Pure: the SQL itself runs against
 * both databases in tests/integration/db-volume-store.test.ts and relay-paging.test.ts.
 */
import test from 'ava';
import { volumePageStatements } from '../../../src/db/volume-list-sql.js';

const cursor = { createdAt: new Date('2026-01-02T03:04:05.678Z'), id: 'v-9' };

test('two pages with the same filter shape share their statements; other values are parameters', (t) => {
  const a = volumePageStatements('sqlite', { projectId: 'p1', name: 'web' }, { first: 10 });
  const b = volumePageStatements('sqlite', { projectId: 'p2', name: "x'; DROP TABLE volume; --" }, { first: 50 });
  t.is(a.rows.q.name, b.rows.q.name);
  t.is(a.count.q.name, b.count.q.name);
  t.deepEqual(b.rows.params, ['p2', "x'; DROP TABLE volume; --", 51]);
  t.false(b.rows.q.sqlite.includes('DROP'));
  t.not(volumePageStatements('sqlite', { projectId: null }, { first: 10 }).rows.q.name, a.rows.q.name, 'an admin page is another shape');
});

test('PostgreSQL numbers its placeholders in order, the LIMIT last', (t) => {
  const s = volumePageStatements('postgresql', { projectId: 'p1', status: ['available', 'error'], availabilityZone: 'az1', metadata: { app: 'db' } }, { first: 5, after: cursor });
  t.regex(s.rows.q.postgresql, /project_id = \$1 AND status = ANY\(\$2::text\[\]\) AND availability_zone = \$3 AND metadata @> \$4::jsonb AND \(created_at > \$5 OR \(created_at = \$6 AND id > \$7\)\) ORDER BY created_at asc, id asc LIMIT \$8$/);
  t.deepEqual(s.rows.params, ['p1', ['available', 'error'], 'az1', '{"app":"db"}', cursor.createdAt.toISOString(), cursor.createdAt.toISOString(), 'v-9', 6]);
  t.is(s.rows.q.sqlite, '', 'a PostgreSQL statement has no SQLite text');
  t.truthy(s.behind);
  t.regex(s.behind!.q.postgresql, /\(created_at < \$5 OR \(created_at = \$6 AND id <= \$7\)\) LIMIT 1$/);
});

test('SQLite compares datetimes as epoch milliseconds and lists as a JSON parameter', (t) => {
  const s = volumePageStatements('sqlite', { projectId: null, status: ['deleted'] }, { first: 2, after: cursor });
  t.deepEqual(s.rows.params, ['["deleted"]', cursor.createdAt.getTime(), cursor.createdAt.getTime(), 'v-9', 3]);
  t.regex(s.rows.q.sqlite, /status IN \(SELECT value FROM json_each\(\?\)\)/);
});

test('without a status filter DELETED volumes are left out', (t) => {
  t.regex(volumePageStatements('sqlite', { projectId: 'p' }, { first: 1 }).count.q.sqlite, /status <> 'deleted'/);
});

test('a backward page reads newest first before its cursor, and is turned round', (t) => {
  const s = volumePageStatements('sqlite', { projectId: 'p' }, { last: 3, before: cursor });
  t.true(s.reversed);
  t.is(s.size, 3);
  t.regex(s.rows.q.sqlite, /\(created_at < \? OR \(created_at = \? AND id < \?\)\) ORDER BY created_at desc, id desc LIMIT \?$/);
  t.regex(s.behind!.q.sqlite, /\(created_at > \? OR \(created_at = \? AND id >= \?\)\)/);
  t.is(volumePageStatements('sqlite', { projectId: 'p' }, { last: 3 }).behind, undefined, 'no cursor, nothing behind it to look for');
});
