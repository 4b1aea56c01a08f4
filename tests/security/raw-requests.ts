/**
 * Hostile requests that are not a well-formed GraphQL request at all: bodies that are not
 * JSON or not an object, a query that is not a string, documents nested or repeated far
 * beyond reason, odd content types and methods.
 */
import fc from 'fast-check';
import type { Flint, GraphQLResponse } from './harness.js';

export interface RawCase {
  method: 'GET' | 'POST';
  contentType: string;
  body: string;
  /** For GET: the query string. */
  search?: string;
}

const nested = (depth: number, open: string, close: string, leaf: string) => open.repeat(depth) + leaf + close.repeat(depth);

const documents: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 100, max: 20_000 }).map((d) => `{ ${nested(d, 'volumes { edges { node { ', ' } } } ', 'id')} }`),
  fc.integer({ min: 100, max: 50_000 }).map((d) => `query { viewer { ${nested(d, '... on Viewer { ', ' } ', 'role')} } }`),
  fc.integer({ min: 10, max: 5_000 }).map((n) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`),
  fc.integer({ min: 100, max: 20_000 }).map((d) => `{ volumes(filter: ${nested(d, '{ a: ', ' }', '1')}) { totalCount } }`),
  fc.integer({ min: 100, max: 20_000 }).map((d) => `mutation { createVolume(input: { name: "x", metadata: ${nested(d, '{ a: [', '] }', '1')} }) { volume { id } } }`),
  fc.integer({ min: 10, max: 3_000 }).map((n) => `query Q(${Array.from({ length: n }, (_, i) => `$v${i}: String`).join(', ')}) { viewer { role } }`),
  fc.constantFrom(
    '',
    '{',
    '}}}}',
    'query { __typename }',
    'subscription { poolsChanged { id } }',
    'query A { viewer { role } } query A { viewer { role } }',
    '{ viewer { role } } mutation { deleteVolumeType(input: { id: "x" }) }',
    'fragment F on Viewer { ...F } { viewer { ...F } }',
    '{ __schema { types { name } } }',
    '{ node(id: "\\u0000") { id } }',
    '{ volume(id: "\\uD800") { id } }',
    '{ volumes(first: 99999999999999) { totalCount } }',
    '{ volumes(first: -1) { totalCount } }',
    '{ volumes(after: "!!!!") { totalCount } }',
    '{ volumes(after: "WyIyMDI2LTAxLTAxVDAwOjAwOjAwWiIsMV0") { totalCount } }',
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

const bodies: fc.Arbitrary<string> = fc.oneof(
  documents.map((query) => JSON.stringify({ query })),
  fc.tuple(documents, fc.jsonValue({ maxDepth: 2 })).map(([query, variables]) => JSON.stringify({ query, variables })),
  fc.tuple(documents, fc.string({ maxLength: 40 })).map(([query, operationName]) => JSON.stringify({ query, operationName })),
  fc.jsonValue({ maxDepth: 3 }).map((query) => JSON.stringify({ query })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('', 'not json', '{"query":', '[]', '[{"query":"{ viewer { role } }"}]', 'null', '{}', '{"query":"{ viewer { role } }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"x"}}}'),
  fc.integer({ min: 1_000, max: 100_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
  fc.integer({ min: 1_000, max: 100_000 }).map((d) => `{"query":"{ viewer { role } }","variables":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`),
  fc.string({ unit: 'binary', maxLength: 300 }),
);

export const rawCase: fc.Arbitrary<RawCase> = fc.oneof(
  { weight: 6, arbitrary: bodies.map((body): RawCase => ({ method: 'POST', contentType: 'application/json', body })) },
  { weight: 1, arbitrary: fc.tuple(bodies, fc.constantFrom('text/plain', 'application/graphql', 'multipart/form-data; boundary=x', '', 'application/json; charset=latin1')).map(([body, contentType]): RawCase => ({ method: 'POST', contentType, body })) },
  // Node refuses request lines over 16 KiB itself (431, before any Flint code): GET documents stay shorter.
  { weight: 1, arbitrary: documents.map((q) => `?query=${encodeURIComponent(q)}`).filter((s) => s.length < 12_000).map((search): RawCase => ({ method: 'GET', contentType: '', body: '', search })) },
);

/** Sends a raw case; the answer as a GraphQL response (a body that is not JSON becomes error code NOT_JSON). */
export async function sendRaw(flint: Flint, token: string, c: RawCase): Promise<GraphQLResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' };
  if (c.contentType) headers['content-type'] = c.contentType;
  const res = await fetch(flint.url + (c.search ?? ''), { method: c.method, headers, ...(c.method === 'POST' ? { body: c.body } : {}) });
  const text = await res.text();
  try {
    const parsed = JSON.parse(text) as Omit<GraphQLResponse, 'status'>;
    return { status: res.status, ...(parsed && typeof parsed === 'object' ? parsed : {}) };
  } catch {
    return { status: res.status, errors: [{ message: `not JSON (status ${res.status}): ${text.slice(0, 200)}`, extensions: { code: 'NOT_JSON' } }] };
  }
}
