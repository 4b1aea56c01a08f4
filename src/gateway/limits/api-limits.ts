/**
 * The API limits of one gateway, built from its configuration: what src/gateway/http/server.ts
 * wires into Apollo (HTTP), graphql-ws and the WebSocketServer. With the limits off
 * (FLINT_API_LIMITS=false) every piece lets everything through, but the WebSocket
 * message size.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { ExecutionResult, GraphQLSchema, ParseOptions } from 'graphql';
import { API_WS_MAX_PAYLOAD_BYTES, type ApiLimitsConfig } from '../../config/index.js';
import { LIMITS } from '../../domain/index.js';
import type { Context } from '../../resolvers/index.js';
import type { Authenticator } from '../http/auth.js';
import { limitsPlugin } from './apollo-plugin.js';
import { DeadlineWatch, enforceDeadline, raceDeadline, TIMED_OUT, timeoutError, timeoutGraphQLError } from './deadline.js';
import { errorBody, RequestGate } from './request-gate.js';
import type { OperationLimits } from './operation-check.js';
import { WsGuard } from './ws-guard.js';

/** Items assumed in a list without `first`, for the cost estimate. @default 10 */
export const DEFAULT_LIST_SIZE = 10;

export interface ApiLimits {
  readonly config: ApiLimitsConfig;
  readonly gate: RequestGate;
  readonly ws: WsGuard;
  /** `maxPayload` of the WebSocketServer. */
  readonly wsMaxPayload: number;
  /** Apollo's `parseOptions` (the token limit). */
  readonly parseOptions: ParseOptions;
  /** Apollo plugins: the operation check and the single timeout error. */
  readonly plugins: ApolloServerPlugin<Context>[];
  /** Makes the schema's resolvers stop at the deadline (in place). */
  prepareSchema(schema: GraphQLSchema): void;
  /** The deadline of an operation starting now, or undefined with the limits off. */
  deadline(): number | undefined;
  /** The body answered when the execution timeout cut a request off. */
  timeoutBody(): ReturnType<typeof errorBody>;
  /**
   * What `work` (an HTTP request's) gives, or undefined when `deadline` passed first: then
   * `onTimeout` was called to answer the client. With no deadline (limits off), `work` itself.
   */
  untilDeadline<T>(deadline: number | undefined, work: Promise<T>, onTimeout: () => void): Promise<T | undefined>;
  /**
   * Runs a WebSocket query or mutation (`run`), answering the timeout error instead when
   * its context's deadline comes first.
   */
  withinDeadline<T>(context: { deadline?: number }, run: () => T | Promise<T>): T | Promise<T | ExecutionResult>;
}

/** The limits on one operation's size, from the configuration and the API's page sizes. */
export function operationLimitsOf(config: ApiLimitsConfig): OperationLimits {
  return {
    maxDepth: config.maxDepth,
    maxAliases: config.maxAliases,
    maxFields: config.maxFields,
    maxCost: config.maxCost,
    defaultListSize: DEFAULT_LIST_SIZE,
    pageDefault: LIMITS.pageDefault,
    pageMax: LIMITS.pageMax,
  };
}

export function createApiLimits(config: ApiLimitsConfig, auth: Authenticator): ApiLimits {
  const operations = operationLimitsOf(config);
  const gate = new RequestGate(config, auth);
  const watch = new DeadlineWatch();
  return {
    config,
    gate,
    ws: new WsGuard(config, gate, operations),
    wsMaxPayload: API_WS_MAX_PAYLOAD_BYTES,
    parseOptions: config.enabled ? { maxTokens: config.maxTokens } : {},
    plugins: config.enabled ? [limitsPlugin(operations, gate)] : [],
    prepareSchema: (schema) => {
      if (config.enabled) enforceDeadline(schema, config.timeoutMs);
    },
    deadline: () => (config.enabled ? performance.now() + config.timeoutMs : undefined),
    timeoutBody: () => errorBody(timeoutError(config.timeoutMs)),
    untilDeadline: (deadline, work, onTimeout) => {
      if (deadline === undefined) return work;
      // No timer and one promise per request: the shared watch calls back at the deadline.
      const handle = watch.watch(deadline, onTimeout);
      return work.then(
        (r) => {
          handle.done();
          return handle.fired ? undefined : r;
        },
        (err: unknown) => {
          handle.done();
          throw err;
        },
      );
    },
    withinDeadline: (context, run) => {
      const result = run();
      if (context.deadline === undefined) return result;
      return raceDeadline(Promise.resolve(result), context.deadline).then((r) => (r === TIMED_OUT ? { errors: [timeoutGraphQLError(config.timeoutMs)] } : r));
    },
  };
}
