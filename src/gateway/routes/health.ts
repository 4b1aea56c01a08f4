/** `GET /healthz` (the process answers) and `GET /readyz` (database and NATS reachable). */
import type { Bus } from '../../bus/index.js';
import type { Db } from '../../db/index.js';
import { sendJson } from '../http.js';
import type { Route } from './route.js';

export function healthRoutes(bus: Bus, db: Db): Route[] {
  return [
    { match: (_req, url) => url.pathname === '/healthz', handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      match: (_req, url) => url.pathname === '/readyz',
      handle: async (_req, res) => {
        const checks = await readiness(bus, db);
        sendJson(res, checks.ok ? 200 : 503, checks);
      },
    },
  ];
}

export async function readiness(bus: Bus, db: Db): Promise<{ ok: boolean; nats: string; database: string }> {
  const nats = bus.nc.isClosed() ? 'closed' : await bus.nc.flush().then(() => 'ok', (e: Error) => e.message);
  const database = await db
    .fork()
    .execute('select 1')
    .then(() => 'ok', (e: Error) => e.message);
  return { ok: nats === 'ok' && database === 'ok', nats, database };
}
