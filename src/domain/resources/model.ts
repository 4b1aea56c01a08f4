/**
 * A resource of the API as one object: its fields (zod, annotated with their lifecycle) and
 * its actions' statuses, and the JSON Schema emitted from them (schema/resources/*.schema.json,
 * `flint schema --resources`). Pure.
 */
import { z } from 'zod';
import { fieldRules, type ActionStatuses, type FieldRule } from './lifecycle.js';

export interface ResourceModel {
  /** The file name: schema/resources/<name>.schema.json. */
  name: string;
  /** The GraphQL object type it describes, field for field (its scalar fields). */
  graphqlType: string;
  fields: z.ZodObject;
  /** By action: `create` for its create, the others named as in the state machine (src/domain/*-states.ts). */
  actions: Record<string, ActionStatuses>;
}

/** The rule of each field (lifecycle and mutation). */
export function rulesOf(model: ResourceModel): Record<string, FieldRule> {
  return fieldRules(model.fields);
}

/** The JSON Schema of `model`: its fields' schemas and annotations, and its actions under `x-flint-actions`. */
export function resourceJsonSchema(model: ResourceModel): Record<string, unknown> {
  const schema = z.toJSONSchema(model.fields, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: `https://flint.dev/schema/resources/${model.name}.schema.json`,
    title: schema.title,
    description: schema.description,
    'x-flint-graphql-type': model.graphqlType,
    type: 'object',
    properties: schema.properties,
    required: schema.required,
    additionalProperties: false,
    'x-flint-actions': model.actions,
  };
}
