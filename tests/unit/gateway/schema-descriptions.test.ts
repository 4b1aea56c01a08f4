/**
 * The schema reads as a manual: every type, field, argument, input field and enum
 * value of `buildFlintSchema()` has a description, so GraphiQL's docs pane explains
 * all of it. A new field without one fails here, with the list of what is missing.
 *
 * Exempt: GraphQL's own types (`__*`, the built-in scalars) and the root types
 * `Query`, `Mutation` and `Subscription` themselves (type-graphql cannot describe
 * them; their fields and arguments are checked like any other).
 */
import test from 'ava';
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isSpecifiedScalarType,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { buildFlintSchema } from '../../../src/resolvers/index.js';

const described = (d: string | null | undefined): boolean => typeof d === 'string' && d.trim().length > 0;

/** Every schema element without a description, as `Type`, `Type.field`, `Type.field(arg)` or `Enum.VALUE`. */
function undescribed(schema: GraphQLSchema): string[] {
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(Boolean).map((t) => t!.name));
  const missing: string[] = [];
  const types = Object.values(schema.getTypeMap()).filter(
    (t: GraphQLNamedType) => !t.name.startsWith('__') && !isSpecifiedScalarType(t),
  );
  for (const type of types) {
    if (!roots.has(type.name) && !described(type.description)) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (!described(field.description)) missing.push(`${type.name}.${field.name}`);
        for (const arg of field.args) if (!described(arg.description)) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) if (!described(field.description)) missing.push(`${type.name}.${field.name}`);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) if (!described(value.description)) missing.push(`${type.name}.${value.name}`);
    }
  }
  return missing.sort();
}

test('every type, field, argument and enum value of the schema has a description', async (t) => {
  const missing = undescribed(await buildFlintSchema());
  const how = 'description on @ObjectType/@InputType/@Field/@Arg/@Query/@Mutation/@Subscription, valuesConfig in registerEnumType';
  t.is(missing.length, 0, `${missing.length} schema elements have no description (${how}):\n  ${missing.join('\n  ')}`);
});

test('the check finds what is missing', async (t) => {
  const { buildSchema } = await import('graphql');
  const schema = buildSchema(`
    "Root." type Query { "Described." a(x: Int): B }
    type B { b: String }
    enum E { "One." ONE TWO }
    input I { i: Int }
    "Fine." scalar S
  `);
  t.deepEqual(undescribed(schema), ['B', 'B.b', 'E', 'E.TWO', 'I', 'I.i', 'Query.a(x)']);
});
