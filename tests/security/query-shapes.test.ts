/**
 * Abusive operation shapes against a real gateway with the default limits: each is
 * refused before it runs with QUERY_TOO_COMPLEX and the limit it broke, while ordinary
 * requests (another project's, GraphiQL's introspection) are answered.
 */
import test from 'ava';
import { getIntrospectionQuery } from 'graphql';
import { codeOf, post, seed, startFlint, type Answer, type Flint } from './limits-harness.js';
import { noProcessesLeft } from '../helpers/processes.js';

let flint: Flint;
let url = '';
let teamA = '';
let teamB = '';
let volumeA = '';
let volumeB = '';

test.before(async () => {
  flint = await startFlint();
  url = (await flint.gateway()).url;
  const a = await flint.token('team-a');
  const b = await flint.token('team-b');
  teamA = a.token;
  teamB = b.token;
  // The case: one volume with 4 snapshots.
  volumeA = (await seed(flint.db, a.projectId, 1, 4)).volumeIds[0]!;
  volumeB = (await seed(flint.db, b.projectId, 1, 1)).volumeIds[0]!;
});

test.after.always(async () => {
  await flint?.stop();
});

const limitOf = (a: Answer): unknown => a.body.errors?.[0]?.extensions?.limit;

/** `volume { snapshots { volume { snapshots … } } }`, `cycles` times round. */
function cyclic(cycles: number): string {
  let inner = 'id';
  for (let i = 0; i < cycles; i++) inner = `snapshots { id volume { ${inner} } }`;
  return `{ volume(id: "${volumeA}") { ${inner} } }`;
}

/** Volume ↔ snapshot twice round, under a page of 500 volumes: shallow enough, far too costly. */
const CYCLIC_PAGE = '{ volumes(first: 500) { edges { node { snapshots { volume { snapshots { volume { id } } } } } } } }';

test('a query nested deeper than the limit is refused with QUERY_TOO_COMPLEX (depth)', async (t) => {
  const a = await post(url, teamA, cyclic(5));
  t.is(a.status, 400);
  t.is(codeOf(a), 'QUERY_TOO_COMPLEX');
  t.is(limitOf(a), 'depth');
  t.falsy(a.body.data);
  t.regex(a.body.errors![0]!.message, /FLINT_API_MAX_DEPTH/);
});

test('a cyclic query over a page of volumes is refused with QUERY_TOO_COMPLEX (cost)', async (t) => {
  const a = await post(url, teamA, CYCLIC_PAGE);
  t.is(a.status, 400);
  t.is(codeOf(a), 'QUERY_TOO_COMPLEX');
  t.is(limitOf(a), 'cost');
});

test('the depth-7 cyclic query the issue timed at 19.8 s is now answered', async (t) => {
  // 7 levels: volume → snapshots → volume → snapshots → volume → snapshots → volume; batched, a few statements.
  const a = await post(url, teamA, `{ volume(id: "${volumeA}") { snapshots { volume { snapshots { volume { snapshots { volume { id } } } } } } } }`);
  t.falsy(a.body.errors);
  const level1 = (a.body.data!.volume as { snapshots: unknown[] }).snapshots;
  t.is(level1.length, 4);
});

test('the issue\'s 1,000 aliased volumes(first: 500) are refused with QUERY_TOO_COMPLEX before they are parsed in full', async (t) => {
  const fields = Array.from({ length: 1000 }, (_, i) => `v${i}: volumes(first: 500) { totalCount }`).join(' ');
  const a = await post(url, teamA, `{ ${fields} }`);
  t.is(codeOf(a), 'QUERY_TOO_COMPLEX');
  t.is(limitOf(a), 'tokens');
});

test('more aliases than allowed are refused with QUERY_TOO_COMPLEX (aliases)', async (t) => {
  const fields = Array.from({ length: 31 }, (_, i) => `v${i}: volume(id: "${volumeA}") { id }`).join(' ');
  const a = await post(url, teamA, `{ ${fields} }`);
  t.is(codeOf(a), 'QUERY_TOO_COMPLEX');
  t.is(limitOf(a), 'aliases');
  t.regex(a.body.errors![0]!.message, /FLINT_API_MAX_ALIASES/);
});

