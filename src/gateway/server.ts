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
import { execute, type GraphQLFormattedError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { PoolView, withRequestId, type Bus } from '../bus/index.js';
import type { FlintConfig } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import { loadSecretBox } from '../config/secret-key.js';
import { capacity, type Db, type Principal } from '../db/index.js';
import { graphqlObservability, loadMetricsToken, poolSourceFrom, requestIdFrom, setPoolSource } from '../metrics/index.js';
import { buildFlintSchema, type Context } from '../resolvers/index.js';
import { authRefusal } from './auth.js';
import { startTokenSecurity } from './token-security.js';
import { formatError } from './errors.js';
import { BodyTooLargeError, headerMap, readBody, sendJson, writeResponse } from './http.js';
import { ClusterFeed } from './cluster-feed.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { healthRoutes } from './routes/health.js';
import { ideRoutes, introspectionPlugin, wsValidate } from './routes/ide.js';
import { metricsRoutes } from './routes/metrics.js';
import type { Route } from './routes/route.js';
import { LiveHub } from './live.js';
import { startOutboxSweeper } from './outbox.js';
import { stampOperationDeadlines, startDeadlineSweeper } from './deadline-sweeper.js';
import { startDeadlineExtender } from './deadline-extender.js';
import { startReconcileResponder } from './reconcile-responder.js';
import { startRecorder } from './recorder.js';
import { SnapshotService } from './snapshot-service.js';
import { AdminService } from './admin-service.js';
import { ManageService } from './manage-service.js';
import { VolumeService } from './volume-service.js';
import { MigrationService } from './volume-migration.js';
import { sealLegacyChapSecrets } from './attachment-secrets.js';
import { AttachmentService } from './attachment-service.js';
import { BackupLive } from './backup-live.js';
import { startBackupRecovery } from './backup-recovery.js';
import { BackupService } from './backup-service.js';

export interface RunningGateway {
  /** `http://host:port/graphql` */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startGateway(config: FlintConfig, bus: Bus, db: Db, log: Logger): Promise<RunningGateway> {
  // Missing or bad key: a ConfigError before anything starts (src/config/secret-key.ts).
  const secrets = loadSecretBox(config);
  await sealLegacyChapSecrets(db, secrets, log);
  const schema = await buildFlintSchema();
  const live = new LiveHub(bus, db);
  // Every operation created with a command gets its deadline (src/gateway/deadline-sweeper.ts).
  stampOperationDeadlines(db, config.operationTimeoutSeconds);
  live.start((err) => log.warn({ err }, 'ignored an unreadable live event'));
  const pools = await PoolView.start(bus.pools, (err) => log.warn({ err }, 'ignored an unreadable pool heartbeat'));
  const volumes = new VolumeService({ config, db, bus, live, log });
  const snapshots = new SnapshotService({ config, db, bus, live, log });
  const admin = new AdminService({ config, db, bus, live, log });
  const migration = new MigrationService({ config, db, bus, live, log, pools });
  const attachments = new AttachmentService({ config, db, bus, live, log, pools }, secrets);
  const backupLive = new BackupLive(bus, db);
  backupLive.start((err) => log.warn({ err }, 'ignored an unreadable backup event'));
  const backups = new BackupService({ config, db, bus, live, log, backupLive, volumes, pools });
  const manage = new ManageService({ config, db, bus, live, log, pools, heartbeatSeconds: config.heartbeatSeconds });
  const tokens = startTokenSecurity(bus, db, log);
  const auth = tokens.auth;
  const cluster = await ClusterFeed.start({
    bus,
    db,
    pools,
    heartbeatSeconds: config.heartbeatSeconds,
    onError: (err) => log.warn({ err }, 'dashboard feed error'),
  });
  const services = { volumes, snapshots, attachments, admin, migration, backups, manage, tokens: tokens.service, db, bus, live, pools, heartbeatSeconds: config.heartbeatSeconds, cluster };
  const obs = graphqlObservability<Context>(log);
  const stopPoolGauge = setPoolSource(poolSourceFrom(() => pools.list(), () => capacity.allocations(db.fork())));
  const format = (f: GraphQLFormattedError, e: unknown) => obs.countError(formatError(f, e, log));

  const httpServer: Server = createServer();
  // Idle keep-alive sockets stay open longer than clients keep them (undici: 4 s, browsers and
  // load balancers: up to 60 s), so the client always closes first: a server closing an idle
  // socket while a request is on its way makes that request fail with ECONNRESET.
  httpServer.keepAliveTimeout = 75_000;
  httpServer.headersTimeout = 76_000;
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const wsCleanup = useServer<{ authorization?: string }, { principal?: Principal }>(
    {
      schema,
      validate: wsValidate(config.introspection),
      // Also tracks the socket, to close it when its token is revoked or expires (src/gateway/token-guard.ts).
      onConnect: (ctx) => tokens.guard.onConnect(ctx),
      context: (ctx): Context => ({ principal: ctx.extra.principal ?? null, requestId: randomUUID(), services }),
      // What a WebSocket mutation publishes carries its request id, as over HTTP.
      execute: (args) => withRequestId((args.contextValue as Context).requestId, () => execute(args)),
      onOperation: (ctx, id, _payload, args, result) => obs.wsOperation(ctx, id, args, result),
      onComplete: (ctx, id) => obs.wsComplete(ctx, id),
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
    // FLINT_INTROSPECTION=false: nobody; otherwise callers with a token (introspectionPlugin).
    introspection: config.introspection,
    // The role's entry point owns SIGINT/SIGTERM; Apollo would re-raise the signal and cut the shutdown short.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      introspectionPlugin(),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      obs.plugin,
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
      const body = req.method === 'POST' ? await readBody(req) : '';
      let parsed: unknown = body;
      if (body && (req.headers['content-type'] ?? '').includes('application/json')) {
        try {
          parsed = JSON.parse(body);
        } catch {
          obs.rejected(requestId, 'BAD_USER_INPUT', 400);
          return sendJson(res, 400, { errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_USER_INPUT' } }] });
        }
      }
      let principal: Principal | null;
      try {
        principal = await auth.fromHeader(req.headers.authorization);
      } catch (err) {
        // 401 for a refused token; 503 when it cannot be checked, so clients keep a good token.
        const refusal = authRefusal(err);
        obs.rejected(requestId, refusal.code, refusal.status);
        for (const [k, v] of Object.entries(refusal.headers)) res.setHeader(k, v);
        return sendJson(res, refusal.status, { errors: [{ message: refusal.message, extensions: { code: refusal.code } }] });
      }
      // Commands a mutation publishes (however deep) carry the request id on.
      const response = await withRequestId(requestId, () =>
        apollo.executeHTTPGraphQLRequest({
          httpGraphQLRequest: { method: req.method ?? 'GET', headers: headerMap(req), search: url.search, body: parsed },
          context: async () => ({ principal, requestId, services }),
        }),
      );
      await writeResponse(res, response);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        obs.rejected(requestId, 'BAD_USER_INPUT', 413);
        return sendJson(res, 413, { errors: [{ message: err.message, extensions: { code: 'BAD_USER_INPUT' } }] });
      }
      log.error({ err }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal error.', extensions: { code: 'INTERNAL' } }] });
    }
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.listen.port, config.listen.host, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const recorder = await startRecorder(bus, db, live, log, backupLive);
  const backupRecovery = startBackupRecovery(bus, db, live, backupLive, log);
  const outbox = startOutboxSweeper(bus, db, log);
  const deadlines = startDeadlineSweeper(db, live, log, config.operationTimeoutSeconds, bus);
  // Backup and migration progress push their operations' deadlines (src/gateway/deadline-extender.ts).
  const extender = startDeadlineExtender(db, bus, backupLive, log, config.operationTimeoutSeconds);
  const reconcile = startReconcileResponder(bus, db, log, secrets);
  const url = `http://${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${port}/graphql`;
  log.info({ url }, 'gateway ready');

  return {
    url,
    port,
    stop: async () => {
      outbox.stop();
      await tokens.stop();
      deadlines.stop();
      extender.stop();
      backupRecovery.stop();
      reconcile.stop();
      await recorder.stop();
      await apollo.stop();
      wsServer.close();
      live.stop();
      backupLive.stop();
      pools.stop();
      stopPoolGauge();
      cluster.stop();
    },
  };
}
