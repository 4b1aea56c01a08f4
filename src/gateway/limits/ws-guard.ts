/**
 * The limits on the WebSocket path (graphql-ws over ws), as hooks for `useServer` and the
 * `WebSocketServer`:
 *
 * - the upgrade is refused with HTTP 429 past the connections of one address;
 * - `connection_init` is authenticated through the request gate, and closes the socket
 *   (4429, reason "RATE_LIMITED: …") past the connections of one token or after too
 *   many failed authentications from the address;
 * - every `subscribe` is counted against the open operations of its socket and the
 *   token's bucket, then parsed (token limit), validated, checked and charged for its
 *   cost like an HTTP operation.
 *
 * The message size limit (1 MiB) is the WebSocketServer's `maxPayload`, always on.
 */
import type { IncomingMessage } from 'node:http';
import { getOperationAST, GraphQLError, parse, validate as graphqlValidate, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import type { Context as WsContext, SubscribePayload } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import type { WebSocket } from 'ws';
import type { ApiLimitsConfig, Logger } from '../../config/index.js';
import type { Principal } from '../../db/index.js';
import { FlintError, RateLimitedError } from '../../domain/index.js';
import { CLOSE_TRY_AGAIN_LATER } from '../http/token-sessions.js';
import { ConnectionCounter } from './connection-counter.js';
import { assessOperation, limitErrorOf, type OperationLimits } from './operation-check.js';
import type { RequestGate } from './request-gate.js';

/** Close code of a socket refused by a limit (graphql-ws's "too many" code); the reason starts with `RATE_LIMITED:`. */
export const CLOSE_RATE_LIMITED = 4429;
/** Close code of a refused token, as graphql-ws closes when `onConnect` answers false. */
export const CLOSE_FORBIDDEN = 4403;
/** Seconds a client refused for too many connections is told to wait. */
const CONNECTIONS_RETRY_AFTER_S = 10;

/** What the gateway keeps on each socket. */
export type SocketState = {
  principal?: Principal;
  /** The token id counted against its connections, released when the socket closes. */
  countedToken?: string;
};

type Ctx = WsContext<{ authorization?: string }, Extra & SocketState>;

/** The error a graphql-ws `error` message carries, keeping the Flint error for `formatError`. */
function asGraphQLError(e: FlintError): GraphQLError {
  return new GraphQLError(e.message, { originalError: e });
}

/** A close reason fits in 123 bytes. */
const closeReason = (e: FlintError): string => `${e.code}: ${e.message}`.slice(0, 120);

export class WsGuard {
  private readonly perAddress: ConnectionCounter;
  private readonly perToken: ConnectionCounter;

  constructor(
    private readonly config: ApiLimitsConfig,
    private readonly gate: RequestGate,
    private readonly operations: OperationLimits,
  ) {
    this.perAddress = new ConnectionCounter(config.wsMaxConnectionsPerAddress);
    this.perToken = new ConnectionCounter(config.wsMaxConnectionsPerToken);
  }

  /**
   * `verifyClient` of the WebSocketServer: HTTP 429 past the connections of one address.
   * The count is released when the TCP socket closes, however the upgrade ended.
   */
  verifyClient = (info: { req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void): void => {
    if (!this.config.enabled) return done(true);
    const address = this.gate.address(info.req);
    if (!this.perAddress.tryOpen(address)) {
      return done(false, 429, `Too many WebSocket connections from your address (at most ${this.config.wsMaxConnectionsPerAddress}); close some.`, {
        'retry-after': String(CONNECTIONS_RETRY_AFTER_S),
      });
    }
    info.req.socket.once('close', () => this.perAddress.close(address));
    done(true);
  };

  /** graphql-ws `onConnect`: the token of `connectionParams.authorization`; anonymous sockets are refused (4403). */
  onConnect = async (ctx: Ctx): Promise<boolean> => {
    const header = ctx.connectionParams?.authorization;
    const address = this.gate.address(ctx.extra.request);
    let auth;
    try {
      auth = await this.gate.authenticate(typeof header === 'string' ? header : undefined, address);
    } catch (err) {
      // The token could not be checked (database down): a retryable close, so the client keeps its token and comes back.
      if (err instanceof FlintError && err.code === 'SERVICE_UNAVAILABLE') ctx.extra.socket.close(CLOSE_TRY_AGAIN_LATER, 'Service unavailable: the token cannot be checked now; retry');
      return false;
    }
    if ('refused' in auth) {
      if (auth.refused instanceof RateLimitedError) ctx.extra.socket.close(CLOSE_RATE_LIMITED, closeReason(auth.refused));
      return false;
    }
    if (!auth.principal) return false;
    // Gone while its token was looked up: onClose has run already and would never release a count taken now.
    if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
    if (this.config.enabled) {
      if (!this.perToken.tryOpen(auth.principal.tokenId)) {
        const refused = new RateLimitedError(`Too many WebSockets for this token (at most ${this.config.wsMaxConnectionsPerToken}); close some.`, CONNECTIONS_RETRY_AFTER_S);
        ctx.extra.socket.close(CLOSE_RATE_LIMITED, closeReason(refused));
        return false;
      }
      ctx.extra.countedToken = auth.principal.tokenId;
    }
    ctx.extra.principal = auth.principal;
    return true;
  };

  /** graphql-ws `onClose`: releases the token's connection. */
  onClose = (ctx: Ctx): void => {
    if (ctx.extra.countedToken === undefined) return;
    this.perToken.close(ctx.extra.countedToken);
    ctx.extra.countedToken = undefined;
  };

  /**
   * graphql-ws `onSubscribe` with the limits on: open operations on the socket, the
   * token's bucket, then parse (at most `maxTokens`), validate and check the operation.
   * Answers the execution arguments, or the errors to send.
   */
  onSubscribe(schema: GraphQLSchema, validate: typeof graphqlValidate = graphqlValidate) {
    return (ctx: Ctx, _id: string, payload: SubscribePayload): ExecutionArgs | readonly GraphQLError[] | undefined => {
      if (!this.config.enabled) return undefined;
      // The operation being subscribed is already in `subscriptions` (graphql-ws reserves its id first).
      const open = Object.keys(ctx.subscriptions).length;
      if (open > this.config.wsMaxSubscriptions) {
        return [
          asGraphQLError(
            new RateLimitedError(
              `This WebSocket has ${open - 1} operations open, the most allowed (FLINT_API_WS_MAX_SUBSCRIPTIONS); complete some first, or open another connection.`,
              1,
            ),
          ),
        ];
      }
      const limited = this.gate.take(ctx.extra.principal ?? null, this.gate.address(ctx.extra.request));
      if (limited) return [asGraphQLError(limited)];
      let document;
      try {
        document = parse(payload.query, { maxTokens: this.config.maxTokens });
      } catch (err) {
        const tooLong = err instanceof GraphQLError ? limitErrorOf(err.message) : undefined;
        return [tooLong ? asGraphQLError(tooLong) : err instanceof GraphQLError ? err : new GraphQLError('The query could not be parsed.')];
      }
      const errors = validate(schema, document);
      if (errors.length > 0) return errors;
      const { refused, cost } = assessOperation(schema, document, payload.operationName, payload.variables, this.operations);
      if (refused) return [asGraphQLError(refused)];
      const charged = this.gate.charge(ctx.extra.principal ?? null, cost);
      if (charged) return [asGraphQLError(charged)];
      return { schema, document, operationName: payload.operationName, variableValues: payload.variables };
    };
  }
}

/**
 * A frame ws refuses (over `maxPayload`, bad UTF-8, a bad opcode…) closes its socket with
 * the matching code (1009 for size) and is then emitted as the socket's 'error', which
 * graphql-ws prints to stderr: any client could fill the gateway's stderr. Call after
 * graphql-ws saw the socket: the client's faults go to the debug log instead; other errors
 * still reach graphql-ws.
 */
export function logClientFrameErrors(socket: WebSocket, log: Pick<Logger, 'debug'>): void {
  const theirs = socket.listeners('error') as Array<(err: Error) => void>;
  socket.removeAllListeners('error');
  socket.on('error', (err: Error & { code?: unknown }) => {
    if (typeof err.code === 'string' && err.code.startsWith('WS_ERR_')) {
      log.debug({ code: err.code }, 'closed a WebSocket after a frame it may not send');
      return;
    }
    for (const listener of theirs) listener.call(socket, err);
  });
}

/** Whether graphql-ws is about to run a subscription (no execution timeout) or a query or mutation. */
export function isSubscription(args: ExecutionArgs): boolean {
  return getOperationAST(args.document, args.operationName)?.operation === 'subscription';
}
