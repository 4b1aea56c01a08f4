/**
 * How a resource as Flint has it differs from what the stack declares, field by field, by
 * each field's lifecycle in its model (x-flint-lifecycle): createOnly → a replacement with
 * its reason, mutable → its mutation, growOnly → its mutation upwards and a plan error
 * downwards, computed → never compared. Pure.
 */
import type { FieldRule } from '../domain/resources/index.js';
import type { FieldChange } from './plan-types.js';

/** Deep equality of plain JSON values (object key order ignored). */
export function same(a: unknown, b: unknown): boolean {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/** A value as a plan prints it. */
export function show(value: unknown): string {
  return value === undefined ? '(unset)' : JSON.stringify(value);
}

/** The outcome of a diff: fields to change in place, reasons to replace, and what no plan can do. */
export interface Diff {
  fields: FieldChange[];
  reasons: string[];
  errors: string[];
}

/** Statuses that mean the resource is broken, with what failed: it is replaced. */
const FAILED: Record<string, string> = { ERROR: 'its create failed', ERROR_ATTACHING: 'its export failed', ERROR_DETACHING: 'its detach failed', ERROR_DELETING: 'its delete failed' };

/**
 * The diff of `actual` against `desired` over `fields`, by `rules`. A desired field left
 * undefined is Flint's choice and not compared. `refuse` names a change no mutation can make
 * (its message is a plan error).
 */
export function diffFields(
  address: string,
  rules: Readonly<Record<string, FieldRule>>,
  fields: readonly string[],
  desired: object,
  actual: { status: string } & object,
  refuse: (field: string, from: unknown, to: unknown) => string | null = () => null,
): Diff {
  const diff: Diff = { fields: [], reasons: [], errors: [] };
  const failed = FAILED[actual.status];
  if (failed) diff.reasons.push(`status is ${actual.status} (${failed})`);
  for (const field of fields) {
    const to = (desired as Record<string, unknown>)[field];
    const from = (actual as Record<string, unknown>)[field];
    if (to === undefined || same(from, to)) continue;
    const rule = rules[field];
    if (!rule) throw new Error(`${address}: field ${field} has no rule in its model`);
    const refused = refuse(field, from, to);
    if (refused) {
      diff.errors.push(`${address}: ${field} ${show(from)} → ${show(to)}: ${refused}`);
      continue;
    }
    switch (rule.lifecycle) {
      case 'createOnly':
        diff.reasons.push(`${field} changed (createOnly): ${show(from)} → ${show(to)}`);
        break;
      case 'growOnly':
        if (typeof from === 'number' && typeof to === 'number' && to < from) {
          diff.errors.push(`${address}: ${field} ${from} → ${to}: it only grows (growOnly); a smaller value is refused, and a plan does not replace a resource for it`);
        } else diff.fields.push({ field, from, to, mutation: rule.mutation! });
        break;
      case 'mutable':
        diff.fields.push({ field, from, to, mutation: rule.mutation! });
        break;
      case 'computed':
        break;
    }
  }
  return diff;
}
