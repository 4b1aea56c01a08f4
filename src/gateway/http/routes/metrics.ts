/**
 * `GET /metrics`: the process's metrics in Prometheus text format. Open like `/healthz`
 * unless FLINT_METRICS_TOKEN_FILE is set; then it needs `Authorization: Bearer <token>`.
 * It shows pool names and capacities: without a token, keep the gateway's port, or this
 * path, off networks that must not see them.
 */
import { metricsAuthorized, metricsRegistry, METRICS_UNAUTHORIZED, sendMetrics } from '../../../metrics/index.js';
import { sendJson } from '../apollo-http.js';
import type { Route } from './route.js';

export function metricsRoutes(token?: string): Route[] {
  return [
    {
      match: (req, url) => url.pathname === '/metrics' && (req.method === 'GET' || req.method === 'HEAD'),
      handle: (req, res) => {
        if (!metricsAuthorized(req, token)) {
          res.setHeader('www-authenticate', 'Bearer realm="flint-metrics"');
          return sendJson(res, 401, METRICS_UNAUTHORIZED);
        }
        return sendMetrics(res, metricsRegistry());
      },
    },
  ];
}
