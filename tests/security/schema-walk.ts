/**
 * The API as the security suite sees it: read by introspection from the running gateway
 * (never from a hand list), with the helpers both suites build requests from: the root
 * fields, the id-like argument slots at any depth, and a selection of everything a field
 * returns that can be asked for without arguments.
 */
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import type { Flint } from './harness.js';

export type OperationKind = 'query' | 'mutation' | 'subscription';

export interface RootField {
  kind: OperationKind;
  field: GraphQLField<unknown, unknown>;
}

export async function introspect(flint: Flint, token: string): Promise<GraphQLSchema> {
  const res = await flint.request(token, getIntrospectionQuery());
  if (!res.data) throw new Error(`introspection failed: ${JSON.stringify(res.errors)}`);
  return buildClientSchema(res.data as unknown as IntrospectionQuery);
}

export function rootFields(schema: GraphQLSchema): RootField[] {
  const out: RootField[] = [];
  const roots: Array<[OperationKind, ReturnType<GraphQLSchema['getQueryType']>]> = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ];
  for (const [kind, type] of roots) if (type) for (const field of Object.values(type.getFields())) out.push({ kind, field });
  return out;
}

/** An argument, or an input-object field inside one at any depth: `input.volumeId`. */
export interface Slot {
  /** Names from the argument down: ['input', 'volumeId']. */
  path: string[];
  type: GraphQLInputType;
}

/** Whether a slot holds a reference to a resource: of type ID, or a String named like an id. */
export function isIdSlot(slot: Slot): boolean {
  const named = getNamedType(slot.type);
  const name = slot.path.at(-1)!;
  return named.name === 'ID' || (named.name === 'String' && /(^id|Id|ID)$/.test(name));
}

/** Every argument and input field under `field`, depth first (lists are walked into, recursion stopped). */
export function slotsOf(field: GraphQLField<unknown, unknown>): Slot[] {
  const out: Slot[] = [];
  const walk = (path: string[], type: GraphQLInputType, seen: Set<string>) => {
    out.push({ path, type });
    const named = getNamedType(type);
    if (!isInputObjectType(named) || seen.has(named.name)) return;
    const next = new Set(seen).add(named.name);
    for (const f of Object.values(named.getFields())) walk([...path, f.name], f.type, next);
  };
  for (const arg of field.args) walk([arg.name], arg.type, new Set());
  return out;
}

/** Whether every input object on the way to the slot's leaf is a single object (no list in between). */
export function reachable(field: GraphQLField<unknown, unknown>, path: string[]): boolean {
  let type: GraphQLInputType | undefined = field.args.find((a) => a.name === path[0])?.type;
  for (const name of path.slice(1)) {
    if (!type) return false;
    const inner: GraphQLInputType = isNonNullType(type) ? type.ofType : type;
    if (isListType(inner) || !isInputObjectType(inner)) return false;
    type = inner.getFields()[name]?.type;
  }
  return type !== undefined;
}

/**
 * The selection set of everything `type` returns that needs no argument, `depth` levels of
 * objects down (leaves always); `''` for a leaf type. Interfaces and unions select their
 * every implementation with inline fragments at the top (`node(id)`); nested ones (an
 * operation's `resource`) their common fields only, so a payload's selection stays within
 * the gateway's alias limit, which this suite keeps on.
 */
