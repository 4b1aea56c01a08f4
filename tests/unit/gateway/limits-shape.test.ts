/** `measureOperation` of src/gateway/limits/document-shape.ts: depth, fields, aliases and `__schema` fields of one operation. */
import test from 'ava';
import { getIntrospectionQuery, parse } from 'graphql';
import { measureOperation, operationOf } from '../../../src/gateway/limits/index.js';

function shape(source: string, operationName?: string) {
  const document = parse(source);
  const op = operationOf(document, operationName);
  if (!op) throw new Error('no such operation');
  return measureOperation(document, op);
}

test('depth counts nested field levels, a leaf included', (t) => {
  t.is(shape('{ a }').depth, 1);
  t.is(shape('{ volume { id } }').depth, 2);
  t.is(shape('{ volume { snapshots { volume { id } } } }').depth, 4);
});

test('depth is the deepest branch, not the sum of branches', (t) => {
  t.is(shape('{ a { b { c } } d { e } f }').depth, 3);
});

test('fields and aliases count every field and every alias', (t) => {
  const s = shape('{ x: volume { id y: name } z: volume { id } }');
  t.is(s.fields, 5);
  t.is(s.aliases, 3);
});

test('a fragment counts where it is spread: depth through it and its fields each time', (t) => {
  const s = shape('{ a { ...F } b { c { ...F } } } fragment F on T { d { e } f }');
  t.is(s.depth, 4);
  t.is(s.fields, 1 + 3 + 1 + 1 + 3);
});

test('a fragment spread twice in one selection set counts once, as GraphQL runs it once', (t) => {
  t.is(shape('{ a { ...F ...F ...F } } fragment F on T { b c }').fields, 3);
});

test('inline fragments count like fields written in place', (t) => {
  const s = shape('{ node { ... on Volume { id snapshots { id } } ... on Snapshot { id } } }');
  t.is(s.depth, 3);
  t.is(s.fields, 5);
});

test('fragments doubling at every level are counted exactly, without expanding them', (t) => {
  // F0 has 1 field; Fn has two fields each holding Fn-1: 2^n leaves and 2^(n+1)-2 inner fields.
  const levels = 40;
  const defs = ['fragment F0 on T { leaf }'];
  for (let i = 1; i <= levels; i++) defs.push(`fragment F${i} on T { a { ...F${i - 1} } b { ...F${i - 1} } }`);
  const s = shape(`{ root { ...F${levels} } } ${defs.join(' ')}`);
  t.is(s.fields, 1 + 2 ** levels + (2 ** (levels + 1) - 2));
  t.is(s.depth, levels + 2);
});

test('a fragment cycle (a validation error) adds nothing and ends', (t) => {
  const s = shape('{ a { ...F } } fragment F on T { b ...G } fragment G on T { c ...F }');
  t.is(s.fields, 3);
});

test('an unknown fragment adds nothing', (t) => {
  t.is(shape('{ a { ...Missing } }').fields, 1);
});

test('introspection adds no depth, but its fields count', (t) => {
  const s = shape('{ __schema { types { fields { type { ofType { ofType { name } } } } } } }');
  t.is(s.depth, 0);
  t.is(s.fields, 7);
  t.is(s.schemaFields, 1);
});

test("GraphiQL's full introspection query: no depth, one __schema, a few hundred fields", (t) => {
  const s = shape(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }));
  t.is(s.depth, 0);
  t.is(s.schemaFields, 1);
  t.true(s.fields > 100 && s.fields < 400, String(s.fields));
});

test('__schema under aliases counts each time', (t) => {
  t.is(shape('{ a: __schema { queryType { name } } b: __schema { queryType { name } } }').schemaFields, 2);
});

test('the operation named is the one measured', (t) => {
  const source = 'query A { a { b { c } } } query B { d }';
  t.is(shape(source, 'A').depth, 3);
  t.is(shape(source, 'B').depth, 1);
});

test('operationOf: no name with several operations is none', (t) => {
  t.is(operationOf(parse('query A { a } query B { b }')), undefined);
  t.is(operationOf(parse('query A { a }'), 'C'), undefined);
});
