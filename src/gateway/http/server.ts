/**
 * The gateway's HTTP face: one port serving `/graphql` (POST for queries and mutations, the
 * graphql-ws protocol over WebSocket for subscriptions), `/healthz`, `/readyz`, `/metrics`,
 * the dashboard and the IDE. The API limits (../limits/) admit every request and socket first.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { execute, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { withRequestId, type Bus } from '../../bus/index.js';
import type { FlintConfig } from '../../config/config.js';
import type { Logger } from '../../config/logger.js';
import type { Db, Principal } from '../../db/index.js';
import { graphqlObservability, loadMetricsToken, requestIdFrom } from '../../metrics/index.js';
import { createLoaders, type Context, type Ports } from '../../resolvers/index.js';
import type { TokenSecurity } from './token-security.js';
import { sharedSubscribe } from './shared-subscribe.js';
import { errorExtensions, formatError } from './errors.js';
import { BodyTooLargeError, headerMap, readBody, sendJson, writeResponse } from './apollo-http.js';
import { admitHttp, isSubscription, logClientFrameErrors, type ApiLimits, type SocketState } from '../limits/index.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { healthRoutes } from './routes/health.js';
import { ideRoutes, introspectionPlugin, wsValidate } from './routes/ide.js';
import { metricsRoutes } from './routes/metrics.js';
import type { Route } from './routes/route.js';
import { refuseUnparsableDocuments } from './ws-parse.js';
import { refuseHttpSubscriptions } from './http-subscriptions.js';

export interface HttpOptions {
  config: FlintConfig;
  db: Db;
  bus: Bus;
  log: Logger;
  schema: GraphQLSchema;
  /** What the resolvers call. */
  ports: Ports;
  limits: ApiLimits;
  tokens: TokenSecurity;
}

export interface HttpServing {
  port: number;
  /** Stops taking requests, drains those under way and closes the sockets. */
  stop(): Promise<void>;
}

