/**
 * The idempotency key of a create by `flint apply`: derived from the stack, the resource's
 * name and a hash of what is created, so an apply that crashed after sending a create, or two
 * applies of the same stack at once, make one volume: the gateway answers a repeated key with
 * the volume it made first. Pure.
 */
import { createHash } from 'node:crypto';

/** The prefix of every key `flint apply` sends. */
export const KEY_PREFIX = 'flint-apply';

/** JSON with object keys sorted, so equal values print equally whatever their order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** sha256 of the create's input (without its key), hex, first 16 characters. */
export function specHash(input: Readonly<Record<string, unknown>>): string {
  const { idempotencyKey: _k, ...rest } = input;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex').slice(0, 16);
}

/**
 * The key of the create of resource `name` of `stack` with `input`:
 * `flint-apply/<stack>/<name>/<hash>`, and `…/<attempt>` from the second attempt on.
 * A key is spent once its volume is deleted (the gateway answers CONFLICT); the next
 * attempt number is then tried, the same sequence for every apply, so concurrent ones still meet.
 */
export function createKey(stack: string, name: string, input: Readonly<Record<string, unknown>>, attempt = 0): string {
  const key = `${KEY_PREFIX}/${stack}/${name}/${specHash(input)}`;
  return attempt === 0 ? key : `${key}/${attempt}`;
}

/**
 * The key of the backup the policy of volume `volume` of `stack` takes for the period starting
 * at `window` (seconds since the epoch): `flint-apply/<stack>/<volume>/backup/<window>`, so
 * applies of one period, concurrent or run again after a crash, take one backup. A key spent
 * on another volume (the stack's volume was replaced in the same period) is CONFLICT: the
 * next attempt `…/<attempt>` is tried.
 */
export function backupKey(stack: string, volume: string, window: number, attempt = 0): string {
  const key = `${KEY_PREFIX}/${stack}/${volume}/backup/${window}`;
  return attempt === 0 ? key : `${key}/${attempt}`;
}

/**
 * Who made a resource, by the key `flint apply` created it with: its stack, its resource name
 * and what follows (`['backup', window]` for a policy's backup). Null for any other key. This
 * is how attachments and backups, which have no metadata, are known as the stack's.
 */
export function ownerOfKey(key: string | null | undefined): { stack: string; name: string; rest: string[] } | null {
  const parts = key?.split('/');
  if (!parts || parts.length < 4 || parts[0] !== KEY_PREFIX || !parts[1] || !parts[2]) return null;
  return { stack: parts[1], name: parts[2], rest: parts.slice(3) };
}
