import test from 'ava';
import { buildSchema, graphql, GraphQLError, parse, subscribe, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { BadInputError } from '../../../src/domain/errors.js';
import { refuseUnparsableDocuments } from '../../../src/gateway/http/ws-parse.js';
import { guardInputs, inputProblems, MAX_INPUT_PROBLEMS } from '../../../src/resolvers/input-hygiene.js';

const SDL = `
  scalar JSONObject
  enum Color { RED GREEN }
  input Item { name: String!, description: String, tags: [String!] }
  input Make { id: ID, name: String, description: String, reason: String, metadata: JSONObject, items: [Item!], color: Color, size: Int, flag: Boolean }
  type Query { echo(input: Make): String, byId(id: ID!): String, many(ids: [ID!]): String }
  type Subscription { watch(filter: Make): String }
`;
const UUID = '3f2b8c1e-0a4d-4e5f-9a8b-7c6d5e4f3a2b';

/** A schema whose resolvers count their calls, guarded. */
function guarded(): { schema: GraphQLSchema; calls: string[] } {
  const schema = buildSchema(SDL);
  const calls: string[] = [];
  for (const name of ['echo', 'byId', 'many']) schema.getQueryType()!.getFields()[name]!.resolve = () => (calls.push(name), 'ok');
  const watch = schema.getSubscriptionType()!.getFields().watch!;
  watch.subscribe = async function* () {
    calls.push('watch');
    yield { watch: 'ok' };
  };
  return { schema: guardInputs(schema), calls };
}

/** The problems of the BadInputError a result carries (it must carry one). */
function problemsOf(r: ExecutionResult): string[] {
  const e = r.errors?.[0]?.originalError;
  if (!(e instanceof BadInputError)) throw new Error(`expected a BadInputError, got ${JSON.stringify(r)}`);
  return [...e.problems];
}

test('a NUL in a variable is BAD_USER_INPUT naming its path, and the resolver does not run', async (t) => {
  const { schema, calls } = guarded();
  const r = await graphql({ schema, source: 'query($i: Make) { echo(input: $i) }', variableValues: { i: { name: 'a\u0000b' } } });
  t.is((r.errors?.[0]?.originalError as BadInputError).code, 'BAD_USER_INPUT');
  t.deepEqual(problemsOf(r).map((p) => p.split(' contains ')[0]), ['input.name']);
  t.deepEqual(calls, []);
});

test('an inline literal is checked as a variable is', async (t) => {
  const { schema, calls } = guarded();
  const r = await graphql({ schema, source: '{ echo(input: { name: "a\\u202Eb" }) }' });
  t.regex(problemsOf(r)[0]!, /^input\.name contains U\+202E/);
  t.deepEqual(calls, []);
});

test('strings in nested input objects and lists are checked with their path', (t) => {
  const schema = buildSchema(SDL);
  const defs = schema.getQueryType()!.getFields().echo!.args;
  const problems = inputProblems({ input: { items: [{ name: 'ok' }, { name: 'x', tags: ['fine', 'b\u0007ad'] }] } }, defs);
  t.deepEqual(problems.map((p) => p.split(' contains ')[0]), ['input.items[1].tags[1]']);
});

test('keys and values of a JSON-typed input are checked at any depth', (t) => {
  const defs = buildSchema(SDL).getQueryType()!.getFields().echo!.args;
  const problems = inputProblems({ input: { metadata: { 'a\u0000b': 'v', ok: { deeper: ['x', 'y\ud800'] }, 'odd key': '\u0085' } } }, defs);
  t.deepEqual(
    problems.map((p) => p.split(' contains ')[0]),
    ['input.metadata.key "a\\u0000b"', 'input.metadata.ok.deeper[1]', 'input.metadata["odd key"]'],
  );
});

test('a description or reason may keep line feeds and tabs; a name may not', (t) => {
  const defs = buildSchema(SDL).getQueryType()!.getFields().echo!.args;
  t.deepEqual(inputProblems({ input: { description: 'one\n\ttwo', reason: 'ticket 1\nchecked' } }, defs), []);
  t.deepEqual(inputProblems({ input: { name: 'one\ntwo' } }, defs).map((p) => p.split(' contains ')[0]), ['input.name']);
  t.deepEqual(inputProblems({ input: { description: 'one\r\ntwo' } }, defs).map((p) => p.split(' contains ')[0]), ['input.description']);
});

test('an ID that is not a UUID is refused wherever it is, and a UUID passes', async (t) => {
  const { schema, calls } = guarded();
  t.regex(problemsOf(await graphql({ schema, source: '{ byId(id: "v-1") }' }))[0]!, /^id "v-1" is not an id Flint gave out/);
  t.regex(problemsOf(await graphql({ schema, source: '{ byId(id: 42) }' }))[0]!, /^id "42" is not an id/);
  t.regex(problemsOf(await graphql({ schema, source: `{ many(ids: ["${UUID}", "nope"]) }` }))[0]!, /^ids\[1\] "nope" is not an id/);
  t.regex(problemsOf(await graphql({ schema, source: '{ echo(input: { id: "" }) }' }))[0]!, /^input\.id "" is not an id/);
  t.deepEqual(calls, []);
  const ok = await graphql({ schema, source: `{ byId(id: "${UUID}") many(ids: ["${UUID.toUpperCase()}"]) }` });
  t.deepEqual(ok.data, { byId: 'ok', many: 'ok' });
});

test('enum, Int and Boolean arguments are left alone', async (t) => {
  const { schema } = guarded();
  const r = await graphql({ schema, source: '{ echo(input: { color: RED, size: -5, flag: true, name: "fine" }) }' });
  t.deepEqual(r, { data: { echo: 'ok' } });
});

test('a subscription\'s arguments are checked before its source stream starts', async (t) => {
  const { schema, calls } = guarded();
  const r = (await subscribe({ schema, document: parse('subscription($f: Make) { watch(filter: $f) }'), variableValues: { f: { name: '\u0000' } } })) as ExecutionResult;
  t.regex(problemsOf(r)[0]!, /^filter\.name contains U\+0000/);
  t.deepEqual(calls, []);
  const ok = await subscribe({ schema, document: parse('subscription { watch(filter: { name: "ok" }) }') });
  t.true(Symbol.asyncIterator in ok);
});

test('every problem is reported at once, up to the limit', (t) => {
  const defs = buildSchema(SDL).getQueryType()!.getFields().echo!.args;
  t.is(inputProblems({ input: { name: '\u0001', description: '\u0002', reason: '\u0003' } }, defs).length, 3);
  const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, '\u0000']));
  t.is(inputProblems({ input: { metadata: many } }, defs).length, MAX_INPUT_PROBLEMS);
});

