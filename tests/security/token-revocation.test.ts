/**
 * A revoked or expired token stops working on every gateway at once, and the WebSockets
 * it opened are closed: two real gateways on one PostgreSQL and one NATS, real graphql-ws
 * sockets, the real `flint token revoke`.
 */
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import { encode, subjects, TOKEN_REVOKED_KIND } from '../../src/bus/index.js';
import { ApiToken } from '../../src/db/index.js';
import { runFlint } from '../helpers/flint-cli.js';
import { post, rawSocket, startTestGateway, type RawSocket, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

let a: TestGateway;
let b: TestGateway;
let admin: string;
const sockets: RawSocket[] = [];

test.before(async () => {
  a = await startTestGateway({ backend: 'postgresql' });
  b = await startTestGateway({ backend: 'postgresql', alongside: a });
  admin = (await a.token('ops', 'admin')).token;
});

test.after.always(async () => {
  for (const s of sockets) s.close();
  await b?.stop();
  await a?.stop();
});

const REVOKE = 'mutation($input: RevokeApiTokenInput!) { revokeApiToken(input: $input) { apiToken { id status } } }';
const WATCH = 'subscription { volumeEvents { type } }';
const VIEWER = '{ viewer { projectName } }';

/** A socket authenticated with `token` on `gw`, with a live subscription on it. */
async function subscribed(gw: TestGateway, token: string): Promise<RawSocket> {
  const s = await rawSocket(gw.url, token);
  sockets.push(s);
  await s.acked;
  s.subscribe('1', WATCH);
  return s;
}

test('revoking through one gateway closes the token\'s sockets on another within a second, and that gateway refuses it at once', async (t) => {
  const victim = await a.token('team-a', 'member');
  t.is((await post(b.url, victim.token, VIEWER)).status, 200, 'gateway B has it cached');
  const onB = await subscribed(b, victim.token);
  const onA = await subscribed(a, victim.token);
  const bystander = await subscribed(b, (await a.token('team-a', 'member')).token);

  const started = Date.now();
  const r = await post(a.url, admin, REVOKE, { input: { id: victim.id } });
  t.falsy(r.body.errors);
  const [closedB, closedA] = await Promise.all([onB.closed, onA.closed]);
  t.is(closedB.code, 4403);
  t.is(closedB.reason, 'Forbidden: the token was revoked');
  t.true(closedB.at - started < 1000, `closed after ${closedB.at - started} ms`);
  t.is(closedA.code, 4403);
  const refused = await post(b.url, victim.token, VIEWER);
  t.is(refused.status, 401);
  t.is(refused.body.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');

  // Another token's socket is untouched.
  await new Promise((r2) => setTimeout(r2, 300));
  t.false(bystander.messages.some((m) => m.type === 'error'));
  t.is(await Promise.race([bystander.closed.then(() => 'closed'), new Promise((r2) => setTimeout(() => r2('open'), 200))]), 'open');
});

test('a token revoked by hand in the database, with no broadcast, has its sockets closed by the periodic check', async (t) => {
  const victim = await a.token('team-a', 'member');
  const s = await subscribed(b, victim.token);
  const started = Date.now();
  await a.db.fork().nativeUpdate(ApiToken, { id: victim.id }, { revokedAt: new Date() });
  const closed = await s.closed;
  t.is(closed.code, 4403);
  t.true(closed.at - started < 8000, `closed after ${closed.at - started} ms`);
});

test('an expiring token\'s sockets close at its expiry', async (t) => {
  const expiresAt = new Date(Date.now() + 2000);
  const victim = await a.token('team-a', 'member', { expiresAt });
  const s = await subscribed(b, victim.token);
  const closed = await s.closed;
  t.is(closed.code, 4403);
  t.is(closed.reason, 'Forbidden: the token expired');
  t.true(closed.at >= expiresAt.getTime(), 'not before its expiry');
  t.true(closed.at - expiresAt.getTime() < 1000, `${closed.at - expiresAt.getTime()} ms late`);
  t.is((await post(b.url, victim.token, VIEWER)).status, 401);
});

test('an expired token cannot open a WebSocket', async (t) => {
  const victim = await a.token('team-a', 'member', { expiresAt: new Date(Date.now() + 300) });
  await new Promise((r) => setTimeout(r, 400));
  const s = await rawSocket(b.url, victim.token);
  sockets.push(s);
  await t.throwsAsync(s.acked);
  t.is((await s.closed).code, 4403);
});

test('a revocation broadcast for a token the database still accepts closes nothing', async (t) => {
  const victim = await a.token('team-a', 'member');
  const s = await subscribed(b, victim.token);
  const nc = await connect({ servers: a.nats.url });
  t.teardown(() => nc.close());
  nc.publish(subjects.tokenRevoked, encode(TOKEN_REVOKED_KIND, { tokenId: victim.id, revokedAt: new Date().toISOString() }));
  await nc.flush();
  t.is(await Promise.race([s.closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('open'), 1500))]), 'open');
  t.is((await post(b.url, victim.token, VIEWER)).status, 200);
  t.true(b.logs.some((l) => l.includes('ignored a revocation broadcast for a token the database still accepts')));
});

test('flint token revoke with FLINT_NATS_URL closes the token\'s sockets on the gateways within a second and says so', async (t) => {
  const victim = await a.token('team-a', 'member');
  const s = await subscribed(b, victim.token);
  const cwd = await tempDir();
  t.teardown(() => cwd.cleanup());
  const started = Date.now();
  const r = await runFlint({ cwd: cwd.path, url: a.url, token: admin }, ['token', 'revoke', victim.id], {
    FLINT_DATABASE_URL: a.databaseUrl,
    FLINT_NATS_URL: a.nats.url,
    // The in-process test gateways run on an unauthenticated NATS (src/config/nats-auth.ts).
    FLINT_NATS_INSECURE: 'true',
    FLINT_DATA_DIR: cwd.path,
    FLINT_LOG_LEVEL: 'warn',
  });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`Revoked token ${victim.id}`));
  t.regex(r.stdout, /Told the gateways over NATS/);
  const closed = await s.closed;
  t.is(closed.code, 4403);
  t.true(closed.at >= started);
  // Timed from the revocation in the database, not from the CLI's start (Node and the ORM take a while).
  const row = await a.db.fork().findOneOrFail(ApiToken, { id: victim.id }, { disableIdentityMap: true });
  t.true(closed.at - row.revokedAt!.getTime() < 1000, `closed ${closed.at - row.revokedAt!.getTime()} ms after the revocation`);
  t.is((await post(b.url, victim.token, VIEWER)).status, 401);
});

test('flint token revoke while NATS is unreachable still revokes, says the gateways were not told, and exits 0', async (t) => {
  const victim = await a.token('team-a', 'member');
  const cwd = await tempDir();
  t.teardown(() => cwd.cleanup());
  const r = await runFlint({ cwd: cwd.path, url: a.url, token: admin }, ['token', 'revoke', victim.id], {
    FLINT_DATABASE_URL: a.databaseUrl,
    FLINT_NATS_URL: 'nats://127.0.0.1:1',
    FLINT_NATS_INSECURE: 'true',
    FLINT_DATA_DIR: cwd.path,
    FLINT_LOG_LEVEL: 'warn',
  });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /could not reach NATS at nats:\/\/127\.0\.0\.1:1 .*refuse it within a few seconds/);
  t.is((await post(a.url, victim.token, VIEWER)).status, 401);
});

test.after.always('no process is left behind', noProcessesLeft);
