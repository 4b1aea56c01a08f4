/**
 * The shape of one operation, from its document alone: how deep it nests, how many
 * fields and aliases it has once fragments are expanded, and how often it asks for the
 * whole schema. Pure; runs on a validated document (so fragments exist and do not
 * cycle), yet stays finite on any document: fragments are measured once each, and a
 * cycle adds nothing.
 */
import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';

export interface OperationShape {
  /** Nested field levels: `{ volume { id } }` is 2. Introspection (`__schema`, `__type`) is left out: GraphQL's MaxIntrospectionDepthRule bounds it. */
  depth: number;
  /** Aliased fields, every expansion of a fragment counted. */
  aliases: number;
  /** Fields of any kind, every expansion of a fragment counted (a fragment spread twice in one selection set runs once, and counts once). */
  fields: number;
  /** `__schema` fields: the whole schema, however many times it is asked for. */
  schemaFields: number;
}

const ZERO: OperationShape = { depth: 0, aliases: 0, fields: 0, schemaFields: 0 };

const INTROSPECTION = new Set(['__schema', '__type']);

/** The operation named `operationName`, or the only one; undefined when there is none such. */
export function operationOf(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName) return ops.find((o) => o.name?.value === operationName);
  return ops.length === 1 ? ops[0] : undefined;
}

const fragmentMaps = new WeakMap<DocumentNode, ReadonlyMap<string, FragmentDefinitionNode>>();

/** The fragments of a document by name (kept per parsed document: Apollo reuses them). */
export function fragmentsOf(document: DocumentNode): ReadonlyMap<string, FragmentDefinitionNode> {
  let out = fragmentMaps.get(document);
  if (!out) {
    const map = new Map<string, FragmentDefinitionNode>();
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) map.set(d.name.value, d);
    fragmentMaps.set(document, (out = map));
  }
  return out;
}

/** Measures one operation of `document` (see {@link OperationShape}). */
export function measureOperation(document: DocumentNode, operation: OperationDefinitionNode): OperationShape {
  const fragments = fragmentsOf(document);
  const memo = new Map<string, OperationShape>();
  const visiting = new Set<string>();

  const fragment = (name: string): OperationShape => {
    const known = memo.get(name);
    if (known) return known;
    const def = fragments.get(name);
    // Unknown or cyclic fragments are validation errors; they add nothing here.
    if (!def || visiting.has(name)) return ZERO;
    visiting.add(name);
    const shape = selectionSet(def.selectionSet, false);
    visiting.delete(name);
    memo.set(name, shape);
    return shape;
  };

  function selectionSet(set: SelectionSetNode, inIntrospection: boolean): OperationShape {
    let depth = 0;
    let aliases = 0;
    let fields = 0;
    let schemaFields = 0;
    const add = (s: OperationShape, levels: number): void => {
      depth = Math.max(depth, levels);
      aliases += s.aliases;
      fields += s.fields;
      schemaFields += s.schemaFields;
    };
    // GraphQL runs a fragment spread once per selection set, however often it is spread there.
    const spread = new Set<string>();
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        const introspection = inIntrospection || INTROSPECTION.has(sel.name.value);
        const inner = sel.selectionSet ? selectionSet(sel.selectionSet, introspection) : ZERO;
        add(inner, introspection ? 0 : 1 + inner.depth);
        fields += 1;
        if (sel.alias) aliases += 1;
        if (sel.name.value === '__schema') schemaFields += 1;
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const inner = selectionSet(sel.selectionSet, inIntrospection);
        add(inner, inner.depth);
      } else if (!spread.has(sel.name.value)) {
        spread.add(sel.name.value);
        const inner = fragment(sel.name.value);
        // A fragment spread inside introspection adds no depth either.
        add(inner, inIntrospection ? 0 : inner.depth);
      }
    }
    return { depth, aliases, fields, schemaFields };
  }

  return selectionSet(operation.selectionSet, false);
}
