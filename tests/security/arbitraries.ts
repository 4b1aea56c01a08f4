/**
 * fast-check arbitraries for GraphQL requests, derived from the schema alone: for every
 * argument of a root field a value of its type (scalars, enums, input objects, lists), most
 * often plausible, often hostile (NUL and other controls, lone surrogates, bidi overrides,
 * emoji and combining marks, 1 MB strings, huge and negative numbers, deep lists and
 * objects), and sometimes of the wrong type or null where GraphQL wants a value.
 */
import fc from 'fast-check';
import { getNamedType, isEnumType, isInputObjectType, isListType, isNonNullType, isScalarType, type GraphQLInputType } from 'graphql';
import type { RootField } from './schema-walk.js';

/** A value left out of its object or argument list. */
export const OMIT: unique symbol = Symbol('omit');

/** An id of something that exists, picked from those known when the request is made. */
export class KnownId {
  constructor(readonly index: number) {}
}

/** A string Flint knows (a pool, host, type name, exported record…), picked when the request is made. */
export class KnownString {
  constructor(readonly index: number) {}
}

/** Characters that have broken servers somewhere. */
const NASTY_CHARS = [
  '\u0000', '\u0001', '\u0007', '\u0008', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009f',
  '\ud800', '\udbff', '\udc00', '\udfff', '\u202a', '\u202e', '\u2066', '\u2069', '\u200b', '\u200e', '\u2028',
  '\ufeff', '\ufffd', '\uffff', '\u0301', '\u0336', '👍🏽', '👨‍👩‍👧', '🇫🇷', '𝕏', 'é', 'ß', 'İ', '中', '\\', '"', "'", '%', '$', '{', '}', '/', '..',
];

/** Whole strings that have broken servers somewhere. */
const NASTY_STRINGS = [
  '', ' ', '   ', '\n', '\r\n', '\t', 'null', 'undefined', 'true', 'NaN', 'Infinity', '-1', '0', '1e309', '0x10',
  '__proto__', 'constructor', 'prototype', 'toString', '{"a":1}', '[]', "'; DROP TABLE volume; --", '" OR 1=1 --',
  '../../../../etc/passwd', '/etc/passwd', 'volume-00000000-0000-0000-0000-000000000000.raw', '%00', '%s%s%s%n', '${jndi:ldap://x}',
  '<script>alert(1)</script>', 'e\u0301\u0301\u0301\u0301\u0301', 'x\u202egnp.exe', '\ud800\ud800', 'a\u0000b',
  '00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', ' 00000000-0000-0000-0000-000000000000',
];

/** One string of about 1 MB: just under the gateway's body limit once quoted. */
const ONE_MB = 'x'.repeat(1_000_000);

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 400, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 400, arbitrary: fc.array(fc.oneof(fc.constantFrom(...NASTY_CHARS), fc.string({ maxLength: 4 })), { maxLength: 8 }).map((a) => a.join('')) },
  { weight: 300, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 200, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
  { weight: 100, arbitrary: fc.integer({ min: 250, max: 1100 }).map((n) => 'y'.repeat(n)) },
  { weight: 100, arbitrary: fc.constant('') },
  // Rare, as they are slow to send: about one request in a few hundred.
  { weight: 8, arbitrary: fc.constant(ONE_MB) },
);

const simpleName = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);

/** What databases refuse or mangle: NUL (SQLite and PostgreSQL), unpaired surrogates (not UTF-8), long values. */
const STORAGE_BREAKERS = ['\u0000', 'a\u0000b', '\ud800', 'x\udfff', 'y'.repeat(300), '', "'", '%_\\'];

/**
 * Opaque strings (cursors, records) are often base64 of JSON: the same encoding around
 * hostile content, so what decodes them meets it too.
 */
const cursorLike = fc.tuple(
  fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.constant('x')),
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...STORAGE_BREAKERS) },
    { weight: 1, arbitrary: hostileString },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
  ),
);

const encoded: fc.Arbitrary<string> = fc
  .oneof(
    // [createdAt, id]: the shape of Flint's cursors, the most common opaque input.
    { weight: 3, arbitrary: cursorLike },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(hostileString, fc.jsonValue({ maxDepth: 1 })), { maxKeys: 6 }) },
  )
  .map((v) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url'));

const plausibleString: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.nat().map((i) => new KnownString(i)) },
  { weight: 2, arbitrary: simpleName },
  { weight: 3, arbitrary: encoded },
);

const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 });

