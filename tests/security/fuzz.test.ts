/**
 * Schema-driven fuzzing of a real Flint: requests generated from introspection alone, for
 * every root field (queries and mutations over HTTP and sometimes graphql-ws, subscriptions
 * over graphql-ws), with random and hostile arguments, plus hostile request bodies. Every
 * answer must carry only error codes of the public list: no INTERNAL, no 5xx, no answer
 * that is not JSON, and the gateway must still answer `/healthz` at the end.
 *
 * Replay: the seed is printed; FLINT_FUZZ_SEED=<seed> runs the same requests again (the
 * cluster's state can differ, as agents work in the background). FLINT_FUZZ_RUNS=<n> runs
 * more (default 5,000).
 */
import test from 'ava';
import fc from 'fast-check';
import { getNamedType } from 'graphql';
import type { Client } from 'graphql-ws';
import { ERROR_CODES } from '../../src/domain/index.js';
import { fuzzCase, KnownId, KnownString, OMIT, type FuzzCase, type Token } from './arbitraries.js';
import { createProjectResources, allIds } from './fixtures.js';
import { startFlint, type Flint, type GraphQLResponse } from './harness.js';
import { introspect, literal, rootFields, selectionFor, type RootField } from './schema-walk.js';
import { rawCase, sendRaw, type RawCase } from './raw-requests.js';
import { noProcessesLeft } from '../helpers/processes.js';

/** Codes a fuzzed request may get: the public list without INTERNAL, and the limits' codes. */
const ACCEPTABLE = new Set<string>([...ERROR_CODES.filter((c) => c !== 'INTERNAL'), 'RATE_LIMITED', 'QUERY_TOO_COMPLEX']);

const DEFAULT_RUNS = 5_000;
const RUNS = Number(process.env.FLINT_FUZZ_RUNS ?? DEFAULT_RUNS);
const SEED = process.env.FLINT_FUZZ_SEED !== undefined ? Number(process.env.FLINT_FUZZ_SEED) : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;

let flint: Flint;
const tokens = new Map<Token, string | null>();
const ids: string[] = [];
const strings: string[] = [];
const ws = new Map<Token, Client>();

test.before(async () => {
  flint = await startFlint('fuzz');
  const admin = await flint.token('admin', 'admin');
  const member = await flint.token('fuzz-a', 'member');
  tokens.set('admin', admin).set('member', member).set('reader', await flint.token('fuzz-a', 'reader'));
  tokens.set('none', null).set('bogus', 'flint_bogus-token-for-fuzzing');
  const a = await createProjectResources(flint, admin, member, 'fuzz-a');
  ids.push(...allIds(a));
  const exported = await flint.request(admin, 'query($id: ID!) { exportBackupRecord(id: $id) }', { id: a.ids.get('Backup')![0] });
  strings.push(...a.names, 'security-fuzz', 'p1', 'nova', 'create_volume', 'volume', 'snapshot', 'iqn.2004-10.com.example:fuzz', '192.0.2.10', 'x86_64', 'linux2');
  if (typeof exported.data?.exportBackupRecord === 'string') strings.push(exported.data.exportBackupRecord);
  for (const [name, token] of tokens) ws.set(name, flint.ws(token));
});

test.after.always(async () => {
  await flint?.stop();
});

/** The value with its placeholders replaced by what exists now; OMIT leaves the key out. */
function resolve(v: unknown): unknown {
  if (v instanceof KnownId) return ids[v.index % ids.length];
  if (v instanceof KnownString) return strings[v.index % strings.length];
  if (Array.isArray(v)) return v.filter((x) => x !== OMIT).map(resolve);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== OMIT) out[k] = resolve(x);
    return out;
  }
  return v;
}

interface Built {
  query: string;
  variables: Record<string, unknown>;
}