export function selectionFor(schema: GraphQLSchema, type: GraphQLNamedType, depth: number, top = true): string {
  if (isLeafType(type)) return '';
  // Fields of each implementation are aliased `Type_field`: same-named fields of two
  // implementations may have different types, which GraphQL refuses in one selection.
  const objectFields = (t: GraphQLNamedType, d: number, alias = ''): string[] => {
    if (!isObjectType(t) && !isInterfaceType(t)) return [];
    const parts: string[] = [];
    for (const f of Object.values(t.getFields())) {
      if (f.args.some((a) => isNonNullType(a.type))) continue;
      const inner = getNamedType(f.type);
      const name = alias ? `${alias}_${f.name}: ${f.name}` : f.name;
      if (isLeafType(inner)) parts.push(name);
      else if (d > 0) {
        const sub = selectionFor(schema, inner, d - 1, false);
        if (sub) parts.push(`${name} ${sub}`);
      }
    }
    return parts;
  };
  const parts = ['__typename', ...objectFields(type, depth)];
  if (top && (isInterfaceType(type) || isUnionType(type))) {
    for (const impl of schema.getPossibleTypes(type)) {
      const sub = objectFields(impl, depth, impl.name);
      if (sub.length) parts.push(`... on ${impl.name} { ${sub.join(' ')} }`);
    }
  }
  return `{ ${parts.join(' ')} }`;
}

/** A GraphQL literal of a plain value, or undefined when it has none (an object key that is not a name). */
export function literal(value: unknown, type: GraphQLInputType): string | undefined {
  if (value === null) return 'null';
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) {
    if (!Array.isArray(value)) return literal(value, inner.ofType);
    const items = value.map((v) => literal(v, inner.ofType));
    return items.every((i) => i !== undefined) ? `[${items.join(', ')}]` : undefined;
  }
  if (isEnumType(inner) && typeof value === 'string' && /^[_A-Za-z][_0-9A-Za-z]*$/.test(value)) return value;
  if (isInputObjectType(inner) && value && typeof value === 'object' && !Array.isArray(value)) {
    const fields = inner.getFields();
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      const f = fields[k];
      const lit = f ? literal(v, f.type) : looseLiteral(v);
      if (lit === undefined || !/^[_A-Za-z][_0-9A-Za-z]*$/.test(k)) return undefined;
      parts.push(`${k}: ${lit}`);
    }
    return `{ ${parts.join(', ')} }`;
  }
  if (isScalarType(inner) || isEnumType(inner)) return looseLiteral(value);
  return undefined;
}

/** Deeper values go as variables: the printer recurses (deep literals are sent by raw-requests.ts). */
const MAX_LITERAL_DEPTH = 100;

function looseLiteral(value: unknown, depth = 0): string | undefined {
  if (depth > MAX_LITERAL_DEPTH) return undefined;
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const items = value.map((v) => looseLiteral(v, depth + 1));
    return items.every((i) => i !== undefined) ? `[${items.join(', ')}]` : undefined;
  }
  if (typeof value === 'object') {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      const lit = looseLiteral(v, depth + 1);
      if (lit === undefined || !/^[_A-Za-z][_0-9A-Za-z]*$/.test(k)) return undefined;
      parts.push(`${k}: ${lit}`);
    }
    return `{ ${parts.join(', ')} }`;
  }
  return undefined;
}

/** Sets `value` at `path` inside `args` (objects made on the way). */
export function setAt(args: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(args);
  let cur: Record<string, unknown> = copy;
  for (const name of path.slice(0, -1)) {
    if (!cur[name] || typeof cur[name] !== 'object') cur[name] = {};
    cur = cur[name] as Record<string, unknown>;
  }
  cur[path.at(-1)!] = value;
  return copy;
}

/**
 * One request for `field` with `args` as variables, its arguments declared with their
 * own types, selecting `selection` (or nothing for a leaf).
 */
export function documentFor(root: RootField, args: Record<string, unknown>, selection: string): { query: string; variables: Record<string, unknown> } {
  const present = root.field.args.filter((a) => args[a.name] !== undefined);
  const decls = present.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const call = present.map((a) => `${a.name}: $${a.name}`).join(', ');
  const query = `${root.kind} Probe${decls ? `(${decls})` : ''} { ${root.field.name}${call ? `(${call})` : ''} ${selection} }`;
  return { query, variables: Object.fromEntries(present.map((a) => [a.name, args[a.name]])) };
}
