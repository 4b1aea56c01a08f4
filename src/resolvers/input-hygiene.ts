/**
 * Input hygiene at the edge, in one place for every transport: `guardInputs` wraps the
 * resolver (and a subscription's `subscribe`) of every field that takes arguments, and
 * checks the arguments as GraphQL coerced them (inline literals and variables alike)
 * before any Flint code sees them. Queries, mutations and subscriptions over HTTP and
 * graphql-ws all execute this one schema, so none can skip it.
 *
 * Checked, at any depth of input objects and lists: every String (see
 * `src/domain/text-hygiene.ts` for what is refused, and which fields may keep line
 * breaks), every ID (the same, and it must be a UUID as Flint gives out), and every
 * string inside a custom scalar's value (JSON metadata and extra specs: keys and values,
 * at any depth). A problem is BAD_USER_INPUT naming the field's path, e.g.
 * `input.metadata.key "a\u0000"`.
 */
import { defaultFieldResolver, isInputObjectType, isListType, isNonNullType, isObjectType, isScalarType, type GraphQLArgument, type GraphQLInputType, type GraphQLSchema } from 'graphql';
import { BadInputError, findUnsafeChar, isIdShaped, malformedIdMessage, MULTILINE_FIELDS, quoteForMessage, unsafeTextMessage, type TextPolicy } from '../domain/index.js';

/** Problems reported per request at most; past them the caller has enough to fix first. */
export const MAX_INPUT_PROBLEMS = 20;

/** Scalars whose values hold no text. */
const NO_TEXT = new Set(['Int', 'Float', 'Boolean']);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkText(s: string, path: string, policy: TextPolicy, problems: string[]): boolean {
  const bad = findUnsafeChar(s, policy);
  if (bad) problems.push(unsafeTextMessage(path, bad, policy));
  return !bad;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Every string in a JSON-like value (keys too), without recursion: a deep value must not overflow the stack. */
function checkLooseValue(value: unknown, path: string, problems: string[]): void {
  const stack: Array<[unknown, string]> = [[value, path]];
  while (stack.length > 0 && problems.length < MAX_INPUT_PROBLEMS) {
    const [v, p] = stack.pop()!;
    if (typeof v === 'string') checkText(v, p, 'line', problems);
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${p}[${i}]`]);
    else if (isPlainObject(v)) {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, x] = entries[i]!;
        const keyOk = checkText(k, `${p}.key ${quoteForMessage(k)}`, 'line', problems);
        stack.push([x, keyOk && IDENTIFIER.test(k) ? `${p}.${k}` : `${p}[${quoteForMessage(k)}]`]);
      }
    }
  }
}

function checkValue(value: unknown, type: GraphQLInputType, path: string, fieldName: string, problems: string[]): void {
  if (value === null || value === undefined || problems.length >= MAX_INPUT_PROBLEMS) return;
  if (isNonNullType(type)) return checkValue(value, type.ofType, path, fieldName, problems);
  if (isListType(type)) {
    const items = Array.isArray(value) ? value : [value];
    for (let i = 0; i < items.length && problems.length < MAX_INPUT_PROBLEMS; i++) checkValue(items[i], type.ofType, `${path}[${i}]`, fieldName, problems);
    return;
  }
  if (isInputObjectType(type)) {
    if (!isPlainObject(value)) return;
    for (const field of Object.values(type.getFields())) checkValue(value[field.name], field.type, `${path}.${field.name}`, field.name, problems);
    return;
  }
  if (!isScalarType(type) || NO_TEXT.has(type.name)) return;
  if (type.name === 'ID') {
    if (typeof value === 'string' && checkText(value, path, 'line', problems) && !isIdShaped(value)) problems.push(malformedIdMessage(path, value));
    return;
  }
  if (type.name === 'String') {
    if (typeof value === 'string') checkText(value, path, MULTILINE_FIELDS.has(fieldName) ? 'multiline' : 'line', problems);
    return;
  }
  checkLooseValue(value, path, problems);
}

/** What is wrong with a field's coerced arguments, one message per problem (at most {@link MAX_INPUT_PROBLEMS}). */
export function inputProblems(args: Record<string, unknown>, defs: readonly GraphQLArgument[]): string[] {
  const problems: string[] = [];
  for (const def of defs) checkValue(args[def.name], def.type, def.name, def.name, problems);
  return problems;
}

/**
 * Wraps every field with arguments of `schema` (in place) so its arguments are checked
 * before its resolver or `subscribe` runs; returns the same schema.
 */
export function guardInputs(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.args.length === 0) continue;
      const defs = field.args;
      const check = (args: Record<string, unknown>) => {
        const problems = inputProblems(args, defs);
        if (problems.length > 0) throw new BadInputError(problems);
      };
      const subscribe = field.subscribe;
      if (subscribe) {
        // The per-event resolve gets the same arguments; checking them once, at subscribe, is enough.
        field.subscribe = (source, args, context, info) => {
          check(args);
          return subscribe(source, args, context, info);
        };
      } else {
        const resolve = field.resolve ?? defaultFieldResolver;
        field.resolve = (source, args, context, info) => {
          check(args);
          return resolve(source, args, context, info);
        };
      }
    }
  }
  return schema;
}