function build(c: FuzzCase, schemaSelection: (root: RootField) => string): Built {
  const declared: string[] = [];
  const passed: string[] = [];
  const variables: Record<string, unknown> = {};
  for (const arg of c.root.field.args) {
    const raw = c.args[arg.name];
    if (raw === OMIT) continue;
    const value = resolve(raw);
    let lit: string | undefined;
    try {
      lit = c.inline ? literal(value, arg.type) : undefined;
    } catch (err) {
      // Too long to print as one string: it goes as a variable.
      if (!(err instanceof RangeError)) throw err;
    }
    if (lit !== undefined && lit.length < 2_000_000) {
      passed.push(`${arg.name}: ${lit}`);
    } else {
      declared.push(`$${arg.name}: ${c.misdeclared ? 'String' : String(arg.type)}`);
      passed.push(`${arg.name}: $${arg.name}`);
      variables[arg.name] = value;
    }
  }
  const query = `${c.root.kind} Fuzz${declared.length ? `(${declared.join(', ')})` : ''} { ${c.root.field.name}${passed.length ? `(${passed.join(', ')})` : ''} ${schemaSelection(c.root)} }`;
  return { query, variables };
}

/** What is wrong with an answer, or undefined when it is acceptable. */
function problemOf(status: number, errors: ReadonlyArray<{ message?: string; extensions?: Record<string, unknown> }> | undefined): string | undefined {
  if (status >= 500) return `HTTP status ${status}`;
  for (const e of errors ?? []) {
    const code = e.extensions?.code;
    if (typeof code !== 'string' || !ACCEPTABLE.has(code)) {
      const logged = typeof e.extensions?.correlationId === 'string' ? flint.logged(e.extensions.correlationId).join('\n').slice(0, 3000) : '';
      return `error code ${String(code)}: ${e.message}${logged ? `\nthe gateway logged: ${logged}` : ''}`;
    }
  }
  return undefined;
}

function remember(data: unknown): void {
  // Ids the API gives out become arguments of later requests (up to a bound).
  const text = JSON.stringify(data ?? null);
  for (const m of text.matchAll(/"id":"([0-9a-f-]{36})"/g)) if (ids.length < 400 && !ids.includes(m[1]!)) ids.push(m[1]!);
}

/** graphql-ws requests waiting for their first answer at once, at most. */
const WS_IN_FLIGHT = 16;
const inFlight = new Set<Promise<void>>();
const wsFailures: string[] = [];
const counts = new Map<string, number>();
function count(errors: ReadonlyArray<{ extensions?: Record<string, unknown> }> | undefined): void {
  const codes = errors?.length ? errors.map((e) => String(e.extensions?.code)) : ['ok'];
  for (const code of codes) counts.set(code, (counts.get(code) ?? 0) + 1);
}

async function overWs(token: Token, built: Built): Promise<string | undefined> {
  const client = ws.get(token)!;
  return new Promise((resolveProblem) => {
    let done = false;
    const finish = (problem: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      dispose();
      resolveProblem(problem);
    };
    // Subscriptions that are accepted stay open; a short look is enough to see their first answer.
    const timer = setTimeout(() => finish(undefined), 60);
    const dispose = client.subscribe(
      { query: built.query, variables: built.variables },
      {
        next: (r) => {
          remember(r.data);
          count(r.errors as GraphQLResponse['errors']);
          finish(problemOf(200, r.errors as GraphQLResponse['errors']));
        },
        error: (err) => {
          if (Array.isArray(err)) {
            count(err as GraphQLResponse['errors']);
            return finish(problemOf(200, err as GraphQLResponse['errors']));
          }
          count([{ extensions: { code: `socket ${String((err as { code?: number }).code)}` } }]);
          // A refused connection (no or bad token) closes with 4403/4401, a message over the
          // gateway's size limit with 1009 (as HTTP answers 413); anything else is a failure.
          const code = (err as { code?: number }).code;
          finish(code === 4403 || code === 4401 || code === 1009 ? undefined : `socket closed: ${String(code)} ${String((err as { reason?: string }).reason ?? err)}`);
        },
        complete: () => {
          count(undefined);
          finish(undefined);
        },
      },
    );
  });
}

