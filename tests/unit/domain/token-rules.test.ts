import test from 'ava';
import { checkExpiry, parseLifetime, Problems, tokenStatus } from '../../../src/domain/index.js';

const problemsOf = (fill: (p: Problems) => void): string[] => {
  const p = new Problems();
  fill(p);
  try {
    p.throwIfAny();
    return [];
  } catch (err) {
    return [...(err as { problems: string[] }).problems];
  }
};

test('lifetimes are minutes, hours or days', (t) => {
  t.is(parseLifetime('90m'), 90 * 60_000);
  t.is(parseLifetime('12h'), 12 * 3_600_000);
  t.is(parseLifetime('30d'), 30 * 86_400_000);
  t.is(parseLifetime(' 1m '), 60_000);
});

test('a lifetime without a unit, with another unit, negative, fractional or empty is refused with the expected form', (t) => {
  for (const bad of ['30', '30s', '2w', '-5d', '1.5h', '', 'd', '10 d', '30D']) {
    const r = parseLifetime(bad);
    t.is(typeof r, 'string', bad);
    t.regex(r as string, /90m, 12h, 30d/, bad);
  }
});

test('a lifetime of zero or over ten years is refused', (t) => {
  t.regex(parseLifetime('0m') as string, /at least 1m/);
  t.regex(parseLifetime('3651d') as string, /at most 3650d/);
  t.is(parseLifetime('3650d'), 3650 * 86_400_000);
});

test('an expiry must be in the future and within ten years', (t) => {
  const now = new Date('2026-01-01T00:00:00Z');
  t.deepEqual(problemsOf((p) => checkExpiry(p, 'expiresAt', new Date('2026-01-02T00:00:00Z'), now)), []);
  t.deepEqual(problemsOf((p) => checkExpiry(p, 'expiresAt', null, now)), []);
  t.regex(problemsOf((p) => checkExpiry(p, 'expiresAt', now, now))[0]!, /must be in the future/);
  t.regex(problemsOf((p) => checkExpiry(p, 'expiresAt', new Date('2040-01-01T00:00:00Z'), now))[0]!, /ten years/);
  t.regex(problemsOf((p) => checkExpiry(p, 'expiresAt', new Date('nope'), now))[0]!, /not a valid time/);
});

test('a token is active, expired at its expiry, and revoked whatever its expiry', (t) => {
  const now = new Date('2026-01-01T00:00:00Z');
  t.is(tokenStatus({ revokedAt: null, expiresAt: null }, now), 'active');
  t.is(tokenStatus({ revokedAt: null, expiresAt: new Date('2026-01-01T00:00:01Z') }, now), 'active');
  t.is(tokenStatus({ revokedAt: null, expiresAt: now }, now), 'expired');
  t.is(tokenStatus({ revokedAt: now, expiresAt: new Date('2025-01-01T00:00:00Z') }, now), 'revoked');
});
