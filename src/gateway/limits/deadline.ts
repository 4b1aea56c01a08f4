/**
 * The execution timeout. Two halves, because a cut-off operation must both stop working
 * and stop holding its client:
 *
 * - `enforceDeadline` wraps the resolvers that fetch (fields of object or list type, and
 *   every root field): past the context's `deadline`, they throw instead of starting, so
 *   a cut-off operation issues no more reads. What is already running (one SQL
 *   statement, one NATS request) finishes on its own.
 * - `raceDeadline` answers the client at the deadline, whatever is still running.
 */
import { getNamedType, isCompositeType, isListType, isObjectType, getNullableType, GraphQLError, type GraphQLSchema } from 'graphql';
import { QueryTooComplexError } from '../../domain/errors.js';

/** What `raceDeadline` resolves to when the deadline came first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

export function timeoutError(timeoutMs: number): QueryTooComplexError {
  return new QueryTooComplexError(
    `The operation did not finish within ${timeoutMs} ms and was cut off (FLINT_API_TIMEOUT_MS). Ask for less: smaller pages, fewer nested lists. ` +
      'A mutation may still have taken effect: read the resource before you retry, or retry with the same idempotencyKey.',
    { limit: 'timeout', max: timeoutMs },
  );
}

/** The timeout as the GraphQL error a response carries (its code comes from the original error). */
export function timeoutGraphQLError(timeoutMs: number): GraphQLError {
  const original = timeoutError(timeoutMs);
  return new GraphQLError(original.message, { originalError: original });
}

const wrapped = new WeakSet<GraphQLSchema>();

/**
 * Makes the fetching resolvers of `schema` refuse to start after `contextValue.deadline`
 * (a `performance.now()` reading). Changes the schema in place, once.
 */
export function enforceDeadline(schema: GraphQLSchema, timeoutMs: number): void {
  if (wrapped.has(schema)) return;
  wrapped.add(schema);
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(Boolean));
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const fetches = roots.has(type) || isCompositeType(getNamedType(field.type)) || isListType(getNullableType(field.type));
      const resolve = field.resolve;
      if (!fetches || !resolve) continue;
      field.resolve = (source, args, context: { deadline?: number } | undefined, info) => {
        const deadline = context?.deadline;
        if (deadline !== undefined && performance.now() > deadline) throw timeoutError(timeoutMs);
        return resolve(source, args, context, info);
      };
    }
  }
}

/**
 * `work`, or {@link TIMED_OUT} when `deadline` (a `performance.now()` reading) comes
 * first. A rejection of `work` after the deadline is dropped: its client has its answer.
 */
export function raceDeadline<T>(work: Promise<T>, deadline: number): Promise<T | typeof TIMED_OUT> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(
      () => {
        if (done) return;
        done = true;
        resolve(TIMED_OUT);
      },
      Math.max(0, deadline - performance.now()),
    );
    work.then(
      (v) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
