/**
 * The plan of a stack: what to create, update in place, replace and delete so Flint holds
 * what the stack file declares, from the volume model's lifecycle of each field
 * (x-flint-lifecycle: createOnly → replace, mutable → its mutation, growOnly → its mutation
 * upwards, a plan error downwards). Pure: the state read from Flint comes in as plain objects.
 */
import { rulesOf, VOLUME_MODEL, type FieldRule } from '../domain/resources/index.js';
import { labelsFor, ownerOf } from './labels.js';
import { STACK_VOLUME_FIELDS, type Stack } from './stack-schema.js';

/** A volume as Flint has it (the fields a plan compares, and what an update needs). */
export interface ActualVolume {
  id: string;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  sizeGiB: number;
  volumeType: string | null;
  availabilityZone: string;
  multiattach: boolean;
  status: string;
  version: number;
}

/** A volume as the stack wants it: the create's input, labels included. Absent fields are Flint's choice. */
export interface DesiredVolume {
  /** Its name in the stack file. */
  resource: string;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  sizeGiB: number;
  volumeType?: string | null;
  availabilityZone?: string;
  multiattach?: boolean;
}

/** One field to change in place, by `mutation`. */
export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
  mutation: string;
}

export type Change =
  | { action: 'create'; resource: string; desired: DesiredVolume }
  | { action: 'update'; resource: string; actual: ActualVolume; desired: DesiredVolume; fields: FieldChange[] }
  | { action: 'replace'; resource: string; actual: ActualVolume; desired: DesiredVolume; reasons: string[] }
  | { action: 'delete'; resource: string; actual: ActualVolume };

export interface Plan {
  stack: string;
  /** In the stack file's order, then the deletes. */
  changes: Change[];
  /** Resources that already are as declared. */
  unchanged: string[];
  /** Volumes of the stack that the file no longer names, kept because --prune was not given. */
  kept: { resource: string; id: string }[];
  /** What makes the plan impossible (a shrink, a volume claimed twice); apply runs nothing when there is any. */
  errors: string[];
}

/** Statuses of a volume that is gone or going: the stack no longer has it. */
const GONE = new Set(['DELETING', 'DELETED']);

const RULES: Record<string, FieldRule> = rulesOf(VOLUME_MODEL);

/** Each volume of `stack` as it should be: defaults filled in, the stack's labels added. */
export function desiredVolumes(stack: Stack): DesiredVolume[] {
  return Object.entries(stack.volumes).map(([resource, spec]) => ({
    ...spec,
    resource,
    name: spec.name ?? `${stack.stack}-${resource}`,
    description: spec.description ?? null,
    metadata: { ...spec.metadata, ...labelsFor(stack.stack, resource) },
    sizeGiB: spec.sizeGiB,
  }));
}

function same(a: unknown, b: unknown): boolean {
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

/** How `actual` differs from `desired`, field by field, by each field's lifecycle. */
export function diffVolume(desired: DesiredVolume, actual: ActualVolume): { fields: FieldChange[]; reasons: string[]; errors: string[] } {
  const fields: FieldChange[] = [];
  const reasons: string[] = [];
  const errors: string[] = [];
  if (actual.status === 'ERROR') reasons.push('status is ERROR (its create failed)');
  for (const field of STACK_VOLUME_FIELDS) {
    const to = (desired as unknown as Record<string, unknown>)[field];
    const from = (actual as unknown as Record<string, unknown>)[field];
    if (to === undefined || same(from, to)) continue;
    const rule = RULES[field]!;
    switch (rule.lifecycle) {
      case 'createOnly':
        reasons.push(`${field} changed (createOnly): ${show(from)} → ${show(to)}`);
        break;
      case 'growOnly':
        if (typeof from === 'number' && typeof to === 'number' && to < from) {
          errors.push(`volume.${desired.resource}: ${field} ${from} → ${to}: it only grows (growOnly); a smaller value is refused, and a plan does not replace a volume for it`);
        } else fields.push({ field, from, to, mutation: rule.mutation! });
        break;
      case 'mutable':
        // retypeVolume takes a type's name: there is no way back to "no type".
        if (to === null && rule.mutation === 'retypeVolume') errors.push(`volume.${desired.resource}: ${field} ${show(from)} → null: a volume cannot be retyped to no type; name one`);
        else fields.push({ field, from, to, mutation: rule.mutation! });
        break;
      case 'computed':
        break;
    }
  }
  return { fields, reasons, errors };
}

/**
 * The plan that makes `actual` (every volume of the project carrying `stack.stack`'s label,
 * or only those) into what `stack` declares. Volumes the file does not name are deleted with
 * `prune`, else listed in `kept`.
 */
export function planStack(stack: Stack, actual: readonly ActualVolume[], opts: { prune?: boolean } = {}): Plan {
  const plan: Plan = { stack: stack.stack, changes: [], unchanged: [], kept: [], errors: [] };
  const byResource = new Map<string, ActualVolume[]>();
  for (const v of actual) {
    const owner = ownerOf(v.metadata);
    if (!owner || owner.stack !== stack.stack || owner.name === null || GONE.has(v.status)) continue;
    byResource.set(owner.name, [...(byResource.get(owner.name) ?? []), v]);
  }
  for (const [resource, vs] of byResource) {
    if (vs.length > 1) plan.errors.push(`volume.${resource}: ${vs.length} volumes carry its labels (${vs.map((v) => v.id).join(', ')}); delete or relabel all but one`);
  }
  for (const desired of desiredVolumes(stack)) {
    const found = byResource.get(desired.resource);
    const resource = desired.resource;
    if (!found) {
      plan.changes.push({ action: 'create', resource, desired });
      continue;
    }
    if (found.length > 1) continue;
    const current = found[0]!;
    const { fields, reasons, errors } = diffVolume(desired, current);
    plan.errors.push(...errors);
    if (reasons.length) plan.changes.push({ action: 'replace', resource, actual: current, desired, reasons });
    else if (fields.length) plan.changes.push({ action: 'update', resource, actual: current, desired, fields });
    else if (!errors.length) plan.unchanged.push(resource);
  }
  for (const [resource, vs] of byResource) {
    if (resource in stack.volumes) continue;
    for (const v of vs) {
      if (opts.prune) plan.changes.push({ action: 'delete', resource, actual: v });
      else plan.kept.push({ resource, id: v.id });
    }
  }
  return plan;
}

/** Whether applying `plan` changes anything. */
export function hasChanges(plan: Plan): boolean {
  return plan.changes.length > 0;
}
