/**
 * The limits on the HTTP path, as an Apollo plugin: after validation and before anything
 * runs, an operation over a limit is refused (HTTP 400, QUERY_TOO_COMPLEX) and a costly
 * one is charged to its token's bucket (HTTP 429, RATE_LIMITED, when it is empty); a
 * response cut short by the execution timeout carries that error once, not once per field.
 */
import {
  HeaderMap,
  type ApolloServerPlugin,
  type GraphQLRequestContextDidResolveOperation,
  type GraphQLRequestContextWillSendResponse,
  type GraphQLRequestListener,
} from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Context } from '../../resolvers/index.js';
import { assessOperation, type OperationLimits } from './operation-check.js';
import type { RequestGate } from './request-gate.js';

const isTimeout = (e: GraphQLFormattedError): boolean => e.extensions?.code === 'QUERY_TOO_COMPLEX' && e.extensions.limit === 'timeout';

/** The first timeout error stands for all of them; other errors stay. */
export function keepOneTimeoutError(errors: readonly GraphQLFormattedError[]): GraphQLFormattedError[] {
  const first = errors.find(isTimeout);
  if (!first) return [...errors];
  return [first, ...errors.filter((e) => !isTimeout(e))];
}

export function limitsPlugin(limits: OperationLimits, gate: RequestGate): ApolloServerPlugin<Context> {
  /** Why the operation may not run: over a limit (400), or too costly for its token's bucket now (429). */
  const refusalOf = ({ schema, document, request, contextValue }: GraphQLRequestContextDidResolveOperation<Context>): GraphQLError | undefined => {
    const { refused, cost } = assessOperation(schema, document, request.operationName, request.variables, limits);
    if (refused) return new GraphQLError(refused.message, { originalError: refused, extensions: { code: refused.code, http: { status: 400 } } });
    const limited = gate.charge(contextValue.principal, cost);
    if (!limited) return undefined;
    const http = { status: 429, headers: new HeaderMap([['retry-after', String(limited.retryAfterSeconds)]]) };
    return new GraphQLError(limited.message, { originalError: limited, extensions: { code: limited.code, http } });
  };
  // One listener serves every request (the hooks keep no state), and its hooks are not
  // async: Apollo awaits whatever they return, and a promise per hook per request is
  // measurable on a fast query (bench/api-limits.ts). A refusal is a rejected promise,
  // never a throw: Apollo calls every plugin's hook before it awaits them together, and a
  // throw there would leave another plugin's rejection (the introspection refusal) unhandled.
  const listener = {
    didResolveOperation(rc: GraphQLRequestContextDidResolveOperation<Context>): Promise<never> | undefined {
      try {
        const refusal = refusalOf(rc);
        return refusal ? Promise.reject(refusal) : undefined;
      } catch (err) {
        return Promise.reject(err);
      }
    },
    willSendResponse({ response }: GraphQLRequestContextWillSendResponse<Context>): void {
      const body = response.body;
      if (body.kind !== 'single' || !body.singleResult.errors) return;
      body.singleResult.errors = keepOneTimeoutError(body.singleResult.errors);
    },
  };
  const ready = Promise.resolve(listener as unknown as GraphQLRequestListener<Context>);
  return { requestDidStart: () => ready };
}
