/**
 * The admin API of tokens (createApiToken, apiTokens, revokeApiToken) against a real
 * gateway, on SQLite and on PostgreSQL: who may use it, what it shows and never shows,
 * and that what it does holds at once.
 */
import test, { type ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiToken, hashToken } from '../../src/db/index.js';
import { BACKENDS, type Backend } from '../helpers/databases.js';
import { codeOf, post, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { noProcessesLeft } from '../helpers/processes.js';

const gateways = new Map<Backend, { gw: TestGateway; admin: string; member: string; reader: string }>();

test.before(async () => {
  for (const backend of BACKENDS) {
    const gw = await startTestGateway({ backend });
    gateways.set(backend, {
      gw,
      admin: (await gw.token('ops', 'admin')).token,
      member: (await gw.token('team-a', 'member')).token,
      reader: (await gw.token('team-a', 'reader')).token,
    });
  }
});

test.after.always(async () => {
  for (const { gw } of gateways.values()) await gw.stop();
});

const CREATE = `mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) {
  token apiToken { id projectId project role name status createdAt expiresAt lastUsedAt revokedAt } } }`;
const LIST = `query($first: Int, $after: String, $filter: ApiTokenFilter) { apiTokens(first: $first, after: $after, filter: $filter) {
  totalCount edges { cursor node { id projectId project role name status createdAt expiresAt lastUsedAt revokedAt } } pageInfo { hasNextPage endCursor } } }`;
const REVOKE = 'mutation($input: RevokeApiTokenInput!) { revokeApiToken(input: $input) { apiToken { id status revokedAt } } }';
const VIEWER = '{ viewer { projectName role } }';

interface TokenNode {
  id: string;
  projectId: string;
  project: string;
  role: string;
  name: string | null;
  status: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function ctx(backend: Backend) {
  const c = gateways.get(backend);
  if (!c) throw new Error(`no ${backend} gateway`);
  return c;
}

async function create(backend: Backend, input: Record<string, unknown>): Promise<{ token: string; apiToken: TokenNode }> {
  const c = ctx(backend);
  const r = await post(c.gw.url, c.admin, CREATE, { input });
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  return (r.body.data as { createApiToken: { token: string; apiToken: TokenNode } }).createApiToken;
}

async function list(backend: Backend, vars: Record<string, unknown> = {}): Promise<{ totalCount: number; edges: Array<{ cursor: string; node: TokenNode }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } }> {
  const c = ctx(backend);
  const r = await post(c.gw.url, c.admin, LIST, vars);
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  return (r.body.data as { apiTokens: never }).apiTokens;
}

const each = (title: string, fn: (t: ExecutionContext, backend: Backend) => Promise<void>) => {
  for (const backend of BACKENDS) test(`${title} (${backend})`, (t) => fn(t, backend));
};

each('an admin creates a token with an expiry; its secret is returned once and works', async (t, backend) => {
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  const r = await create(backend, { project: 'team-new', role: 'READER', name: 'ci', expiresAt });
  t.regex(r.token, /^flint_[A-Za-z0-9_-]{32}$/);
  t.like(r.apiToken, { project: 'team-new', role: 'READER', name: 'ci', status: 'ACTIVE', expiresAt, lastUsedAt: null, revokedAt: null });
  const me = await post(ctx(backend).gw.url, r.token, VIEWER);
  t.deepEqual(me.body.data, { viewer: { projectName: 'team-new', role: 'READER' } });
});

each('the token list never holds a secret or a hash', async (t, backend) => {
  const r = await create(backend, { project: 'team-secret', role: 'MEMBER' });
  const c = ctx(backend);
  const raw = await post(c.gw.url, c.admin, LIST, { first: 500, filter: { project: 'team-secret' } });
  const text = JSON.stringify(raw.body);
  t.true(text.includes(r.apiToken.id));
  t.false(text.includes(r.token), 'no secret');
  t.false(text.includes(hashToken(r.token)), 'no hash');
  t.false(/tokenHash|token_hash/.test(text));
});

each('the list filters by project name and id, leaves revoked tokens out unless asked, and pages newest first', async (t, backend) => {
  const a = await create(backend, { project: 'team-list', role: 'MEMBER', name: 'one' });
  const b = await create(backend, { project: 'team-list', role: 'MEMBER', name: 'two' });
  const other = await create(backend, { project: 'team-other', role: 'MEMBER' });
  const byName = await list(backend, { filter: { project: 'team-list' } });
  t.deepEqual(byName.edges.map((e) => e.node.id), [b.apiToken.id, a.apiToken.id]);
  const byId = await list(backend, { filter: { projectId: other.apiToken.projectId } });
  t.deepEqual(byId.edges.map((e) => e.node.id), [other.apiToken.id]);
  t.is((await list(backend, { filter: { projectId: other.apiToken.projectId, project: 'team-list' } })).totalCount, 0);
  t.is((await list(backend, { filter: { project: 'no-such-project' } })).totalCount, 0);

  const page1 = await list(backend, { first: 1, filter: { project: 'team-list' } });
  t.is(page1.totalCount, 2);
  t.true(page1.pageInfo.hasNextPage);
  const page2 = await list(backend, { first: 1, after: page1.pageInfo.endCursor, filter: { project: 'team-list' } });
  t.deepEqual(page2.edges.map((e) => e.node.id), [a.apiToken.id]);
  t.false(page2.pageInfo.hasNextPage);

  const c = ctx(backend);
  await post(c.gw.url, c.admin, REVOKE, { input: { id: a.apiToken.id } });
  t.deepEqual((await list(backend, { filter: { project: 'team-list' } })).edges.map((e) => e.node.id), [b.apiToken.id]);
  const all = await list(backend, { filter: { project: 'team-list', includeRevoked: true } });
  t.deepEqual(all.edges.map((e) => [e.node.id, e.node.status]), [[b.apiToken.id, 'ACTIVE'], [a.apiToken.id, 'REVOKED']]);
});

each('members and readers get FORBIDDEN for every token operation, and anonymous callers UNAUTHENTICATED', async (t, backend) => {
  const c = ctx(backend);
  const victim = await create(backend, { project: 'team-a', role: 'MEMBER' });
  for (const token of [c.member, c.reader]) {
    t.is(codeOf(await post(c.gw.url, token, CREATE, { input: { project: 'team-a', role: 'ADMIN' } })), 'FORBIDDEN');
    t.is(codeOf(await post(c.gw.url, token, LIST, {})), 'FORBIDDEN');
    t.is(codeOf(await post(c.gw.url, token, REVOKE, { input: { id: victim.apiToken.id } })), 'FORBIDDEN');
  }
  t.is(codeOf(await post(c.gw.url, undefined, LIST, {})), 'UNAUTHENTICATED');
  t.is((await post(c.gw.url, victim.token, VIEWER)).status, 200, 'the victim token still works');
});

each('revoking is idempotent and keeps the first revocation time; an unknown id is NOT_FOUND', async (t, backend) => {
  const c = ctx(backend);
  const r = await create(backend, { project: 'team-rev', role: 'MEMBER' });
  const first = await post(c.gw.url, c.admin, REVOKE, { input: { id: r.apiToken.id } });
  const a = (first.body.data as { revokeApiToken: { apiToken: TokenNode } }).revokeApiToken.apiToken;
  t.is(a.status, 'REVOKED');
  await sleep(5);
  const second = await post(c.gw.url, c.admin, REVOKE, { input: { id: r.apiToken.id } });
  t.deepEqual((second.body.data as { revokeApiToken: { apiToken: TokenNode } }).revokeApiToken.apiToken, a);
  t.is(codeOf(await post(c.gw.url, c.admin, REVOKE, { input: { id: '00000000-0000-4000-8000-000000000000' } })), 'NOT_FOUND');
});

each('a revoked token is refused at once, even though the gateway had just cached it', async (t, backend) => {
  const c = ctx(backend);
  const r = await create(backend, { project: 'team-cache', role: 'MEMBER' });
  t.is((await post(c.gw.url, r.token, VIEWER)).status, 200);
  await post(c.gw.url, c.admin, REVOKE, { input: { id: r.apiToken.id } });
  const after = await post(c.gw.url, r.token, VIEWER);
  t.is(after.status, 401);
  t.is(codeOf(after), 'UNAUTHENTICATED');
});

each('an expiry that is not in the future, a bad project name or a bad role is BAD_USER_INPUT and makes nothing', async (t, backend) => {
  const c = ctx(backend);
  const past = await post(c.gw.url, c.admin, CREATE, { input: { project: 'team-bad', role: 'MEMBER', expiresAt: new Date(Date.now() - 1000).toISOString() } });
  t.is(codeOf(past), 'BAD_USER_INPUT');
  t.regex(past.body.errors![0]!.message, /expiresAt: must be in the future/);
  t.is(codeOf(await post(c.gw.url, c.admin, CREATE, { input: { project: 'bad name!', role: 'MEMBER' } })), 'BAD_USER_INPUT');
  t.is(codeOf(await post(c.gw.url, c.admin, CREATE, { input: { project: 'team-bad', role: 'OWNER' } })), 'BAD_USER_INPUT');
  t.is(codeOf(await post(c.gw.url, c.admin, CREATE, { input: { project: 'team-bad', role: 'MEMBER', expiresAt: 'tomorrow' } })), 'BAD_USER_INPUT');
  t.is((await list(backend, { filter: { project: 'team-bad', includeRevoked: true } })).totalCount, 0);
});

each('a token past its expiresAt is refused over HTTP although it was cached', async (t, backend) => {
  const c = ctx(backend);
  // Long enough for the first request to be served before the expiry on a loaded machine.
  const r = await create(backend, { project: 'team-exp', role: 'MEMBER', expiresAt: new Date(Date.now() + 4000).toISOString() });
  t.is((await post(c.gw.url, r.token, VIEWER)).status, 200);
  await sleep(Math.max(0, Date.parse(r.apiToken.expiresAt!) - Date.now()) + 50);
  const after = await post(c.gw.url, r.token, VIEWER);
  t.is(after.status, 401);
  const listed = (await list(backend, { filter: { project: 'team-exp' } })).edges[0]!.node;
  t.is(listed.status, 'EXPIRED');
});

each('lastUsedAt is recorded after a use and not rewritten by every request', async (t, backend) => {
  const c = ctx(backend);
  const r = await create(backend, { project: 'team-used', role: 'MEMBER' });
  const lastUsed = async () => (await c.gw.db.fork().findOneOrFail(ApiToken, { id: r.apiToken.id }, { disableIdentityMap: true })).lastUsedAt;
  const before = Date.now();
  await post(c.gw.url, r.token, VIEWER);
  let first: Date | null = null;
  for (let i = 0; i < 100 && !first; i++) {
    first = await lastUsed();
    if (!first) await sleep(100);
  }
  t.truthy(first, 'written within the flush period');
  t.true(first!.getTime() >= before - 1000);
  for (let i = 0; i < 20; i++) await post(c.gw.url, r.token, VIEWER);
  // Past another flush period: a second write would show now.
  await sleep(6_000);
  t.is((await lastUsed())!.getTime(), first!.getTime());
  const listed = (await list(backend, { filter: { project: 'team-used' } })).edges[0]!.node;
  t.is(listed.lastUsedAt, first!.toISOString());
});

test.after.always('no process is left behind', noProcessesLeft);
