/**
 * The default limits (src/config/api-limits.ts) against Flint's real schema: every
 * operation of the SDK and CLI (schema/operations/, at the largest page), the dashboard's
 * queries (web/dashboard/api.ts) and GraphiQL's introspection query pass; the abusive
 * shapes of issue 11 do not.
 */
import 'reflect-metadata';
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { getIntrospectionQuery, Kind, parse, validate, type GraphQLSchema } from 'graphql';
import { loadConfig } from '../../../src/config/index.js';
import { assessOperation, operationLimitsOf } from '../../../src/gateway/limits/index.js';
import { buildFlintSchema } from '../../../src/resolvers/index.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const limits = operationLimitsOf(loadConfig({}).apiLimits);
let schema: GraphQLSchema;

test.before(async () => {
  schema = await buildFlintSchema();
});

/** Every operation of a document, with `first` at the largest page the API serves. */
function assessAll(source: string): Array<{ name: string; code?: string; limit?: unknown; cost: number }> {
  const document = parse(source);
  const invalid = validate(schema, document);
  if (invalid.length) throw new Error(`invalid document: ${invalid[0]!.message}`);
  return document.definitions
    .filter((d) => d.kind === Kind.OPERATION_DEFINITION)
    .map((op) => {
      const name = op.name?.value ?? '(anonymous)';
      const a = assessOperation(schema, document, op.name?.value, { first: limits.pageMax }, limits);
      return { name, code: a.refused?.code, limit: a.refused?.details?.limit, cost: a.cost };
    });
}

test('every SDK and CLI operation passes the default limits, at the largest page', (t) => {
  // One document, as codegen reads them: every fragment is used somewhere.
  const dir = join(ROOT, 'schema', 'operations');
  const all = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  const results = assessAll(all);
  t.true(results.length > 20, `only ${results.length} operations found`);
  for (const r of results) t.is(r.code, undefined, `${r.name}: ${String(r.limit)} (cost ${r.cost})`);
});

test("the dashboard's queries and subscriptions pass the default limits", async (t) => {
  // web/ is bundled by esbuild, not compiled with the tests: load its query module the same way.
  const { code } = transformSync(readFileSync(join(ROOT, 'web', 'dashboard', 'api.ts'), 'utf8'), { loader: 'ts', format: 'esm' });
  const api = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Record<string, unknown>;
  const queries = Object.values(api).filter((v): v is string => typeof v === 'string' && /^(query|subscription|mutation)\b/.test(v));
  t.true(queries.length >= 5);
  for (const q of queries) for (const r of assessAll(q)) t.is(r.code, undefined, `${r.name}: ${String(r.limit)} (cost ${r.cost})`);
});

test("GraphiQL's introspection query passes the default limits", (t) => {
  const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true });
  t.deepEqual(assessAll(query).map((r) => r.code), [undefined]);
});

test('a page of 500 volumes with their snapshots is allowed; with the snapshots\' volumes\' snapshots it is not', (t) => {
  t.is(assessAll('{ volumes(first: 500) { edges { node { id snapshots { id name } } } } }')[0]!.code, undefined);
  t.like(assessAll('{ volumes(first: 500) { edges { node { snapshots { volume { snapshots { id } } } } } } }')[0], { code: 'QUERY_TOO_COMPLEX', limit: 'cost' });
});

test('the cyclic query the issue timed grows past the depth limit', (t) => {
  let inner = 'id';
  for (let i = 0; i < 5; i++) inner = `snapshots { volume { ${inner} } }`;
  t.like(assessAll(`{ volume(id: "v") { ${inner} } }`)[0], { code: 'QUERY_TOO_COMPLEX', limit: 'depth' });
});

test('30 aliases pass and 31 do not', (t) => {
  const aliased = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: volume(id: "v") { id }`).join(' ')} }`;
  t.is(assessAll(aliased(30))[0]!.code, undefined);
  t.like(assessAll(aliased(31))[0], { code: 'QUERY_TOO_COMPLEX', limit: 'aliases' });
});
