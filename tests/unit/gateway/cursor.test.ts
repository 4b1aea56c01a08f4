/**
 * Relay cursors of every list (src/resolvers/types/relay.ts): opaque, round-tripping, and
 * refused when forged, with the page size, by the gateway's page request (src/gateway/queries/page.ts).
 */
import 'reflect-metadata';
import test from 'ava';
import { BadInputError } from '../../../src/domain/errors.js';
import { pageRequest } from '../../../src/gateway/queries/page.js';
import { decodeCursor, encodeCursor } from '../../../src/resolvers/types/relay.js';

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

for (const [what, cursor] of garbage) {
  test(`a cursor that is ${what} does not decode, and a page request with it is BAD_USER_INPUT telling to pass endCursor`, (t) => {
    t.is(decodeCursor(cursor), null);
    if (cursor === '') return; // an empty `after` is no `after`: the first page
    const err = t.throws(() => pageRequest(10, cursor), { instanceOf: BadInputError });
    t.is(err.code, 'BAD_USER_INPUT');
    t.deepEqual(err.problems, [NOT_A_CURSOR]);
  });
}

test('a page request without `after` is the first page; with a cursor, the page after its row', (t) => {
  t.deepEqual(pageRequest(undefined, undefined), { first: 50 });
  t.deepEqual(pageRequest(0, null), { first: 0 });
  const at = new Date('2026-03-04T05:06:07.089Z');
  t.deepEqual(pageRequest(500, encodeCursor(at, 'v-1')), { first: 500, after: { createdAt: at, id: 'v-1' } });
});

test('a page request names every problem at once: the size, the cursor, the filter', (t) => {
  const err = t.throws(() => pageRequest(501, 'junk', (problems) => problems.add('filter.x is wrong')), { instanceOf: BadInputError });
  t.deepEqual(err.problems, ['first must be from 0 to 500 (got 501)', NOT_A_CURSOR, 'filter.x is wrong']);
  t.throws(() => pageRequest(-1, undefined), { message: /first must be from 0 to 500 \(got -1\)/ });
  t.throws(() => pageRequest(2.5, undefined), { message: /got 2\.5/ });
});