/** JSON that is deep or wide rather than random. */
const bigJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: 100, max: 1000 }).map((depth) => {
    let v: unknown = 'leaf';
    for (let i = 0; i < depth; i++) v = i % 2 ? { k: v } : [v];
    return v;
  }),
  fc.integer({ min: 100, max: 5000 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`]))),
  fc.integer({ min: 100, max: 20000 }).map((n) => Array.from({ length: n }, () => 'x')),
);

const intValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: -3, max: 70 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, -1, 1, 2, 50, 500, 501, 1000, 65_535, 65_536, 65_537, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, -1e308) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);

const wrongType: fc.Arbitrary<unknown> = fc.oneof(anyJson, hostileString, fc.constant([[[[1]]]]), bigJson);

function scalarValue(name: string): fc.Arbitrary<unknown> {
  switch (name) {
    case 'ID':
      return fc.oneof(
        { weight: 6, arbitrary: fc.nat().map((i) => new KnownId(i)) },
        { weight: 2, arbitrary: fc.uuid() },
        { weight: 2, arbitrary: hostileString },
      );
    case 'String':
      return fc.oneof({ weight: 3, arbitrary: plausibleString }, { weight: 3, arbitrary: hostileString });
    case 'Int':
      return intValue;
    case 'Float':
      return fc.oneof(intValue, fc.double());
    case 'Boolean':
      return fc.boolean();
    default:
      // JSON-like custom scalars (metadata, extra specs) and anything added later.
      return fc.oneof(
        { weight: 4, arbitrary: fc.dictionary(fc.oneof(simpleName, hostileString), fc.oneof(plausibleString, hostileString), { maxKeys: 4 }) },
        { weight: 2, arbitrary: fc.dictionary(hostileString, anyJson, { maxKeys: 4 }) },
        { weight: 1, arbitrary: bigJson },
        { weight: 1, arbitrary: anyJson },
      );
  }
}

/** A value for `type`, `depth` input objects down. */
export function valueFor(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 4) return fc.constant(null);
  if (isNonNullType(type)) {
    return fc.oneof({ weight: 30, arbitrary: valueFor(type.ofType, depth) }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant(OMIT) });
  }
  const inner = (): fc.Arbitrary<unknown> => {
    if (isListType(type)) {
      const item = valueFor(type.ofType, depth + 1);
      return fc.oneof(
        { weight: 6, arbitrary: fc.array(item, { maxLength: 4 }) },
        { weight: 2, arbitrary: item },
        // Long lists of small items (a long list of 1 MB strings would not fit in memory).
        { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1000, max: 20000 }), item.filter((v) => (JSON.stringify(v) ?? '').length < 200)).map(([n, v]) => Array.from({ length: n }, () => v)) },
      );
    }
    if (isInputObjectType(type)) {
      const fields = Object.values(type.getFields());
      const record = fc.record(Object.fromEntries(fields.map((f) => [f.name, valueFor(f.type, depth + 1)])));
      return fc.oneof(
        { weight: 10, arbitrary: record },
        { weight: 1, arbitrary: fc.tuple(record, fc.string({ maxLength: 8 }), anyJson).map(([r, k, v]) => ({ ...r, [k || 'extra']: v })) },
      );
    }
    if (isEnumType(type)) return fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...type.getValues().map((v) => v.name)) }, { weight: 1, arbitrary: hostileString });
    if (isScalarType(type)) return scalarValue(type.name);
    return anyJson;
  };
  return fc.oneof(
    { weight: 24, arbitrary: inner() },
    { weight: 2, arbitrary: fc.constant(OMIT) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: wrongType },
  );
}

export type Token = 'admin' | 'member' | 'reader' | 'none' | 'bogus';

/** One generated request: a root field, its arguments, how they travel, and who sends it. */
export interface FuzzCase {
  root: RootField;
  args: Record<string, unknown>;
  /** Arguments written into the document where they can be, rather than sent as variables. */
  inline: boolean;
  /** Variables declared with a type other than the argument's (GraphQL must refuse it). */
  misdeclared: boolean;
  token: Token;
  /** Queries and mutations over graphql-ws rather than HTTP (subscriptions always are). */
  overWs: boolean;
}

/** True `n` times in `outOf` (fast-check's numbers lean to their bounds, so not `x < p`). */
function chance(n: number, outOf: number): fc.Arbitrary<boolean> {
  return fc.oneof({ weight: n, arbitrary: fc.constant(true) }, { weight: outOf - n, arbitrary: fc.constant(false) });
}

export function fuzzCase(roots: RootField[]): fc.Arbitrary<FuzzCase> {
  const perRoot = roots.map((root) =>
    fc.record({
      root: fc.constant(root),
      args: fc.record(Object.fromEntries(root.field.args.map((a) => [a.name, valueFor(a.type)]))),
      inline: fc.boolean(),
      misdeclared: chance(1, 50),
      token: fc.constantFrom<Token>('admin', 'admin', 'admin', 'member', 'member', 'member', 'reader', 'none', 'bogus'),
      overWs: root.kind === 'subscription' ? fc.constant(true) : chance(1, 10),
    }),
  );
  return fc.oneof(...perRoot);
}

/** The names of the types a case's arguments use, for the coverage report. */
export function namedTypesOf(root: RootField): string[] {
  return root.field.args.map((a) => getNamedType(a.type).name);
}
