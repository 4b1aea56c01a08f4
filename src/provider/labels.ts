/**
 * How a stack's resources are found in Flint: by two reserved metadata keys, set when
 * `flint apply` creates a volume or `flint import` adopts one. The state of a stack is what
 * carries its label; there is no local state file. Pure.
 */

/** Metadata keys starting with it are Flint's own: a stack file may not set them. */
export const RESERVED_PREFIX = 'flint.';
/** The stack that owns the resource. */
export const STACK_LABEL = 'flint.stack';
/** The resource's name in its stack file (`volumes.<name>`). */
export const NAME_LABEL = 'flint.name';

/** The labels of resource `name` of `stack`. */
export function labelsFor(stack: string, name: string): Record<string, string> {
  return { [STACK_LABEL]: stack, [NAME_LABEL]: name };
}

/** Who owns a resource, by its metadata: null when it carries no stack label. */
export function ownerOf(metadata: Readonly<Record<string, unknown>>): { stack: string; name: string | null } | null {
  const stack = metadata[STACK_LABEL];
  if (typeof stack !== 'string') return null;
  const name = metadata[NAME_LABEL];
  return { stack, name: typeof name === 'string' ? name : null };
}

/** The metadata keys of `metadata` a user may not set (they start with {@link RESERVED_PREFIX}). */
export function reservedKeys(metadata: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(metadata).filter((k) => k.startsWith(RESERVED_PREFIX));
}
