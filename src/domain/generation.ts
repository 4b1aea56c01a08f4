/**
 * A resource's `generation` (Kubernetes' metadata.generation): it counts the changes to what
 * its user asked for, while `version` counts every change. A declarative tool compares it to
 * the generation it last applied to tell "someone changed my settings" from "the resource
 * moved on by itself" (a status, a host, a migration).
 */

/** The volume fields a user sets: at create, by `updateVolume`, `extendVolume`, `retypeVolume`. */
export const VOLUME_USER_FIELDS = ['name', 'description', 'metadata', 'sizeGiB', 'volumeType', 'multiattach'] as const;

/** The snapshot fields a user sets: at create and by `updateSnapshot`. */
export const SNAPSHOT_USER_FIELDS = ['name', 'description', 'metadata'] as const;

/** Whether `changes` names any of `fields` at all (whatever its value): a status move names none. */
export function namesUserField<T extends object>(fields: readonly (keyof T)[], changes: Partial<T>): boolean {
  return fields.some((f) => changes[f] !== undefined);
}

/**
 * Whether applying `changes` to `before` gives one of `fields` a new value: then the
 * generation moves. Values are compared by content (metadata `{a, b}` is `{b, a}`); a field
 * left out of `changes` (undefined) is unchanged.
 */
export function movesGeneration<T extends object>(fields: readonly (keyof T)[], before: T, changes: Partial<T>): boolean {
  return fields.some((f) => changes[f] !== undefined && !sameValue(before[f], changes[f]));
}

/** Equality by content for the values a user field holds: scalars, null, and objects or arrays of them. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
