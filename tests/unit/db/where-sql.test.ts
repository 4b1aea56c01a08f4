/**
 * The UPDATE and COUNT statements of a simple filter (src/db/where-sql.ts): values only as
 * parameters, one text per shape, each database's conversions, and undefined for every form it
 * does not write (so the caller asks the ORM).
 */
import test from 'ava';
import { countSql, toColumnValue, updateSql, whereSql, type Column, type Columns } from '../../../src/db/where-sql.js';

const COLUMNS: Columns = new Map<string, Column>([
  ['id', { name: 'id', kind: 'plain' }],
  ['status', { name: 'status', kind: 'plain' }],
  ['version', { name: 'version', kind: 'number' }],
  ['deadlineAt', { name: 'deadline_at', kind: 'date' }],
  ['command', { name: 'command', kind: 'json' }],
  ['exportRequested', { name: 'export_requested', kind: 'boolean' }],
]);

test('an update names columns, sets values as parameters, bumps the version, then its filter, in order', (t) => {
  const at = new Date('2026-12-07T10:00:00.123Z');
  const w = updateSql('sqlite', 'operation', COLUMNS, { id: 'op-1', status: { $in: ['pending', 'running'] }, deadlineAt: { $lt: at } }, { status: 'failed', deadlineAt: at }, ['version'])!;
  t.is(w.sql, 'UPDATE "operation" SET "status" = ?, "deadline_at" = ?, "version" = "version" + 1 WHERE "id" = ? AND "status" IN (SELECT value FROM json_each(?)) AND "deadline_at" < ?');
  t.deepEqual(w.params, ['failed', at.getTime(), 'op-1', '["pending","running"]', at.getTime()]);
  const pg = updateSql('postgresql', 'operation', COLUMNS, { id: 'op-1', status: { $in: ['pending', 'running'] } }, { deadlineAt: at })!;
  t.is(pg.sql, 'UPDATE "operation" SET "deadline_at" = ? WHERE "id" = ? AND "status" = ANY(?::text[])');
  t.deepEqual(pg.params, [at, 'op-1', ['pending', 'running']]);
});

test('the text depends on the shape only: other values, the same statement', (t) => {
  const a = updateSql('sqlite', 'v', COLUMNS, { id: 'a', status: 'x' }, { status: 'y' })!;
  const b = updateSql('sqlite', 'v', COLUMNS, { id: "b'; DROP TABLE v; --", status: 'z' }, { status: 'w' })!;
  t.is(a.sql, b.sql);
  t.false(b.sql.includes('DROP'));
  t.deepEqual(b.params, ['w', "b'; DROP TABLE v; --", 'z']);
});

test('nulls: IS NULL and IS NOT NULL in a filter, NULL as a value; undefined properties are left out', (t) => {
  const w = updateSql('sqlite', 'o', COLUMNS, { id: 'a', deadlineAt: null, command: { $ne: null }, status: undefined }, { status: null, version: undefined })!;
  t.is(w.sql, 'UPDATE "o" SET "status" = ? WHERE "id" = ? AND "deadline_at" IS NULL AND "command" IS NOT NULL');
  t.deepEqual(w.params, [null, 'a']);
});

test('each database gets its form of a value: dates, booleans, JSON', (t) => {
  const at = new Date(1_700_000_000_123);
  t.is(toColumnValue('sqlite', 'date', at), 1_700_000_000_123);
  t.is(toColumnValue('postgresql', 'date', at), at);
  t.is(toColumnValue('sqlite', 'boolean', true), 1);
  t.is(toColumnValue('sqlite', 'boolean', false), 0);
  t.is(toColumnValue('postgresql', 'boolean', false), false);
  t.is(toColumnValue('sqlite', 'json', { a: [1, 'b'] }), '{"a":[1,"b"]}');
  t.is(toColumnValue('postgresql', 'json', { a: 1 }), '{"a":1}');
  const w = updateSql('sqlite', 'a', COLUMNS, { id: 'x' }, { exportRequested: true, command: { subject: 's' } })!;
  t.deepEqual(w.params, [1, '{"subject":"s"}', 'x']);
});

test('comparisons and an empty list', (t) => {
  const w = whereSql('sqlite', COLUMNS, { version: { $gte: 2, $lte: 5 }, status: { $ne: 'deleted' }, id: { $in: [] } })!;
  t.is(w.sql, '"version" >= ? AND "version" <= ? AND "status" <> ? AND 1 = 0');
  t.deepEqual(w.params, [2, 5, 'deleted']);
  t.is(countSql('postgresql', 'backup', COLUMNS, { status: 'restoring' })!.sql, 'SELECT count(*) AS n FROM "backup" WHERE "status" = ?');
});

test('forms it does not write give undefined, for the ORM to run', (t) => {
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, string[]?]> = [
    ['$or', { $or: [{ id: 'a' }, { id: 'b' }] }, { status: 'x' }],
    ['an unknown property', { nope: 1 }, { status: 'x' }],
    ['a property to set it does not know', { id: 'a' }, { nope: 1 }],
    ['$nin', { id: { $nin: ['a'] } }, { status: 'x' }],
    ['$in of numbers', { version: { $in: [1, 2] } }, { status: 'x' }],
    ['a JSON document compared', { command: { subject: 's' } }, { status: 'x' }],
    ['an object set on a column that is not JSON', { id: 'a' }, { status: { raw: 'x' } }],
    ['nothing to set', { id: 'a' }, {}],
    ['a bump of a text column', { id: 'a' }, { status: 'x' }, ['status']],
    ['a comparison with null', { deadlineAt: { $lt: null } }, { status: 'x' }],
  ];
  for (const [what, where, set, bump] of cases) t.is(updateSql('sqlite', 't', COLUMNS, where, set, bump), undefined, what);
});
