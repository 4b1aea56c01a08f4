/**
 * GraphQL observability for the gateway: an Apollo plugin that counts, times and logs
 * each HTTP operation once (name, type, duration, error codes, request id; never
 * variables), and the graphql-ws hooks that do the same for WebSocket operations and
 * keep the open-subscriptions gauge. Error codes are counted where errors are
 * formatted (`countError`), so HTTP and WebSocket errors are counted alike.
 */
import type { ApolloServerPlugin, BaseContext, GraphQLRequestContext } from '@apollo/server';
import { getOperationAST, type DocumentNode, type ExecutionArgs, type GraphQLFormattedError, type OperationDefinitionNode } from 'graphql';
import type { Logger } from '../config/logger.js';
import { gatewayMetrics } from './gateway.js';
import { errorCodeLabel, errorCodes, operationLabel, operationTypeLabel, type OperationType } from './labels.js';

/** What the gateway's GraphQL context must carry for these hooks. */
export interface ObservedContext extends BaseContext {
  requestId: string;
}

export interface GraphqlObservability<C extends ObservedContext> {
  /** Apollo plugin: one count, one duration and one log line per HTTP operation. */
  plugin: ApolloServerPlugin<C>;
  /** Counts a formatted error by its code and returns it unchanged (wrap the error formatter with it). */
  countError(formatted: GraphQLFormattedError): GraphQLFormattedError;
  /** A /graphql HTTP request refused before GraphQL ran (bad token, bad JSON): count and log it. */
  rejected(requestId: string, code: string, status: number): void;
  /** graphql-ws `onOperation`: counts and logs the operation, and an open subscription. */
  wsOperation(ctx: object, id: string, args: ExecutionArgs, result: unknown): void;
  /** graphql-ws `onComplete`: closes the subscription `wsOperation` opened, if any. */
  wsComplete(ctx: object, id: string): void;
}

/** The operation's name and type labels, from the document (never from the request's `operationName` alone). */
export function describeOperation(document: DocumentNode | undefined, operationName: string | null | undefined): { operation: string; type: OperationType } {
  return labelsOf(document ? getOperationAST(document, operationName) : null);
}

function labelsOf(op: OperationDefinitionNode | null | undefined): { operation: string; type: OperationType } {
  return { operation: operationLabel(op?.name?.value, gatewayMetrics().operationNames), type: operationTypeLabel(op?.operation) };
}

export function graphqlObservability<C extends ObservedContext>(log: Logger): GraphqlObservability<C> {
  const m = gatewayMetrics();
  const open = new WeakMap<object, Set<string>>();

  const plugin: ApolloServerPlugin<C> = {
    async requestDidStart(start) {
      const started = performance.now();
      return {
        async willSendResponse(rc) {
          const seconds = (performance.now() - started) / 1000;
          const { operation, type } = describe(rc);
          m.requests.inc({ operation, type });
          m.duration.observe({ operation, type }, seconds);
          const body = rc.response.body;
          const errors = errorCodes(body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors);
          log.info(
            { requestId: start.contextValue.requestId, operation, type, ms: Math.round(seconds * 1000), status: rc.response.http.status ?? 200, errors },
            'graphql operation',
          );
        },
      };
    },
  };

  return {
    plugin,
    countError: (formatted) => {
      m.errors.inc({ code: errorCodeLabel(formatted.extensions?.code) });
      return formatted;
    },
    rejected: (requestId, code, status) => {
      m.requests.inc({ operation: 'anonymous', type: 'unknown' });
      m.errors.inc({ code: errorCodeLabel(code) });
      log.info({ requestId, operation: 'anonymous', type: 'unknown', status, errors: [errorCodeLabel(code)] }, 'graphql request refused');
    },
    wsOperation: (ctx, id, args, result) => {
      const { operation, type } = describeOperation(args.document, args.operationName);
      m.requests.inc({ operation, type });
      const requestId = (args.contextValue as Partial<ObservedContext> | undefined)?.requestId;
      log.info({ requestId, operation, type, transport: 'ws' }, 'graphql operation');
      if (!isAsyncIterable(result)) return;
      const ids = open.get(ctx) ?? new Set<string>();
      open.set(ctx, ids);
      if (!ids.has(id)) m.subscriptionsOpen.inc();
      ids.add(id);
    },
    wsComplete: (ctx, id) => {
      if (open.get(ctx)?.delete(id)) m.subscriptionsOpen.dec();
    },
  };
}

/** From the resolved operation, or (when validation failed) the one the document would have run. */
function describe(rc: GraphQLRequestContext<BaseContext>): { operation: string; type: OperationType } {
  return rc.operation ? labelsOf(rc.operation) : describeOperation(rc.document, rc.request.operationName);
}

function isAsyncIterable(x: unknown): boolean {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}