test('a query wider than the field limit is refused with QUERY_TOO_COMPLEX (fields)', async (t) => {
  // Past 1,000 distinct fields a query also trips depth or aliases; a gateway allowing 35 shows the limit alone.
  const narrow = await flint.gateway({ FLINT_API_MAX_FIELDS: '35' });
  const scalars = 'id name description sizeGiB status volumeType availabilityZone metadata version snapshotId sourceVolumeId migrationStatus multiattach createdAt updatedAt';
  const nested = 'snapshots { id name status sizeGiB volumeId version createdAt updatedAt } messages { id event message level createdAt }';
  t.falsy((await post(narrow.url, teamA, `{ volume(id: "${volumeA}") { ${scalars} ${nested} } }`)).body.errors); // 31 fields
  const a = await post(narrow.url, teamA, `{ volume(id: "${volumeA}") { ${scalars} ${nested} attachments { id status mode instanceId targetKind createdAt updatedAt version } } }`);
  t.is(codeOf(a), 'QUERY_TOO_COMPLEX');
  t.is(limitOf(a), 'fields');
  t.regex(a.body.errors![0]!.message, /FLINT_API_MAX_FIELDS/);
});

test('one field repeated past GraphQL\'s validation budget is refused with QUERY_TOO_COMPLEX, not a bare "Validation aborted"', async (t) => {
  const a = await post(url, teamA, `{ volume(id: "${volumeA}") { ${'id '.repeat(1500)} } }`);
  t.is(codeOf(a), 'QUERY_TOO_COMPLEX');
  t.is(limitOf(a), 'fields');
});

test('a document of more lexical tokens than allowed is refused with QUERY_TOO_COMPLEX (tokens)', async (t) => {
  const a = await post(url, teamA, `{ ${'__typename '.repeat(6000)} }`);
  t.is(codeOf(a), 'QUERY_TOO_COMPLEX');
  t.is(limitOf(a), 'tokens');
  t.regex(a.body.errors![0]!.message, /FLINT_API_MAX_TOKENS/);
});

test('asking for __schema twice in one operation is refused with QUERY_TOO_COMPLEX', async (t) => {
  const a = await post(url, teamA, '{ a: __schema { types { name } } b: __schema { types { name } } }');
  t.is(codeOf(a), 'QUERY_TOO_COMPLEX');
  t.is(limitOf(a), 'introspection');
});

test('an anonymous request over a limit and refused introspection at once is answered, and the gateway lives on', async (t) => {
  // Two refusals from two plugins for one request: the one the client gets is either, and neither may go unhandled.
  const a = await post(url, undefined, '{ a: __schema { queryType { name } } b: __schema { queryType { name } } }');
  t.true(['UNAUTHENTICATED', 'QUERY_TOO_COMPLEX'].includes(codeOf(a) as string), JSON.stringify(a.body));
  t.falsy((await post(url, teamB, `{ volume(id: "${volumeB}") { id } }`)).body.errors);
});

test("GraphiQL's full introspection query is answered with the default limits", async (t) => {
  const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true });
  const a = await post(url, teamA, query);
  t.falsy(a.body.errors);
  t.truthy((a.body.data!.__schema as { types: unknown[] }).types.length);
});

test("another project's request is answered while an abusive one is refused", async (t) => {
  const abusive = Array.from({ length: 20 }, () => post(url, teamA, CYCLIC_PAGE));
  const normal = post(url, teamB, `query { volume(id: "${volumeB}") { id name snapshots { id } } }`);
  const [answers, mine] = await Promise.all([Promise.all(abusive), normal]);
  for (const a of answers) t.is(codeOf(a), 'QUERY_TOO_COMPLEX');
  t.falsy(mine.body.errors);
  t.is((mine.body.data!.volume as { id: string }).id, volumeB);
});

test('a refused operation does not count against the token as if it ran (a normal request follows at once)', async (t) => {
  t.is(codeOf(await post(url, teamA, cyclic(5))), 'QUERY_TOO_COMPLEX');
  const a = await post(url, teamA, `{ volume(id: "${volumeA}") { id } }`);
  t.falsy(a.body.errors);
});

test.after.always('no process is left behind', noProcessesLeft);
