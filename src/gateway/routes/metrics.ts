/**
 * `GET /metrics`: the process's metrics in Prometheus text format. Like `/healthz` it
 * needs no token (scrapers seldom send one); it shows pool names and capacities, so keep
 * the gateway's port, or this path, off networks that must not see them.
 */
import { metricsRegistry, sendMetrics } from '../../metrics/index.js';
import type { Route } from './route.js';

export function metricsRoutes(): Route[] {
  return [{ match: (req, url) => url.pathname === '/metrics' && (req.method === 'GET' || req.method === 'HEAD'), handle: (_req, res) => sendMetrics(res, metricsRegistry()) }];
}