export async function serveHttp({ config, db, bus, log, schema, ports, limits, tokens }: HttpOptions): Promise<HttpServing> {
  const obs = graphqlObservability<Context>(log);
  const format = (f: GraphQLFormattedError, e: unknown) => obs.countError(formatError(f, e, log));

  const httpServer: Server = createServer();
  // Idle keep-alive sockets stay open longer than clients keep them (undici: 4 s, browsers and
  // load balancers: up to 60 s), so the client always closes first: a server closing an idle
  // socket while a request is on its way makes that request fail with ECONNRESET.
  httpServer.keepAliveTimeout = 75_000;
  httpServer.headersTimeout = 76_000;
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: limits.wsMaxPayload, verifyClient: limits.ws.verifyClient });
  const checkSubscribe = limits.ws.onSubscribe(schema, wsValidate(config.introspection));
  const wsCleanup = useServer<{ authorization?: string }, SocketState>(
    {
      schema,
      validate: wsValidate(config.introspection),
      // Authenticated and counted by the limits; then tracked, to be closed when its token is revoked or expires.
      onConnect: async (ctx) => {
        const ok = await limits.ws.onConnect(ctx);
        if (ok && ctx.extra.principal) tokens.guard.track(ctx.extra.socket, ctx.extra.principal);
        return ok;
      },
      onClose: limits.ws.onClose,
      // With the limits off graphql-ws parses by itself: a document that does not parse is then one error, not a closed socket.
      onSubscribe: (ctx, id, payload) => checkSubscribe(ctx, id, payload) ?? refuseUnparsableDocuments(ctx, id, payload),
      context: (ctx, _id, _payload, args): Context => ({
        principal: ctx.extra.principal ?? null,
        requestId: randomUUID(),
        ports,
        loaders: createLoaders(db),
        deadline: isSubscription(args) ? undefined : limits.deadline(),
      }),
      // Each event is executed once per audience (document, variables, role and project), not once per subscriber.
      subscribe: sharedSubscribe((c) => audienceOf((c as Context).principal)),
      // What a WebSocket mutation publishes carries its request id, as over HTTP.
      execute: (args) => limits.withinDeadline(args.contextValue as Context, () => withRequestId((args.contextValue as Context).requestId, () => execute(args))),
      onOperation: (ctx, id, _payload, args, result) => obs.wsOperation(ctx, id, args, result),
      onComplete: (ctx, id) => obs.wsComplete(ctx, id),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((e) => format(e.toJSON ? e.toJSON() : e, e)) } : result,
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => format(e.toJSON ? e.toJSON() : e, e)) as never,
    },
    wsServer,
  );
  // After graphql-ws's own 'connection' listener: frames a client may not send are its fault, not ours.
  wsServer.on('connection', (socket) => logClientFrameErrors(socket, log));

  const apollo = new ApolloServer<Context>({
    schema,
    formatError: format,
    includeStacktraceInErrorResponses: false,
    // FLINT_INTROSPECTION=false: nobody; otherwise callers with a token (introspectionPlugin).
    introspection: config.introspection,
    parseOptions: limits.parseOptions,
    // The role's entry point owns SIGINT/SIGTERM; Apollo would re-raise the signal and cut the shutdown short.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // Apollo's cache control plugin wraps every field's resolver to compute a cache policy
      // that is always "no-store" here (no @cacheControl hints): writeResponse says so instead.
      ApolloServerPluginCacheControlDisabled(),
      introspectionPlugin(),
      refuseHttpSubscriptions(),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      obs.plugin,
      ...limits.plugins,
      { serverWillStart: async () => ({ drainServer: async () => wsCleanup.dispose() }) },
    ],
  });
  await apollo.start();

  const routes: Route[] = [...healthRoutes(bus, db, log), ...dashboardRoutes(), ...metricsRoutes(loadMetricsToken(config)), ...ideRoutes()];

  httpServer.on('request', async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    // Follows the request through the logs of every role; echoed so the client can quote it.
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    try {
      const route = routes.find((r) => r.match(req, url));
      if (route) return await route.handle(req, res, url);
      if (url.pathname !== '/graphql') return sendJson(res, 404, { error: 'not found; the API is at /graphql' });
      // Authentication and the caller's rate limit come before the body is read.
      const admission = await admitHttp(limits.gate, req);
      if ('refusal' in admission) {
        const r = admission.refusal;
        obs.rejected(requestId, r.code, r.status);
        for (const [name, value] of Object.entries(r.headers)) res.setHeader(name, value);
        return sendJson(res, r.status, r.body);
      }
      const principal = admission.principal;
      const body = req.method === 'POST' ? await readBody(req) : '';
      let parsed: unknown = body;
      if (body && (req.headers['content-type'] ?? '').includes('application/json')) {
        try {
          parsed = JSON.parse(body);
        } catch {
          obs.rejected(requestId, 'BAD_USER_INPUT', 400);
          return sendJson(res, 400, { errors: [{ message: 'The request body is not valid JSON.', extensions: errorExtensions('BAD_USER_INPUT') }] });
        }
      }
      const deadline = limits.deadline();
      // Commands a mutation publishes (however deep) carry the request id on.
      const work = withRequestId(requestId, () =>
        apollo.executeHTTPGraphQLRequest({
          httpGraphQLRequest: { method: req.method ?? 'GET', headers: headerMap(req), search: url.search, body: parsed },
          context: async () => ({ principal, requestId, ports, loaders: createLoaders(db), deadline }),
        }),
      );
      // Past the deadline the client is answered at once, and the resolvers still running stop.
      const response = await limits.untilDeadline(deadline, work, () => {
        log.warn({ requestId, timeoutMs: config.apiLimits.timeoutMs }, 'operation cut off at the execution timeout');
        if (!res.headersSent) sendJson(res, 200, limits.timeoutBody());
      });
      if (response) await writeResponse(res, response);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        obs.rejected(requestId, 'BAD_USER_INPUT', 413);
        return sendJson(res, 413, { errors: [{ message: err.message, extensions: errorExtensions('BAD_USER_INPUT') }] }, true);
      }
      log.error({ err }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal error.', extensions: errorExtensions('INTERNAL') }] });
    }
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.listen.port, config.listen.host, () => resolve());
  });
  return {
    port: (httpServer.address() as AddressInfo).port,
    stop: async () => {
      await apollo.stop();
      wsServer.close();
    },
  };
}

/** What decides what a subscriber is shown besides its operation: its role and its project (none: anonymous). */
function audienceOf(p: Principal | null): string {
  return p ? `${p.role}:${p.projectId}` : '';
}
