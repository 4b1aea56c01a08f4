import test from 'ava';
import type { Principal } from '../../../src/db/index.js';
import { TokenCache } from '../../../src/gateway/http/token-cache.js';

const principal = (tokenId: string, expiresAt: Date | null = null): Principal => ({ tokenId, projectId: 'p', projectName: 'p', role: 'member', expiresAt });

test('a cached token is found until its TTL ends', (t) => {
  const c = new TokenCache(10, 1000);
  c.set('k', principal('a'), 0);
  t.is(c.get('k', 999)?.tokenId, 'a');
  t.is(c.get('k', 1000), undefined);
  t.is(c.size, 0);
});

test('the least recently used entry goes first when the cache is full', (t) => {
  const c = new TokenCache(2, 60_000);
  c.set('a', principal('a'), 0);
  c.set('b', principal('b'), 0);
  t.truthy(c.get('a', 1)); // a is now the most recently used
  c.set('c', principal('c'), 2);
  t.truthy(c.get('a', 3));
  t.is(c.get('b', 3), undefined);
  t.truthy(c.get('c', 3));
  t.is(c.size, 2);
});

test('an entry never outlives its token\'s expiry, and an expired token is not cached at all', (t) => {
  const c = new TokenCache(10, 60_000);
  c.set('k', principal('a', new Date(500)), 0);
  t.truthy(c.get('k', 499));
  t.is(c.get('k', 500), undefined);
  c.set('old', principal('b', new Date(100)), 200);
  t.is(c.size, 0);
});

test('dropping a token forgets every entry of it and only those', (t) => {
  const c = new TokenCache(10, 60_000);
  c.set('k1', principal('a'), 0);
  c.set('k2', principal('a'), 0);
  c.set('k3', principal('b'), 0);
  t.is(c.dropToken('a'), 2);
  t.is(c.get('k1', 1), undefined);
  t.is(c.get('k2', 1), undefined);
  t.is(c.get('k3', 1)?.tokenId, 'b');
  t.is(c.dropToken('a'), 0);
});

test('an entry evicted for room is also forgotten by its token id', (t) => {
  const c = new TokenCache(1, 60_000);
  c.set('k1', principal('a'), 0);
  c.set('k2', principal('b'), 0);
  t.is(c.dropToken('a'), 0);
  t.is(c.dropToken('b'), 1);
  t.is(c.size, 0);
});
