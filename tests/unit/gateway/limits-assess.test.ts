/** `assessOperation` and `limitErrorOf` of src/gateway/limits/operation-check.ts, and the single timeout error of the Apollo plugin. */
import test from 'ava';
import { buildSchema, parse } from 'graphql';
import { QueryTooComplexError } from '../../../src/domain/errors.js';
import { assessOperation, keepOneTimeoutError, limitErrorOf, type OperationLimits } from '../../../src/gateway/limits/index.js';

const schema = buildSchema(`
  type Query { volume(id: ID): Volume volumes(first: Int): VolumeConnection! }
  type Volume { id: ID! name: String snapshots: [Snapshot!]! }
  type Snapshot { id: ID! volume: Volume }
  type VolumeConnection { edges: [VolumeEdge!]! }
  type VolumeEdge { node: Volume! }
`);

const limits: OperationLimits = { maxDepth: 4, maxAliases: 2, maxFields: 10, maxCost: 100, defaultListSize: 10, pageDefault: 50, pageMax: 500 };

const assess = (source: string, variables?: Record<string, unknown>, operationName?: string) =>
  assessOperation(schema, parse(source), operationName, variables, limits);

test('an operation within every limit passes with its cost', (t) => {
  const a = assess('{ volume { id snapshots { id } } }');
  t.is(a.refused, undefined);
  t.is(a.cost, 11);
});

test('too deep: QUERY_TOO_COMPLEX, limit depth, with the maximum and the depth found', (t) => {
  const { refused } = assess('{ volume { snapshots { volume { snapshots { id } } } } }');
  t.true(refused instanceof QueryTooComplexError);
  t.is(refused?.code, 'QUERY_TOO_COMPLEX');
  t.deepEqual(refused?.details, { limit: 'depth', max: 4, actual: 5 });
  t.regex(refused!.message, /FLINT_API_MAX_DEPTH/);
});

test('too many aliases: limit aliases', (t) => {
  t.deepEqual(assess('{ a: volume { id } b: volume { id } c: volume { id } }').refused?.details, { limit: 'aliases', max: 2, actual: 3 });
});

test('too many fields: limit fields', (t) => {
  t.deepEqual(assess('{ volume { id name id name id name id name id name } }').refused?.details, { limit: 'fields', max: 10, actual: 11 });
});

test('__schema twice: limit introspection', (t) => {
  t.like(assess('{ __schema { queryType { name } } again: __schema { queryType { name } } }').refused?.details, { limit: 'introspection', actual: 2 });
});

test('too costly: limit cost, and the message says how lists are counted', (t) => {
  const { refused, cost } = assess('query ($n: Int) { volumes(first: $n) { edges { node { id } } } }', { n: 60 });
  t.is(cost, 121);
  t.deepEqual(refused?.details, { limit: 'cost', max: 100, actual: 121 });
  t.regex(refused!.message, /first/);
});

test('the cost depends on the variables of the request, the shape on the document only', (t) => {
  const source = 'query ($n: Int) { volumes(first: $n) { edges { node { id } } } }';
  const document = parse(source);
  t.is(assessOperation(schema, document, undefined, { n: 10 }, limits).refused, undefined);
  t.is(assessOperation(schema, document, undefined, { n: 60 }, limits).refused?.details?.limit, 'cost');
});

test('an operation the document does not name is let through at cost 0 (GraphQL reports it)', (t) => {
  t.deepEqual(assess('query A { volume { id } }', undefined, 'B'), { cost: 0 });
});

test("the parser's token limit becomes QUERY_TOO_COMPLEX (tokens) with the limit", (t) => {
  const e = limitErrorOf('Syntax Error: Document contains more that 5000 tokens. Parsing aborted.');
  t.deepEqual(e?.details, { limit: 'tokens', max: 5000 });
  t.regex(e!.message, /FLINT_API_MAX_TOKENS/);
  t.is(limitErrorOf('Syntax Error: Document contains more than 7 tokens. Parsing aborted.')?.details?.max, 7);
});

test("GraphQL's aborted validation becomes QUERY_TOO_COMPLEX (fields)", (t) => {
  t.is(limitErrorOf('Validation aborted.')?.details?.limit, 'fields');
});

test('other syntax and validation errors are not limits', (t) => {
  t.is(limitErrorOf('Syntax Error: Expected Name, found <EOF>.'), undefined);
  t.is(limitErrorOf('Cannot query field "x" on type "Query".'), undefined);
});

test('a response cut off at the timeout keeps one timeout error and every other error', (t) => {
  const timeout = { message: 'cut off', extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'timeout' } };
  const other = { message: 'no', extensions: { code: 'NOT_FOUND' } };
  t.deepEqual(keepOneTimeoutError([timeout, other, { ...timeout, path: ['a'] }, timeout]), [timeout, other]);
  t.deepEqual(keepOneTimeoutError([other]), [other]);
});
