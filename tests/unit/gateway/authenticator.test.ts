/** The authenticator's rules with a lookup in place of the database (pure logic: the cache, expiry, failures). */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { Principal } from '../../../src/db/index.js';
import { FlintError } from '../../../src/domain/errors.js';
import { Authenticator, authRefusal } from '../../../src/gateway/http/auth.js';
import { TokenCache } from '../../../src/gateway/http/token-cache.js';
import { TokenUsage } from '../../../src/gateway/http/token-usage.js';

const GOOD = 'flint_good-token';

function setup(opts: { expiresAt?: Date | null; maxEntries?: number; fail?: () => boolean } = {}) {
  let clock = 1_000_000;
  const lookups: string[] = [];
  const principal: Principal = { tokenId: 't1', projectId: 'p1', projectName: 'team', role: 'member', expiresAt: opts.expiresAt ?? null };
  const usage = new TokenUsage(60_000);
  const auth = new Authenticator(null, {
    cache: new TokenCache(opts.maxEntries ?? 100, 5_000),
    usage,
    now: () => clock,
    lookup: async (token, now) => {
      lookups.push(token);
      if (opts.fail?.()) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      if (token !== GOOD) return null;
      return principal.expiresAt && principal.expiresAt.getTime() <= now.getTime() ? null : principal;
    },
  });
  return { auth, lookups, usage, tick: (ms: number) => (clock += ms), now: () => clock };
}

test('a good token is looked up once and then served from the cache', async (t) => {
  const s = setup();
  t.is((await s.auth.fromHeader(`Bearer ${GOOD}`))?.tokenId, 't1');
  t.is((await s.auth.fromHeader(`Bearer ${GOOD}`))?.tokenId, 't1');
  t.is(s.lookups.length, 1);
});

test('unknown tokens are never cached, so a flood of them cannot evict a good one', async (t) => {
  const s = setup({ maxEntries: 10 });
  await s.auth.fromToken(GOOD);
  for (let i = 0; i < 1000; i++) {
    const err = await t.throwsAsync(s.auth.fromToken(`flint_${randomBytes(24).toString('base64url')}`));
    t.is((err as FlintError).code, 'UNAUTHENTICATED');
  }
  const before = s.lookups.length;
  await s.auth.fromToken(GOOD);
  t.is(s.lookups.length, before, 'the good token still came from the cache');
  // The same unknown token twice costs two lookups: misses are not remembered.
  await t.throwsAsync(s.auth.fromToken('flint_nope'));
  await t.throwsAsync(s.auth.fromToken('flint_nope'));
  t.is(s.lookups.length, before + 2);
});

test('a token past its expiry is refused even while it is cached', async (t) => {
  const s = setup({ expiresAt: new Date(1_000_000 + 2_000) });
  await s.auth.fromToken(GOOD);
  s.tick(1_999);
  t.is((await s.auth.fromToken(GOOD)).tokenId, 't1');
  s.tick(1);
  const err = await t.throwsAsync(s.auth.fromToken(GOOD));
  t.is((err as FlintError).code, 'UNAUTHENTICATED');
});

test('a forgotten (revoked) token is looked up again at once', async (t) => {
  const s = setup();
  await s.auth.fromToken(GOOD);
  s.auth.forget('t1');
  await s.auth.fromToken(GOOD);
  t.is(s.lookups.length, 2);
});

test('an entry is trusted for its TTL only', async (t) => {
  const s = setup();
  await s.auth.fromToken(GOOD);
  s.tick(5_000);
  await s.auth.fromToken(GOOD);
  t.is(s.lookups.length, 2);
});

test('a lookup that fails is SERVICE_UNAVAILABLE, not UNAUTHENTICATED, and says the token was not refused', async (t) => {
  const s = setup({ fail: () => true });
  const err = (await t.throwsAsync(s.auth.fromToken(GOOD))) as FlintError;
  t.is(err.code, 'SERVICE_UNAVAILABLE');
  t.regex(err.message, /not refused/);
  t.notRegex(err.message, /ECONNREFUSED|5432/);
  const r = authRefusal(err);
  t.is(r.status, 503);
  t.is(r.code, 'SERVICE_UNAVAILABLE');
  t.is(r.headers['retry-after'], '5');
});

test('a refused token answers 401 UNAUTHENTICATED, and a malformed header too', async (t) => {
  const s = setup();
  const refused = await t.throwsAsync(s.auth.fromHeader('Bearer flint_unknown'));
  t.like(authRefusal(refused), { status: 401, code: 'UNAUTHENTICATED' });
  const malformed = await t.throwsAsync(s.auth.fromHeader('Basic abc'));
  t.like(authRefusal(malformed), { status: 401, code: 'UNAUTHENTICATED' });
  t.is(await s.auth.fromHeader(undefined), null);
});

test('an unexpected failure is 500 INTERNAL, never a 401 that would make a client drop its token', (t) => {
  t.like(authRefusal(new TypeError('boom')), { status: 500, code: 'INTERNAL' });
});

test('uses are noted for lastUsedAt at most once per interval per token', async (t) => {
  const s = setup();
  await s.auth.fromToken(GOOD);
  await s.auth.fromToken(GOOD);
  t.deepEqual([...s.usage.take().keys()], ['t1']);
  s.tick(30_000);
  await s.auth.fromToken(GOOD);
  t.is(s.usage.take().size, 0);
  s.tick(30_000);
  await s.auth.fromToken(GOOD);
  t.deepEqual([...s.usage.take().entries()], [['t1', s.now()]]);
});
