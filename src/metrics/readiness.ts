/**
 * Readiness checks (`/readyz` of every role). The answer names only what is down —
 * `{"status":"unavailable","down":["database"]}` — never an error's text, which can
 * carry hosts, users or paths; the reasons go to the log, when a check changes.
 */
import type { Bus } from '../bus/index.js';
import type { Logger } from '../config/logger.js';
import type { Db } from '../db/index.js';

/** A named check: resolves `ok` when the dependency answers, a reason (for the log only) otherwise. */
export type Check = () => Promise<string>;

/** What `/readyz` answers (HTTP 200 when `ok`, 503 otherwise). */
export interface Readiness {
  status: 'ok' | 'unavailable';
  /** Names of the checks that failed, sorted; empty when ready. */
  down: string[];
}

/** NATS answers a round trip (flush). */
export function natsCheck(bus: Pick<Bus, 'nc'>): Check {
  return async () => (bus.nc.isClosed() ? 'the connection is closed' : bus.nc.flush().then(() => 'ok', (e: Error) => e.message));
}

/** The database answers `select 1`. */
export function databaseCheck(db: Pick<Db, 'fork'>): Check {
  return () =>
    db
      .fork()
      .execute('select 1')
      .then(() => 'ok', (e: Error) => e.message);
}

/**
 * A readiness probe over `checks`. Each failure's reason is logged (warn) when it starts
 * or changes, and the recovery (info), not on every probe.
 */
export function readinessProbe(checks: Record<string, Check>, log?: Pick<Logger, 'warn' | 'info'>): () => Promise<Readiness> {
  const last = new Map<string, string>();
  return async () => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => [name, await check().catch((e: unknown) => (e instanceof Error ? e.message : String(e)) || 'failed')] as const),
    );
    for (const [name, r] of results) {
      const before = last.get(name) ?? 'ok';
      if (r !== before) {
        if (r === 'ok') log?.info({ check: name }, 'readiness: dependency is back');
        else log?.warn({ check: name, reason: r }, 'readiness: dependency is down');
      }
      last.set(name, r);
    }
    const down = results.filter(([, r]) => r !== 'ok').map(([name]) => name).sort();
    return { status: down.length ? 'unavailable' : 'ok', down };
  };
}