test('schema-generated requests get no INTERNAL error and the gateway stays up', async (t) => {
  const schema = await introspect(flint, tokens.get('admin')!);
  const roots = rootFields(schema);
  const selections = new Map(roots.map((r) => [r, selectionFor(schema, getNamedType(r.field.type), 2)]));
  let sent = 0;
  const fields = new Set<string>();
  t.log(`fuzzing ${roots.length} root fields with seed ${SEED} (replay: FLINT_FUZZ_SEED=${SEED}), ${RUNS} runs`);
  t.true(roots.length > 0, 'introspection found no root fields');

  const property = fc.asyncProperty(fc.oneof({ weight: 24, arbitrary: fuzzCase(roots) }, { weight: 1, arbitrary: rawCase }), async (c: FuzzCase | RawCase) => {
    sent++;
    if ('body' in c) {
      const res = await sendRaw(flint, tokens.get('admin')!, c);
      count(res.errors);
      const problem = problemOf(res.status, res.errors);
      if (problem) throw new Error(`${problem}\nraw request: ${describe(c)}`);
      return;
    }
    fields.add(`${c.root.kind}.${c.root.field.name}`);
    const built = build(c, (r) => selections.get(r)!);
    let problem: string | undefined;
    if (c.overWs) {
      // An accepted subscription says nothing for a while: its answer is checked later, and
      // the next requests go out meanwhile (at most WS_IN_FLIGHT at once).
      const failure = `as ${c.token} over graphql-ws: ${describe(built)}`;
      const settled = overWs(c.token, built).then((p) => {
        if (p) wsFailures.push(`${p}\n${failure}`);
      });
      inFlight.add(settled);
      void settled.finally(() => inFlight.delete(settled));
      if (inFlight.size >= WS_IN_FLIGHT) await Promise.race(inFlight);
      if (wsFailures.length) throw new Error(wsFailures[0]);
    } else {
      const res = await flint.request(tokens.get(c.token)!, built.query, built.variables);
      remember(res.data);
      count(res.errors);
      problem = problemOf(res.status, res.errors);
    }
    if (problem) throw new Error(`${problem}\nas ${c.token}: ${describe(built)}`);
  });
  const details = await fc.check(property, { seed: SEED, numRuns: RUNS, endOnFailure: true });
  await Promise.all(inFlight);
  t.deepEqual(wsFailures, [], `graphql-ws answers that are not acceptable (replay: FLINT_FUZZ_SEED=${SEED})`);
  if (details.failed) {
    // fast-check's own report prints the whole counterexample, which can be megabytes.
    const e = details.errorInstance;
    // Our own failures carry the request in their message; anything else is a bug of the test: its stack says where.
    const error = e instanceof Error ? (e.message.includes('\n') ? e.message : String(e.stack)) : String(e);
    t.fail(`run ${details.numRuns} failed (replay: FLINT_FUZZ_SEED=${SEED}): ${error.slice(0, 4000)}`);
  }

  t.log(`sent ${sent} requests covering ${fields.size} of ${roots.length} root fields; answers by code: ${JSON.stringify(Object.fromEntries([...counts].sort()))}`);
  t.true(sent >= RUNS, `only ${sent} requests were sent`);
  t.true(fields.size > 0, 'no root field was called');
  t.true(await flint.healthy(), 'the gateway stopped answering /healthz');
});

/** A value for a failure message: strings, lists, objects and depth cut, so the message stays readable. */
function describe(v: unknown, depth = 0): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 300 ? `${v.slice(0, 100)}…(${v.length} chars)` : v);
  if (v === null || typeof v !== 'object') return String(v);
  if (depth > 6) return Array.isArray(v) ? '[…]' : '{…}';
  if (Array.isArray(v)) return `[${v.slice(0, 5).map((x) => describe(x, depth + 1)).join(', ')}${v.length > 5 ? `, …(${v.length} items)` : ''}]`;
  const entries = Object.entries(v);
  return `{${entries.slice(0, 10).map(([k, x]) => `${JSON.stringify(k)}: ${describe(x, depth + 1)}`).join(', ')}${entries.length > 10 ? `, …(${entries.length} keys)` : ''}}`;
}

test.after.always('no process is left behind', noProcessesLeft);
