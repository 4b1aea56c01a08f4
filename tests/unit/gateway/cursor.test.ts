/**
 * Relay cursors of every list (src/resolvers/types/relay.ts): opaque, round-tripping, and
 * refused when forged, with the page size, by the gateway's page request (src/gateway/queries/page.ts),
 * which also picks the direction (`first`/`after` forward, `last`/`before` backward) and refuses
 * both at once; and the connection of a page, with its cursors at both ends.
 */
import 'reflect-metadata';
import test from 'ava';
import { BadInputError } from '../../../src/domain/errors.js';
import { pageRequest } from '../../../src/gateway/queries/page.js';
import { connectionOf, decodeCursor, encodeCursor } from '../../../src/resolvers/types/relay.js';

/** The keyset of a cursor that must decode. */
function keyset(cursor: string): { createdAt: Date; id: string } {
  const k = decodeCursor(cursor);
  if (!k) throw new Error(`${cursor} did not decode`);
  return k;
}

const b64 = (s: string) => Buffer.from(s).toString('base64url');

test('a cursor decodes to the creation time and id it was made from', (t) => {
  const createdAt = new Date('2026-11-25T14:21:58.123Z');
  const id = '0b8f6c1e-5d2a-4f7e-9a51-3c2d1e0f9a8b';
  const decoded = keyset(encodeCursor(createdAt, id));
  t.is(decoded.id, id);
  t.is(decoded.createdAt.getTime(), createdAt.getTime(), 'milliseconds survive');
});

test('a cursor round-trips ids with any characters', (t) => {
  for (const id of ['', 'a', 'v/1?x=y&z', '"quoted"', 'ünïcødé-🧱', 'a,b]']) {
    t.is(keyset(encodeCursor(new Date(0), id)).id, id);
  }
});

test('a cursor is URL-safe: no +, / or = padding', (t) => {
  for (let i = 0; i < 50; i++) {
    t.regex(encodeCursor(new Date(1_700_000_000_000 + i * 7919), `id-${i}-??>>`), /^[A-Za-z0-9_-]+$/);
  }
});

test('cursors of different rows differ', (t) => {
  const at = new Date('2026-01-01T00:00:00.000Z');
  t.not(encodeCursor(at, 'a'), encodeCursor(at, 'b'));
  t.not(encodeCursor(at, 'a'), encodeCursor(new Date(at.getTime() + 1), 'a'));
});

const garbage: Array<[string, string]> = [
  ['an empty string', ''],
  ['plain text', 'not-a-cursor'],
  ['base64 of text that is not JSON', b64('hello')],
  ['base64 of a JSON object', b64('{"createdAt":"2026-01-01T00:00:00.000Z","id":"x"}')],
  ['base64 of JSON null', b64('null')],
  ['base64 of a JSON number', b64('42')],
  ['base64 of an empty array', b64('[]')],
  ['an array without an id', b64('["2026-01-01T00:00:00.000Z"]')],
  ['an array with a numeric id', b64('["2026-01-01T00:00:00.000Z", 7]')],
  ['an array with a date that is not a date', b64('["yesterday", "x"]')],
  ['an array with the fields swapped', b64('["x", "2026-01-01T00:00:00.000Z"]')],
  ['a truncated cursor', encodeCursor(new Date(), 'abc').slice(0, 10)],
  // Forged: the id goes into a query, and SQLite refused the NUL (INTERNAL).
  ['an array whose id has a NUL', b64('["2026-01-01T00:00:00.000Z", "a\\u0000b"]')],
  ['an array whose id has an unpaired surrogate', b64('["2026-01-01T00:00:00.000Z", "a\\ud800"]')],
];

const NOT_A_CURSOR = 'after is not a cursor this API gave out; pass pageInfo.endCursor of the previous page';
const NOT_A_BEFORE_CURSOR = 'before is not a cursor this API gave out; pass pageInfo.startCursor of the page after the one you want';
const HOW = 'page forward with first (and after: the endCursor of the page before), or backward with last (and before: the startCursor of the page after)';

for (const [what, cursor] of garbage) {
  test(`a cursor that is ${what} does not decode, and a page request with it is BAD_USER_INPUT telling to pass endCursor (after) or startCursor (before)`, (t) => {
    t.is(decodeCursor(cursor), null);
    if (cursor === '') return; // an empty `after` is no `after`: the first page
    const err = t.throws(() => pageRequest({ first: 10, after: cursor }), { instanceOf: BadInputError });
    t.is(err.code, 'BAD_USER_INPUT');
    t.deepEqual(err.problems, [NOT_A_CURSOR]);
    const back = t.throws(() => pageRequest({ last: 10, before: cursor }), { instanceOf: BadInputError });
    t.deepEqual(back.problems, [NOT_A_BEFORE_CURSOR]);
  });
}

test('a page request without `after` is the first page; with a cursor, the page after its row', (t) => {
  t.deepEqual(pageRequest({}), { first: 50 });
  t.deepEqual(pageRequest({ first: 0, after: null }), { first: 0 });
  const at = new Date('2026-03-04T05:06:07.089Z');
  t.deepEqual(pageRequest({ first: 500, after: encodeCursor(at, 'v-1') }), { first: 500, after: { createdAt: at, id: 'v-1' } });
});

