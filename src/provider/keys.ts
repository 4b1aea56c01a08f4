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
