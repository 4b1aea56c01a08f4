/**
 * Cross-project probes derived from the schema: for every root field, the argument slots
 * (at any depth of input objects) that reference a resource, the arguments that fill the
 * rest of a call, and how two answers are compared once the probed value is masked.
 * Pure: no I/O, so the generator itself can be read and trusted.
 */
import { randomUUID } from 'node:crypto';
import { getNamedType, isEnumType, isInputObjectType, isListType, isNonNullType, isScalarType, type GraphQLInputType } from 'graphql';
import { isIdSlot, reachable, setAt, slotsOf, type RootField, type Slot } from './schema-walk.js';

export type SlotRole = 'id' | 'name';

export interface ProbeSlot extends Slot {
  role: SlotRole;
}

/**
 * The slots of `root` worth probing with another project's values: every ID, and for
 * queries and subscriptions every String named like an id or a name (filters, lookups by
 * name); for mutations also `volumeType` (a type referenced by name). A mutation's other
 * strings name what the caller creates, so another project's values are fine there.
 */
export function probeSlots(root: RootField): ProbeSlot[] {
  const out: ProbeSlot[] = [];
  for (const slot of slotsOf(root.field)) {
    if (!reachable(root.field, slot.path)) continue;
    const named = getNamedType(slot.type).name;
    const last = slot.path.at(-1)!;
    if (named === 'ID' || (root.kind !== 'mutation' && isIdSlot(slot))) out.push({ ...slot, role: 'id' });
    else if (named === 'String' && (last === 'volumeType' || (root.kind !== 'mutation' && last === 'name'))) out.push({ ...slot, role: 'name' });
  }
  return out;
}

/** The kind (GraphQL type name) an id slot most likely refers to: `volumeTypeId` → VolumeType; `id` of `deleteSnapshot` → Snapshot. */
export function kindOfSlot(fieldName: string, path: string[], kinds: readonly string[]): string | undefined {
  const name = path.at(-1)!.toLowerCase();
  const byLength = [...kinds].sort((a, b) => b.length - a.length);
  if (name === 'id') return byLength.find((k) => fieldName.toLowerCase().includes(k.toLowerCase()));
  if (name === 'projectid') return 'Project';
  return byLength.find((k) => name.endsWith(`${k.toLowerCase()}id`));
}

/** A string of the same shape as `s`: letters and digits replaced at random, the rest kept. */
export function sameShape(s: string): string {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s)) return randomUUID();
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return s.replace(/[a-z]/g, () => letters[Math.floor(Math.random() * 26)]!).replace(/[0-9]/g, () => String(Math.floor(Math.random() * 10)));
}

/** What fills a required value no probe is about: a resource of the caller's own when one fits. */
export type OwnId = (kind: string | undefined) => string;

/**
 * How much of a call the filler writes: `required` values only, also every optional
 * number and boolean (a blank volume needs its size, say), or also every optional string
 * (an update needs something to change), so that the call gets past validation to the
 * lookup the probe is about.
 */
export type FillLevel = 'required' | 'scalars' | 'strings';

export const FILL_LEVELS: readonly FillLevel[] = ['required', 'scalars', 'strings'];

function fill(type: GraphQLInputType, fieldName: string, path: string[], own: OwnId, kinds: readonly string[], level: FillLevel): unknown {
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) return [fill(inner.ofType, fieldName, path, own, kinds, level)];
  if (isInputObjectType(inner)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(inner.getFields())) {
      const named = getNamedType(f.type).name;
      const optionalScalar =
        !isListType(f.type) && ((level !== 'required' && (named === 'Int' || named === 'Boolean')) || (level === 'strings' && named === 'String'));
      if (isNonNullType(f.type) || optionalScalar) out[f.name] = fill(f.type, fieldName, [...path, f.name], own, kinds, level);
    }
    return out;
  }
  if (isEnumType(inner)) return inner.getValues()[0]!.name;
  if (isScalarType(inner)) {
    switch (inner.name) {
      case 'ID':
        return own(kindOfSlot(fieldName, path, kinds));
      case 'String':
        return 'probe';
      case 'Int':
        return 1;
      case 'Float':
        return 1;
      case 'Boolean':
        return false;
      default:
        return {};
    }
  }
  return null;
}

/** Arguments for `root` filled to `level` (ids from `own`); optional arguments themselves left out. */
export function baseArgs(root: RootField, own: OwnId, kinds: readonly string[], level: FillLevel = 'required'): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const a of root.field.args) if (isNonNullType(a.type)) args[a.name] = fill(a.type, root.field.name, [a.name], own, kinds, level);
  return args;
}

/** `args` with `value` in the slot (in a list when the slot is one). */
export function withSlot(args: Record<string, unknown>, slot: Slot, value: string): Record<string, unknown> {
  const inner = isNonNullType(slot.type) ? slot.type.ofType : slot.type;
  return setAt(args, slot.path, isListType(inner) ? [value] : value);
}

/** The answer with `probe` masked, as text: what two probes are compared by. */
export function masked(answer: unknown, probe: string): string {
  return JSON.stringify(answer).split(JSON.stringify(probe).slice(1, -1)).join('<PROBE>');
}

/** Which of `secrets` appear in `text` (the caller's probe masked first). */
export function leaked(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => text.includes(s));
}
