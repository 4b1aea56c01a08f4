/**
 * Rules of API tokens, pure: what a project name, a token name, an expiry and a lifetime
 * (`--expires-in 30d`) may be, and a token's status at a given time.
 */
import { chars, type Problems } from './volume-input.js';

export const TOKEN_LIMITS = {
  /** As `flint token create --project` has always required. */
  projectName: /^[A-Za-z0-9_.-]{1,64}$/,
  nameMax: 128,
  /** The longest lifetime a token may be given: 10 years. */
  maxLifetimeMs: 3650 * 86_400_000,
} as const;

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A lifetime such as `90m`, `12h` or `30d` (a whole number, then m, h or d) in ms, from
 * one minute to ten years; a string saying what is wrong otherwise.
 */
export function parseLifetime(text: string): number | string {
  const m = /^(\d{1,7})([mhd])$/.exec(text.trim());
  const hint = 'a whole number followed by m (minutes), h (hours) or d (days), e.g. 90m, 12h, 30d';
  if (!m) return `expected ${hint}, got ${JSON.stringify(text)}`;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms < UNIT_MS.m) return `a lifetime is at least 1m, got ${JSON.stringify(text)}`;
  if (ms > TOKEN_LIMITS.maxLifetimeMs) return `a lifetime is at most 3650d (ten years), got ${JSON.stringify(text)}`;
  return ms;
}

export function checkProjectName(p: Problems, field: string, value: string | null | undefined): void {
  if (typeof value !== 'string' || !TOKEN_LIMITS.projectName.test(value)) p.add(`${field}: 1 to 64 letters, digits, ".", "-" or "_" (got ${JSON.stringify(value ?? null)})`);
}

export function checkTokenName(p: Problems, field: string, value: string | null | undefined): void {
  if (value === null || value === undefined) return;
  // eslint-disable-next-line no-control-regex
  if (chars(value) < 1 || chars(value) > TOKEN_LIMITS.nameMax || /[\u0000-\u001f\u007f]/.test(value)) {
    p.add(`${field}: 1 to ${TOKEN_LIMITS.nameMax} characters without control characters`);
  }
}

/** An expiry must be a valid time after `now` and at most ten years ahead. */
export function checkExpiry(p: Problems, field: string, expiresAt: Date | null | undefined, now: Date): void {
  if (expiresAt === null || expiresAt === undefined) return;
  const t = expiresAt.getTime();
  if (Number.isNaN(t)) p.add(`${field}: not a valid time`);
  else if (t <= now.getTime()) p.add(`${field}: must be in the future (it is ${now.toISOString()} now)`);
  else if (t - now.getTime() > TOKEN_LIMITS.maxLifetimeMs) p.add(`${field}: at most ten years from now`);
}

export type TokenStatus = 'active' | 'expired' | 'revoked';

/** Revoked wins over expired: revocation is the deliberate act. */
export function tokenStatus(t: { revokedAt: Date | null; expiresAt: Date | null }, now: Date): TokenStatus {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && t.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}
