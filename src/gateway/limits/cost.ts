/**
 * What an operation may cost, estimated before it runs: about how many objects it could
 * fetch. Pure; runs on a validated document with the request's variables.
 *
 * - A field whose type is an object (or interface, union) costs 1 per object; scalars
 *   and enums cost nothing more than their parent.
 * - A field with a `first` argument is a page: the lists directly inside it (a Relay
 *   connection's `edges`) hold `first` items, or `last` (paging backward; the larger of
 *   the two when both are given, which the resolver refuses anyway), or the API's default
 *   page when neither is given; at most its largest page, above which the resolver
 *   refuses the argument.
 * - Any other list holds `defaultListSize` items.
 * - Nested lists multiply: `volumes(first: 50) { edges { node { snapshots { id } } } }`
 *   is 1 + 50 + 50 + 50 × 10 = 601.
 * - Introspection and `__typename` cost nothing here: GraphQL's own MaxIntrospectionDepthRule
 *   and the limit on `__schema` fields bound them.
 */
import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { fragmentsOf } from './document-shape.js';

export interface CostModel {
  /** Items assumed in a list without a `first`. @default 10 */
  defaultListSize: number;
  /** Page size when `first` is not given (the API's default page). */
  pageDefault: number;
  /** Largest page the API serves; a larger `first` is refused by the resolver anyway. */
  pageMax: number;
}

function rootType(schema: GraphQLSchema, op: OperationDefinitionNode): GraphQLCompositeType | null | undefined {
  if (op.operation === 'query') return schema.getQueryType();
  if (op.operation === 'mutation') return schema.getMutationType();
  return schema.getSubscriptionType();
}

/** The page size a field's `first` or `last` argument asks for, from a literal, a variable or its default. */
function pageSize(
  field: FieldNode,
  op: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  model: CostModel,
  usedVariable: () => void,
): number {
  const asked = [argument(field, 'first', op, variables, usedVariable), argument(field, 'last', op, variables, usedVariable)].filter(
    (v): v is number => typeof v === 'number' && Number.isInteger(v),
  );
  if (asked.length === 0) return model.pageDefault;
  return Math.min(Math.max(...asked, 0), model.pageMax);
}

/** The value a field's argument `name` has, from a literal, a variable or its default: an Int literal's number, null, a variable's value, or undefined. */
function argument(
  field: FieldNode,
  name: string,
  op: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  usedVariable: () => void,
): unknown {
  const arg = field.arguments?.find((a) => a.name.value === name);
  let value: unknown;
  const read = (node: ValueNode): unknown => (node.kind === Kind.INT ? Number(node.value) : node.kind === Kind.NULL ? null : undefined);
  if (arg?.value.kind === Kind.VARIABLE) {
    usedVariable();
    const variable = arg.value.name.value;
    if (variables && variable in variables) value = variables[variable];
    else {
      const def = op.variableDefinitions?.find((v) => v.variable.name.value === variable)?.defaultValue;
      value = def ? read(def) : undefined;
    }
  } else if (arg) value = read(arg.value);
  return value;
}

/**
 * The estimated cost of `operation` (see the file's comment). `usedVariable` is called
 * when the cost depends on the request's variables (a `first: $n`).
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  model: CostModel,
  usedVariable: () => void = () => undefined,
): number {
  const fragments = fragmentsOf(document);
  // A fragment's cost depends only on the page size it inherits; measure each pair once.
  const memo = new Map<string, number>();
  const visiting = new Set<string>();

  /** Cost of a selection set on `type` once, with `page` items in the lists right inside it. */
  function selectionSet(set: SelectionSetNode, type: GraphQLCompositeType, page: number | undefined): number {
    let total = 0;
    const spread = new Set<string>();
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value.startsWith('__') || !sel.selectionSet) continue;
        if (!isObjectType(type) && !isInterfaceType(type)) continue;
        const def = type.getFields()[sel.name.value];
        if (!def) continue;
        const named = getNamedType(def.type);
        if (!isCompositeType(named)) continue;
        const isList = isListType(getNullableType(def.type));
        const paged = def.args.some((a) => a.name === 'first');
        const size = paged ? pageSize(sel, operation, variables, model, usedVariable) : undefined;
        // A paged list holds its own page; a list right inside a page holds that page.
        const items = !isList ? 1 : paged ? size! : (page ?? model.defaultListSize);
        total += items * (1 + selectionSet(sel.selectionSet, named, paged && !isList ? size : undefined));
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const cond = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
        if (cond && isCompositeType(cond)) total += selectionSet(sel.selectionSet, cond, page);
      } else if (!spread.has(sel.name.value)) {
        const name = sel.name.value;
        spread.add(name);
        const key = `${name}\u0000${page ?? ''}`;
        let cost = memo.get(key);
        if (cost === undefined) {
          const def = fragments.get(name);
          const cond = def && schema.getType(def.typeCondition.name.value);
          if (!def || !cond || !isCompositeType(cond) || visiting.has(name)) continue;
          visiting.add(name);
          cost = selectionSet(def.selectionSet, cond, page);
          visiting.delete(name);
          memo.set(key, cost);
        }
        total += cost;
      }
    }
    return total;
  }

  const root = rootType(schema, operation);
  return root ? selectionSet(operation.selectionSet, root, undefined) : 0;
}
