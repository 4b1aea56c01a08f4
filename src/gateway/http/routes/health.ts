/**
 * `GET /healthz` (the process answers) and `GET /readyz` (database and NATS reachable).
 * `/readyz` names only what is down (`{"status":"unavailable","down":["database"]}`); why
 * goes to the log (src/metrics/readiness.ts).
 */
import type { Bus } from '../../../bus/index.js';
import type { Logger } from '../../../config/logger.js';
import type { Db } from '../../../db/index.js';
import { databaseCheck, natsCheck, readinessProbe } from '../../../metrics/index.js';
import { sendJson } from '../apollo-http.js';
import type { Route } from './route.js';

export function healthRoutes(bus: Bus, db: Db, log?: Pick<Logger, 'warn' | 'info'>): Route[] {
  const ready = readinessProbe({ nats: natsCheck(bus), database: databaseCheck(db) }, log);
  return [
    { match: (_req, url) => url.pathname === '/healthz', handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      match: (_req, url) => url.pathname === '/readyz',
      handle: async (_req, res) => {
        const r = await ready();
        sendJson(res, r.status === 'ok' ? 200 : 503, r);
      },
    },
  ];
}
