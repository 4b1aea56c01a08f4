/**
 * The small HTTP server of the roles without a port of their own (scheduler, agent):
 * `/metrics` (Prometheus text), `/healthz` (the process answers) and `/readyz` (its
 * dependencies answer), on `FLINT_METRICS_LISTEN`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../config/logger.js';
import { metricsRegistry } from './registry.js';
import { readinessProbe, type Check } from './readiness.js';
import { loadMetricsToken, metricsAuthorized, METRICS_UNAUTHORIZED } from './metrics-token.js';

export interface MetricsServerOptions {
  listen: { readonly host: string; readonly port: number };
  /** Checks `/readyz` runs, by name (e.g. `nats`, `database`). */
  checks: Record<string, Check>;
  log: Logger;
  /** @default the process registry */
  registry?: Registry;
  /** When set, `/metrics` needs `Authorization: Bearer <this>` (FLINT_METRICS_TOKEN); `/healthz` and `/readyz` never do. */
  metricsToken?: string | undefined;
}

export interface RunningMetricsServer {
  /** `http://host:port` */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Answers `/metrics` with the registry's text exposition. */
export async function sendMetrics(res: ServerResponse, registry: Registry = metricsRegistry()): Promise<void> {
  const text = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType });
  res.end(text);
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<RunningMetricsServer> {
  const registry = opts.registry ?? metricsRegistry();
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const ready = readinessProbe(opts.checks, opts.log);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'GET only' });
    if (path === '/metrics') {
      if (!metricsAuthorized(req, opts.metricsToken)) {
        res.setHeader('www-authenticate', 'Bearer realm="flint-metrics"');
        return json(res, 401, METRICS_UNAUTHORIZED);
      }
      return sendMetrics(res, registry);
    }
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const r = await ready();
      return json(res, r.status === 'ok' ? 200 : 503, r);
    }
    json(res, 404, { error: 'not found; try /metrics, /healthz or /readyz' });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.log.error({ err }, 'metrics request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
  const url = `http://${host}:${port}`;
  opts.log.info({ url }, 'metrics, health and readiness served');
  return {
    url,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Starts the metrics server when `config.metricsListen` is set; `undefined` otherwise. */
export async function serveRoleMetrics(
  config: { readonly metricsListen?: { readonly host: string; readonly port: number } | undefined; readonly metricsTokenFile?: string | undefined },
  log: Logger,
  checks: Record<string, Check>,
): Promise<RunningMetricsServer | undefined> {
  if (!config.metricsListen) return undefined;
  return startMetricsServer({ listen: config.metricsListen, checks, log, metricsToken: loadMetricsToken(config) });
}
