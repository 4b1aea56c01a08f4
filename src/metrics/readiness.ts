/** Readiness checks of the roles' metrics servers: each answers `ok` or what is wrong. */
import type { Bus } from '../bus/index.js';
import type { Db } from '../db/index.js';

/** A named check: resolves `ok` when the dependency answers, a short reason otherwise. */
export type Check = () => Promise<string>;

/** NATS answers a round trip (flush). */
export function natsCheck(bus: Pick<Bus, 'nc'>): Check {
  return async () => (bus.nc.isClosed() ? 'closed' : bus.nc.flush().then(() => 'ok', (e: Error) => e.message));
}

/** The database answers `select 1`. */
export function databaseCheck(db: Pick<Db, 'fork'>): Check {
  return () =>
    db
      .fork()
      .execute('select 1')
      .then(() => 'ok', (e: Error) => e.message);
}

/** Runs every check; ready when all are `ok`. */
export async function runChecks(checks: Record<string, Check>): Promise<{ ok: boolean } & Record<string, string | boolean>> {
  const results = await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await check().catch((e: Error) => e.message)] as const));
  return { ok: results.every(([, r]) => r === 'ok'), ...Object.fromEntries(results) };
}
