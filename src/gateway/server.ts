/**
 * The gateway role: one HTTP port serving `/graphql` (POST for queries and mutations,
 * the graphql-ws protocol over WebSocket for subscriptions), `/healthz` and `/readyz`.
 * It also runs a replica of the event recorder and the outbox sweeper.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { GraphQLFormattedError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { PoolView, type Bus } from '../bus/index.js';
import type { FlintConfig } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import type { Db, Principal } from '../db/index.js';
import { buildFlintSchema, type Context } from '../resolvers/index.js';
import { Authenticator } from './auth.js';
import { formatError } from './errors.js';
import { BodyTooLargeError, headerMap, readBody, sendJson, writeResponse } from './http.js';
import { healthRoutes } from './routes/health.js';
import type { Route } from './routes/route.js';
import { LiveHub } from './live.js';
import { startOutboxSweeper } from './outbox.js';
import { startRecorder } from './recorder.js';
import { VolumeService } from './volume-service.js';

export interface RunningGateway {
  /** `http://host:port/graphql` */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startGateway(config: FlintConfig, bus: Bus, db: Db, log: Logger): Promise<RunningGateway> {
  const schema = await buildFlintSchema();
  const live = new LiveHub(bus);
  live.start((err) => log.warn({ err }, 'ignored an unreadable live event'));
  const pools = await PoolView.start(bus.pools, (err) => log.warn({ err }, 'ignored an unreadable pool heartbeat'));
  const volumes = new VolumeService({ config, db, bus, live, log });
  const auth = new Authenticator(db);
  const services = { volumes, db, bus, live, pools, heartbeatSeconds: config.heartbeatSeconds };
  const format = (f: GraphQLFormattedError, e: unknown) => formatError(f, e, log);

  const httpServer: Server = createServer();
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const wsCleanup = useServer<{ authorization?: string }, { principal?: Principal }>(
    {
      schema,
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.authorization;
        try {
          const principal = await auth.fromHeader(typeof header === 'string' ? header : undefined);
          if (!principal) return false;
          ctx.extra.principal = principal;
          return true;
        } catch {
          return false;
        }
      },
      context: (ctx): Context => ({ principal: ctx.extra.principal ?? null, requestId: randomUUID(), services }),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((e) => format(e.toJSON ? e.toJSON() : e, e)) } : result,
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => format(e.toJSON ? e.toJSON() : e, e)) as never,
    },
    wsServer,
  );

  const apollo = new ApolloServer<Context>({
    schema,
    formatError: format,
    includeStacktraceInErrorResponses: false,
    // The role's entry point owns SIGINT/SIGTERM; Apollo would re-raise the signal and cut the shutdown short.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      { serverWillStart: async () => ({ drainServer: async () => wsCleanup.dispose() }) },
    ],
  });
  await apollo.start();

  const routes: Route[] = [...healthRoutes(bus, db)];

  httpServer.on('request', async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    try {
      const route = routes.find((r) => r.match(req, url));
      if (route) return await route.handle(req, res, url);
      if (url.pathname !== '/graphql') return sendJson(res, 404, { error: 'not found; the API is at /graphql' });
      const body = req.method === 'POST' ? await readBody(req) : '';
      let parsed: unknown = body;
      if (body && (req.headers['content-type'] ?? '').includes('application/json')) {
        try {
          parsed = JSON.parse(body);
        } catch {
          return sendJson(res, 400, { errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_USER_INPUT' } }] });
        }
      }
      let principal: Principal | null;
      try {
        principal = await auth.fromHeader(req.headers.authorization);
      } catch (err) {
        // A token that was sent but is bad must not read as anonymous.
        return sendJson(res, 401, { errors: [{ message: (err as Error).message, extensions: { code: 'UNAUTHENTICATED' } }] });
      }
      const response = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method ?? 'GET', headers: headerMap(req), search: url.search, body: parsed },
        context: async () => ({ principal, requestId: randomUUID(), services }),
      });
      await writeResponse(res, response);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return sendJson(res, 413, { errors: [{ message: err.message, extensions: { code: 'BAD_USER_INPUT' } }] });
      log.error({ err }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal error.', extensions: { code: 'INTERNAL' } }] });
    }
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.listen.port, config.listen.host, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const recorder = await startRecorder(bus, db, live, log);
  const outbox = startOutboxSweeper(bus, db, log);
  const url = `http://${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${port}/graphql`;
  log.info({ url }, 'gateway ready');

  return {
    url,
    port,
    stop: async () => {
      outbox.stop();
      await recorder.stop();
      await apollo.stop();
      wsServer.close();
      live.stop();
      pools.stop();
    },
  };
}
