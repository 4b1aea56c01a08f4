/**
 * The execution timeout. Two halves, because a cut-off operation must both stop working
 * and stop holding its client:
 *
 * - `enforceDeadline` wraps the resolvers that fetch (fields of object or list type, and
 *   every root field): past the context's `deadline`, they throw instead of starting, so
 *   a cut-off operation issues no more reads. What is already running (one SQL
 *   statement, one NATS request) finishes on its own.
 * - `DeadlineWatch` (HTTP) and `raceDeadline` (WebSocket) answer the client at the
 *   deadline, whatever is still running.
 */
import { getNamedType, isCompositeType, isListType, isObjectType, getNullableType, GraphQLError, type GraphQLSchema } from 'graphql';
import { QueryTooComplexError } from '../../domain/index.js';

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

/** What `DeadlineWatch.watch` hands back: end it when the work is done. */
export interface DeadlineHandle {
  /** The work is done: the timeout will not fire any more. */
  done(): void;
  /** Whether the timeout fired (the client has been answered). */
  readonly fired: boolean;
}

interface Watched extends DeadlineHandle {
  deadline: number;
  onTimeout: () => void;
  fired: boolean;
}

const NOT_WATCHED: DeadlineHandle = { done: () => undefined, fired: false };

/**
 * Calls back what is still running at its deadline, from one timer ticking every
 * `tickMs` while anything is watched: no timer and no promise per request (this runs on
 * every one). Deadlines are added in order (now + one timeout), so a tick stops at the
 * first that has not come.
 */
export class DeadlineWatch {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;

  /** @param tickMs how late a timeout may fire. */
  constructor(private readonly tickMs = 50) {}

  /** Calls `onTimeout` once `deadline` (a `performance.now()` reading) has passed, unless `done()` came first. */
  watch(deadline: number | undefined, onTimeout: () => void): DeadlineHandle {
    if (deadline === undefined) return NOT_WATCHED;
    const watched = this.watched;
    const w: Watched = {
      deadline,
      onTimeout,
      fired: false,
      done() {
        watched.delete(w);
      },
    };
    watched.add(w);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
    return w;
  }

  private tick(): void {
    const now = performance.now();
    for (const w of this.watched) {
      if (w.deadline > now) break;
      this.watched.delete(w);
      w.fired = true;
      w.onTimeout();
    }
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
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
