/**
 * The vocabulary of the resource model (schema/resources/*.schema.json): how each field of a
 * resource may change, and which statuses an action passes through and ends in. Pure.
 *
 * A field is one zod schema carrying its rule as JSON Schema annotations
 * (`x-flint-lifecycle`, `x-flint-mutation`), so the same object validates a stack file
 * (`flint apply`), tells a plan what needs a replacement, and is emitted as JSON Schema for
 * providers written in other languages.
 */
import { z } from 'zod';

/**
 * - `createOnly`: set when the resource is made; a new value means a new resource (Terraform's ForceNew).
 * - `mutable`: changed in place by its mutation.
 * - `growOnly`: changed in place, only upwards (a smaller value is refused; a plan replaces nothing for it).
 * - `computed`: set by Flint; a client reads it and never sends it.
 */
export const LIFECYCLES = ['createOnly', 'mutable', 'growOnly', 'computed'] as const;
export type Lifecycle = (typeof LIFECYCLES)[number];

export interface FieldRule {
  lifecycle: Lifecycle;
  /** The GraphQL mutation that sets it (for computed fields: null). */
  mutation: string | null;
}

const LIFECYCLE_KEY = 'x-flint-lifecycle';
const MUTATION_KEY = 'x-flint-mutation';

/** A field the user sets: at create (`createOnly`, mutation = the create) or later by `mutation`. */
export function settable<T extends z.ZodType>(schema: T, lifecycle: Exclude<Lifecycle, 'computed'>, mutation: string, description: string): T {
  return schema.meta({ description, [LIFECYCLE_KEY]: lifecycle, [MUTATION_KEY]: mutation });
}

/** A field Flint sets. */
export function computed<T extends z.ZodType>(schema: T, description: string): T {
  return schema.meta({ description, [LIFECYCLE_KEY]: 'computed' });
}

/** The rule of each field of `fields`, as its annotations say. */
export function fieldRules(fields: z.ZodObject): Record<string, FieldRule> {
  const rules: Record<string, FieldRule> = {};
  for (const [name, schema] of Object.entries(fields.shape)) {
    const meta = z.globalRegistry.get(schema as z.ZodType) as Record<string, unknown> | undefined;
    const lifecycle = meta?.[LIFECYCLE_KEY];
    if (!(LIFECYCLES as readonly unknown[]).includes(lifecycle)) throw new Error(`resource field ${name} has no ${LIFECYCLE_KEY}`);
    rules[name] = { lifecycle: lifecycle as Lifecycle, mutation: typeof meta?.[MUTATION_KEY] === 'string' ? (meta[MUTATION_KEY] as string) : null };
  }
  return rules;
}

/** One row of a state machine table (src/domain/*-states.ts): where an action or outcome starts and goes. */
export interface Step {
  readonly from: readonly string[];
  readonly to: string | null;
}

/** What an action does to a resource's status, in the API's spelling (upper case). */
export interface ActionStatuses {
  /** The GraphQL mutation. */
  mutation: string;
  /** Statuses it may start from; empty for a create (the resource does not exist yet). */
  from: string[];
  /** Statuses it is in while the work runs (empty: it keeps its status). */
  passesThrough: string[];
  /** Where it settles: success and failure alike (empty: the status it had). */
  endsIn: string[];
}

/**
 * An action's statuses from the state machine's own tables: it goes to `to`, and from there
 * the outcomes (the recorder's transitions) lead on until a status no outcome leaves, or one
 * an outcome keeps (`to: null`). An outcome to the status it came from changes nothing.
 * `settlesAs` adds statuses a settled one stands for (a volume's AVAILABLE is IN_USE while it
 * has attachments).
 */
export function actionStatuses(
  mutation: string,
  step: Step | { from: readonly string[]; to: string },
  outcomes: Record<string, Step>,
  opts: { create?: boolean; settlesAs?: (status: string, from: readonly string[]) => string[] } = {},
): ActionStatuses {
  const up = (s: string) => s.toUpperCase();
  const through: string[] = [];
  const ends = new Set<string>();
  const seen = new Set<string>();
  const walk = (status: string) => {
    if (seen.has(status)) return;
    seen.add(status);
    const leaving = Object.values(outcomes).filter((o) => o.from.includes(status) && o.to !== status);
    // No outcome leaves it, or one keeps it (to: null, e.g. an attachment exported and waiting for its consumer): it settles here.
    if (leaving.length === 0 || leaving.some((o) => o.to === null)) {
      ends.add(status);
      for (const s of opts.settlesAs?.(status, step.from) ?? []) ends.add(s);
    }
    const next = leaving.filter((o) => o.to !== null);
    if (next.length > 0) through.push(status);
    for (const o of next) walk(o.to!);
  };
  if (step.to !== null) walk(step.to);
  return { mutation, from: opts.create ? [] : step.from.map(up), passesThrough: through.map(up), endsIn: [...ends].map(up) };
}