test('a page request names every problem at once: the size, the cursor, the filter', (t) => {
  const err = t.throws(() => pageRequest({ first: 501, after: 'junk' }, (problems) => problems.add('filter.x is wrong')), { instanceOf: BadInputError });
  t.deepEqual(err.problems, ['first must be from 0 to 500 (got 501)', NOT_A_CURSOR, 'filter.x is wrong']);
  t.throws(() => pageRequest({ first: -1 }), { message: /first must be from 0 to 500 \(got -1\)/ });
  t.throws(() => pageRequest({ first: 2.5 }), { message: /got 2\.5/ });
});

test('last or before pages backward: the last items of the list, or those just before the cursor', (t) => {
  const at = new Date('2026-03-04T05:06:07.089Z');
  const cursor = encodeCursor(at, 'v-9');
  t.deepEqual(pageRequest({ last: 3 }), { last: 3 });
  t.deepEqual(pageRequest({ last: 0, before: null }), { last: 0 });
  t.deepEqual(pageRequest({ last: 500, before: cursor }), { last: 500, before: { createdAt: at, id: 'v-9' } });
  t.deepEqual(pageRequest({ before: cursor }), { last: 50, before: { createdAt: at, id: 'v-9' } }, 'before alone: the default page before it');
  t.deepEqual(pageRequest({ first: null, after: null, last: 2, before: cursor }), { last: 2, before: { createdAt: at, id: 'v-9' } }, 'null is not given');
});

test('without last or before, a page request is forward as before: nulls and empty cursors are not given', (t) => {
  t.deepEqual(pageRequest({ first: null, after: null, last: null, before: null }), { first: 50 });
  t.deepEqual(pageRequest({ first: 5, before: '' }), { first: 5 }, 'an empty `before` is no `before`');
  t.deepEqual(pageRequest({ last: 5, after: '' }), { last: 5 }, 'an empty `after` is no `after`');
});

test('first with last, and after with before, are refused saying how to page each way', (t) => {
  const cursor = encodeCursor(new Date(0), 'a');
  const both = t.throws(() => pageRequest({ first: 2, last: 2 }), { instanceOf: BadInputError });
  t.is(both.code, 'BAD_USER_INPUT');
  t.deepEqual(both.problems, [`first and last cannot be used together: ${HOW}`]);
  t.deepEqual(t.throws(() => pageRequest({ after: cursor, before: cursor }), { instanceOf: BadInputError }).problems, [`after and before cannot be used together: ${HOW}`]);
  t.deepEqual(t.throws(() => pageRequest({ first: 2, before: cursor }), { instanceOf: BadInputError }).problems, [`before goes with last, not first: ${HOW}`]);
  t.deepEqual(t.throws(() => pageRequest({ last: 2, after: cursor }), { instanceOf: BadInputError }).problems, [`after goes with first, not last: ${HOW}`]);
  t.deepEqual(
    t.throws(() => pageRequest({ first: 0, last: 0, after: cursor, before: cursor }), { instanceOf: BadInputError }).problems,
    [`first and last cannot be used together: ${HOW}`, `after and before cannot be used together: ${HOW}`],
    'each mix once, no echo of the same mistake',
  );
});

test('last has the same range as first, and every problem is named at once', (t) => {
  t.deepEqual(t.throws(() => pageRequest({ last: 501 }), { instanceOf: BadInputError }).problems, ['last must be from 0 to 500 (got 501)']);
  t.deepEqual(t.throws(() => pageRequest({ last: -1, before: encodeCursor(new Date(0), 'a') }), { instanceOf: BadInputError }).problems, ['last must be from 0 to 500 (got -1)']);
  t.throws(() => pageRequest({ last: 1.5 }), { message: /last must be from 0 to 500 \(got 1\.5\)/ });
  const err = t.throws(() => pageRequest({ last: 9999, before: 'junk' }, (problems) => problems.add('filter.x is wrong')), { instanceOf: BadInputError });
  t.deepEqual(err.problems, ['last must be from 0 to 500 (got 9999)', NOT_A_BEFORE_CURSOR, 'filter.x is wrong']);
});

test("a connection's pageInfo has the cursors of its first and last edges and the page's flags; an empty page has no cursors", (t) => {
  const a = { id: 'a', createdAt: new Date('2026-01-01T00:00:00.000Z') };
  const b = { id: 'b', createdAt: new Date('2026-01-02T00:00:00.000Z') };
  const c = connectionOf({ rows: [a, b], hasNextPage: false, hasPreviousPage: true, totalCount: 7 }, (r) => r.id);
  t.deepEqual(c.edges.map((e) => e.node), ['a', 'b']);
  t.deepEqual(c.pageInfo, { hasNextPage: false, hasPreviousPage: true, startCursor: encodeCursor(a.createdAt, 'a'), endCursor: encodeCursor(b.createdAt, 'b') });
  t.is(c.totalCount, 7);
  const empty = connectionOf({ rows: [], hasNextPage: true, hasPreviousPage: false, totalCount: 3 }, (r: typeof a) => r.id);
  t.deepEqual(empty.pageInfo, { hasNextPage: true, hasPreviousPage: false, startCursor: null, endCursor: null });
});
