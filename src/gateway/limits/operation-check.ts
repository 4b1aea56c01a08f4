/**
 * The one decision on an operation's size: depth, aliases, fields, `__schema` fields and
 * cost against the configured limits, after GraphQL validation and before anything runs.
 * Pure but for a cache per parsed document (Apollo keeps parsed documents, so a repeated
 * query is measured once; a cost that depends on variables is computed each time).
 */
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { QueryTooComplexError } from '../../domain/index.js';
import { operationCost, type CostModel } from './cost.js';
import { measureOperation, operationOf, type OperationShape } from './document-shape.js';

export interface OperationLimits extends CostModel {
  maxDepth: number;
  maxAliases: number;
  maxFields: number;
  maxCost: number;
}

/** `__schema` fields one operation may have: GraphiQL asks once; more is only work. */
export const MAX_SCHEMA_FIELDS = 1;

interface Measured {
  op: OperationDefinitionNode;
  shape: OperationShape;
  /** The cost under `model`, when it does not depend on the request's variables. */
  cost?: { value: number; model: OperationLimits };
}

const measured = new WeakMap<DocumentNode, Map<string, Measured>>();

function measuredOf(document: DocumentNode, operationName: string | null | undefined): Measured | undefined {
  const key = operationName ?? '';
  let perDoc = measured.get(document);
  const hit = perDoc?.get(key);
  if (hit) return hit;
  const op = operationOf(document, operationName);
  if (!op) return undefined;
  const m: Measured = { op, shape: measureOperation(document, op) };
  if (!perDoc) measured.set(document, (perDoc = new Map()));
  perDoc.set(key, m);
  return m;
}

export interface Assessment {
  /** The limit the operation goes over, as the error to answer; absent when it is within every limit. */
  refused?: QueryTooComplexError;
  /** Its estimated cost (0 when it was refused before the cost was estimated). */
  cost: number;
}

/**
 * Checks an operation against every limit and estimates its cost. An operation the
 * document does not name (GraphQL reports that itself) is let through at cost 0.
 */
export function assessOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  limits: OperationLimits,
): Assessment {
  const m = measuredOf(document, operationName);
  if (!m) return { cost: 0 };
  const refused = shapeRefusal(m.shape, limits);
  if (refused) return { refused, cost: 0 };
  let cost = m.cost?.model === limits ? m.cost.value : undefined;
  if (cost === undefined) {
    let variable = false;
    cost = operationCost(schema, document, m.op, variables, limits, () => (variable = true));
    if (!variable) m.cost = { value: cost, model: limits };
  }
  if (cost > limits.maxCost) return { refused: costRefusal(cost, limits), cost };
  return { cost };
}

function shapeRefusal(shape: OperationShape, limits: OperationLimits): QueryTooComplexError | undefined {
  if (shape.depth > limits.maxDepth) {
    return new QueryTooComplexError(
      `This operation nests ${shape.depth} levels of fields; at most ${limits.maxDepth} are allowed (FLINT_API_MAX_DEPTH). ` +
        'Ask for fewer nested fields, and read nested resources with a query of their own by id.',
      { limit: 'depth', max: limits.maxDepth, actual: shape.depth },
    );
  }
  if (shape.aliases > limits.maxAliases) {
    return new QueryTooComplexError(
      `This operation has ${shape.aliases} aliased fields; at most ${limits.maxAliases} are allowed (FLINT_API_MAX_ALIASES). Send several smaller operations instead.`,
      { limit: 'aliases', max: limits.maxAliases, actual: shape.aliases },
    );
  }
  if (shape.fields > limits.maxFields) {
    return new QueryTooComplexError(
      `This operation has ${shape.fields} fields once its fragments are expanded; at most ${limits.maxFields} are allowed (FLINT_API_MAX_FIELDS). ` +
        'Ask only for the fields you use, or send several smaller operations.',
      { limit: 'fields', max: limits.maxFields, actual: shape.fields },
    );
  }
  if (shape.schemaFields > MAX_SCHEMA_FIELDS) {
    return new QueryTooComplexError(`This operation asks for __schema ${shape.schemaFields} times; ask for it once.`, {
      limit: 'introspection',
      max: MAX_SCHEMA_FIELDS,
      actual: shape.schemaFields,
    });
  }
  return undefined;
}

function costRefusal(cost: number, limits: OperationLimits): QueryTooComplexError {
  const shown = Number.isFinite(cost) && cost < 1e15 ? String(Math.round(cost)) : 'more than 10^15';
  return new QueryTooComplexError(
    `This operation could fetch about ${shown} objects; at most ${limits.maxCost} are allowed (FLINT_API_MAX_COST). ` +
      `A list counts as its \`first\` argument (${limits.defaultListSize} when it has none) and nested lists multiply: ` +
      'ask for smaller pages or fewer nested lists, and page through the rest with `after`.',
    { limit: 'cost', max: limits.maxCost, actual: Number.isFinite(cost) && cost < Number.MAX_SAFE_INTEGER ? Math.round(cost) : Number.MAX_SAFE_INTEGER },
  );
}

// graphql-js 16 writes "more that N tokens"; the fixed spelling matches too.
const TOKEN_LIMIT = /^Syntax Error: Document contains more tha[nt] (\d+) tokens\. Parsing aborted\.$/;
/** What graphql-js answers when its own budget for comparing repeated fields runs out. */
const VALIDATION_ABORTED = 'Validation aborted.';

/**
 * GraphQL's own limits read as a syntax error (the parser's `maxTokens`) or a validation
 * error (graphql-js's budget for comparing fields of one name); they are limits of the
 * API like ours, so they become QUERY_TOO_COMPLEX (src/gateway/http/errors.ts asks here).
 */
export function limitErrorOf(message: string): QueryTooComplexError | undefined {
  const m = TOKEN_LIMIT.exec(message);
  if (m) {
    const max = Number(m[1]);
    return new QueryTooComplexError(
      `This document has more than ${max} lexical tokens (FLINT_API_MAX_TOKENS); send a shorter one: fewer fields, or several operations.`,
      { limit: 'tokens', max },
    );
  }
  if (message === VALIDATION_ABORTED) {
    return new QueryTooComplexError(
      'GraphQL gave up checking this operation: it repeats fields of the same name too often. Ask for each field once.',
      { limit: 'fields' },
    );
  }
  return undefined;
}
