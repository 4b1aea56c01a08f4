/**
 * Keeps the change feed's log to its retention (FLINT_CHANGE_RETENTION_SECONDS): deletes the
 * events older than that and records per project the latest seq deleted, below which a
 * subscription's `sinceSeq` is RESYNC_REQUIRED. Several gateways may sweep at once: each
 * delete takes only what is past the cutoff, and the recorded seq only grows.
 */
import type { Logger } from '../../config/logger.js';
import { pruneChangeEvents, type Db } from '../../db/index.js';

/** How often to sweep: a tenth of the retention, from 10 s to 10 minutes. */
export function changeRetentionSweepMs(retentionSeconds: number): number {
  return Math.min(600_000, Math.max(10_000, retentionSeconds * 100));
}

/** One sweep: the events older than `retentionSeconds` before `now`, deleted. Returns how many. */
export async function sweepChangeEvents(db: Db, retentionSeconds: number, now = new Date()): Promise<number> {
  return pruneChangeEvents(db.fork(), new Date(now.getTime() - retentionSeconds * 1000));
}

export function startChangeRetention(db: Db, log: Logger, retentionSeconds: number): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepChangeEvents(db, retentionSeconds)
      .then((n) => n > 0 && log.debug({ deleted: n }, 'change feed events past their retention deleted'))
      .catch((err: unknown) => log.warn({ err }, 'change feed retention sweep failed; it runs again'))
      .finally(() => (running = false));
  }, changeRetentionSweepMs(retentionSeconds));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
