/** `operationCost` of src/gateway/limits/cost.ts: lists by `first` (or `last`), nested lists multiply, scalars are free. */
import test from 'ava';
import { buildSchema, parse } from 'graphql';
import { operationCost, operationOf, type CostModel } from '../../../src/gateway/limits/index.js';

const schema = buildSchema(`
  type Query {
    volume(id: ID): Volume
    volumes(first: Int, after: String, last: Int, before: String): VolumeConnection!
    pools: [Pool!]!
    node(id: ID!): Node
    count: Int
  }
  type Mutation { touch(id: ID!): Volume }
  interface Node { id: ID! }
  type Volume implements Node { id: ID! name: String snapshots: [Snapshot!]! tags: [String!]! }
  type Snapshot implements Node { id: ID! volume: Volume }
  type VolumeConnection { edges: [VolumeEdge!]! pageInfo: PageInfo! totalCount: Int }
  type VolumeEdge { node: Volume! cursor: String }
  type PageInfo { hasNextPage: Boolean }
  type Pool { name: String }
`);

const model: CostModel = { defaultListSize: 10, pageDefault: 50, pageMax: 500 };

function cost(source: string, variables?: Record<string, unknown>, operationName?: string): number {
  const document = parse(source);
  return operationCost(schema, document, operationOf(document, operationName)!, variables, model);
}

test('scalars cost nothing and an object costs one', (t) => {
  t.is(cost('{ count }'), 0);
  t.is(cost('{ volume { id name tags } }'), 1);
});

test('a list without first counts as the default list size', (t) => {
  t.is(cost('{ pools { name } }'), 10);
  t.is(cost('{ volume { snapshots { id } } }'), 1 + 10);
});

test("a connection's edges count as its first argument, and its pageInfo once", (t) => {
  t.is(cost('{ volumes(first: 20) { edges { node { id } } pageInfo { hasNextPage } totalCount } }'), 1 + 20 + 20 + 1);
});

test('nested lists multiply', (t) => {
  t.is(cost('{ volumes(first: 50) { edges { node { snapshots { id } } } } }'), 1 + 50 + 50 + 50 * 10);
  t.is(cost('{ volume { snapshots { volume { snapshots { volume { id } } } } } }'), 1 + 10 + 10 + 100 + 100);
});

test('first comes from a variable, from its default, or is the default page', (t) => {
  const q = 'query ($n: Int = 7) { volumes(first: $n) { edges { node { id } } } }';
  t.is(cost(q, { n: 3 }), 1 + 3 + 3);
  t.is(cost(q, {}), 1 + 7 + 7);
  t.is(cost('{ volumes { edges { node { id } } } }'), 1 + 50 + 50);
  t.is(cost('query ($n: Int) { volumes(first: $n) { edges { node { id } } } }', { n: null }), 1 + 50 + 50);
});

test('first is clamped to the largest page: a larger one is refused by the resolver, not here', (t) => {
  t.is(cost('{ volumes(first: 100000) { edges { node { id } } } }'), 1 + 500 + 500);
  t.is(cost('{ volumes(first: -5) { edges { node { id } } } }'), 1);
});

test('a backward page costs its last argument as a forward one its first; both given count as the larger', (t) => {
  t.is(cost('{ volumes(last: 20) { edges { node { id } } } }'), 1 + 20 + 20);
  t.is(cost('{ volumes(last: 100000, before: "c") { edges { node { id } } } }'), 1 + 500 + 500, 'clamped to the largest page');
  t.is(cost('query ($n: Int) { volumes(last: $n) { edges { node { id } } } }', { n: 300 }), 1 + 300 + 300);
  t.is(cost('{ volumes(first: 2, last: 400) { edges { node { id } } } }'), 1 + 400 + 400);
  t.is(cost('{ volumes(first: null, last: null) { edges { node { id } } } }'), 1 + 50 + 50);
});

test('a fragment inherits the page of the connection it is spread in', (t) => {
  const q = 'query { a: volumes(first: 4) { ...Page } b: volumes(first: 2) { ...Page } } fragment Page on VolumeConnection { edges { node { id } } }';
  t.is(cost(q), 1 + 4 + 4 + 1 + 2 + 2);
});

test('inline fragments on an interface cost what their fields cost', (t) => {
  t.is(cost('{ node(id: "1") { id ... on Snapshot { volume { snapshots { id } } } } }'), 1 + 1 + 10);
});

test('introspection and __typename cost nothing', (t) => {
  t.is(cost('{ __typename __schema { types { fields { name } } } }'), 0);
});

test('mutations are costed from the mutation type', (t) => {
  t.is(cost('mutation { touch(id: "1") { snapshots { id } } }'), 1 + 10);
});

test('fragments nested 30 deep are costed without expanding them, however large the product', (t) => {
  const levels = 30;
  const defs = ['fragment F0 on Volume { snapshots { id } }'];
  for (let i = 1; i <= levels; i++) defs.push(`fragment F${i} on Volume { snapshots { volume { ...F${i - 1} } } }`);
  const c = cost(`{ volume { ...F${levels} } } ${defs.join(' ')}`);
  t.true(c > 1e30);
});
