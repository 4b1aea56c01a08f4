/**
 * Checks of what callers send, collected so one error lists every problem. Pure.
 * Limits follow Cinder's where it has them (255-character names, metadata keys and
 * values) and are named so the README and messages quote the same numbers.
 */
import { BadInputError } from './errors.js';

export const LIMITS = {
  nameMax: 255,
  descriptionMax: 1024,
  sizeMinGiB: 1,
  /** 64 TiB */
  sizeMaxGiB: 65_536,
  metadataMaxKeys: 64,
  metadataKeyMax: 255,
  metadataValueMax: 255,
  idempotencyKeyMax: 255,
  pageMax: 500,
  pageDefault: 50,
} as const;

// Control characters make names unreadable in lists and logs.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const ZONE = /^[A-Za-z0-9_.:-]{1,255}$/;

/** Length in characters (code points), as users and PostgreSQL count them, not UTF-16 units. */
export function chars(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export class Problems {
  private readonly list: string[] = [];
  add(p: string): void {
    this.list.push(p);
  }
  get any(): boolean {
    return this.list.length > 0;
  }
  throwIfAny(): void {
    if (this.list.length) throw new BadInputError(this.list);
  }
}

export function checkName(p: Problems, field: string, name: string | undefined | null, required: boolean): void {
  if (name === undefined || name === null) {
    if (required) p.add(`${field} is required`);
    return;
  }
  if (name.trim().length === 0) p.add(`${field} must not be empty or blank`);
  else if (chars(name) > LIMITS.nameMax) p.add(`${field} must be at most ${LIMITS.nameMax} characters (got ${chars(name)})`);
  if (CONTROL.test(name)) p.add(`${field} must not contain control characters`);
}

export function checkDescription(p: Problems, d: string | undefined | null): void {
  if (d && chars(d) > LIMITS.descriptionMax) p.add(`description must be at most ${LIMITS.descriptionMax} characters (got ${chars(d)})`);
}

export function checkSize(p: Problems, field: string, size: number | undefined | null): void {
  if (size === undefined || size === null) return;
  if (!Number.isInteger(size) || size < LIMITS.sizeMinGiB || size > LIMITS.sizeMaxGiB) {
    p.add(`${field} must be a whole number of GiB from ${LIMITS.sizeMinGiB} to ${LIMITS.sizeMaxGiB} (got ${size})`);
  }
}

/**
 * Metadata is a flat JSON object of strings. `field` names it in the messages: `metadata` for
 * what a resource holds, `filter.metadata` for a list's condition on it (same limits).
 */
export function checkMetadata(p: Problems, m: unknown, field = 'metadata'): Record<string, string> | undefined {
  if (m === undefined || m === null) return undefined;
  if (typeof m !== 'object' || Array.isArray(m)) {
    p.add(`${field} must be a JSON object of string values, e.g. {"purpose": "db"}`);
    return undefined;
  }
  const entries = Object.entries(m as Record<string, unknown>);
  if (entries.length > LIMITS.metadataMaxKeys) p.add(`${field} may have at most ${LIMITS.metadataMaxKeys} keys (got ${entries.length})`);
  for (const [k, v] of entries) {
    if (k.length === 0 || chars(k) > LIMITS.metadataKeyMax) p.add(`${field} key "${k.slice(0, 40)}" must be 1 to ${LIMITS.metadataKeyMax} characters`);
    if (typeof v !== 'string') p.add(`${field} value of "${k.slice(0, 40)}" must be a string (got ${v === null ? 'null' : typeof v})`);
    else if (chars(v) > LIMITS.metadataValueMax) p.add(`${field} value of "${k.slice(0, 40)}" must be at most ${LIMITS.metadataValueMax} characters`);
  }
  return m as Record<string, string>;
}

export function checkZone(p: Problems, zone: string | undefined | null): void {
  if (zone !== undefined && zone !== null && !ZONE.test(zone)) {
    p.add('availabilityZone must be 1 to 255 letters, digits, ".", ":", "-" or "_"');
  }
}

export function checkIdempotencyKey(p: Problems, key: string | undefined | null): void {
  if (key !== undefined && key !== null && (key.length === 0 || chars(key) > LIMITS.idempotencyKeyMax)) {
    p.add(`idempotencyKey must be 1 to ${LIMITS.idempotencyKeyMax} characters`);
  }
}

/** A page size (`first`, or `last` named by `arg`): the default page when not given. */
export function checkPageSize(p: Problems, size: number | undefined | null, arg: 'first' | 'last' = 'first'): number {
  if (size === undefined || size === null) return LIMITS.pageDefault;
  if (!Number.isInteger(size) || size < 0 || size > LIMITS.pageMax) {
    p.add(`${arg} must be from 0 to ${LIMITS.pageMax} (got ${size})`);
    return LIMITS.pageDefault;
  }
  return size;
}