test('a JSON value nested 100,000 deep is checked without overflowing the stack', (t) => {
  const defs = buildSchema(SDL).getQueryType()!.getFields().echo!.args;
  let deep: unknown = 'bad\u0000';
  for (let i = 0; i < 100_000; i++) deep = i % 2 ? { k: deep } : [deep];
  const problems = inputProblems({ input: { metadata: { root: deep } } }, defs);
  t.is(problems.length, 1);
  t.regex(problems[0]!, /contains U\+0000/);
});

test('graphql-ws: a document that does not parse is answered with its syntax error, not a closed socket', (t) => {
  const errors = refuseUnparsableDocuments(null, '1', { query: '{ volume(id: "\\uD800") { id } }' });
  t.true(errors?.[0] instanceof GraphQLError);
  t.regex(errors![0]!.message, /^Syntax Error: Invalid Unicode escape sequence/);
  t.regex(refuseUnparsableDocuments(null, '1', { query: '{' })![0]!.message, /^Syntax Error/);
  t.is(refuseUnparsableDocuments(null, '1', { query: '{ viewer { role } }' }), undefined);
});

test('graphql-ws: a document nested too deep to parse is a syntax error too', (t) => {
  const depth = 200_000;
  const errors = refuseUnparsableDocuments(null, '1', { query: `{ a ${'{ a '.repeat(depth)}${'} '.repeat(depth)}}` });
  t.true(errors?.[0] instanceof GraphQLError);
  t.regex(errors![0]!.message, /^Syntax Error: the document is nested too deeply to parse/);
});
