/**
 * Ends volume transfers nobody accepted in time (FLINT_TRANSFER_EXPIRY_SECONDS): EXPIRED,
 * and the volume AVAILABLE again in its project. Each transfer ends once even with several
 * gateways sweeping (the transfer's compare-and-set); acceptance checks the expiry itself,
 * so a transfer past it cannot be accepted while it waits for a sweep.
 */
import type { Logger } from '../../config/logger.js';
import { expiredTransfers, type Db } from '../../db/index.js';
import type { LivePublisher } from '../deps.js';
import { cancelTransfer } from '../mutations/transfer.js';

/** How often to look: a tenth of the expiry, from 1 s to 60 s. */
export function transferSweepMs(expirySeconds: number): number {
  return Math.min(60_000, Math.max(1_000, expirySeconds * 100));
}

/** One sweep: every transfer past its expiry, ended. Returns how many it ended. */
export async function expireTransfers(db: Db, live: LivePublisher, log: Logger, now = new Date()): Promise<number> {
  let ended = 0;
  for (const t of await expiredTransfers(db.fork(), now)) {
    const done = await db.fork().transactional((tx) => cancelTransfer(tx, t, 'expired'));
    if (!done) continue;
    ended++;
    log.info({ transferId: t.id, volumeId: t.volumeId, projectId: t.projectId }, 'volume transfer expired; the volume is AVAILABLE again');
    if (done.volume) live.publish('UPDATED', done.volume);
  }
  return ended;
}

export function startTransferExpiry(db: Db, live: LivePublisher, log: Logger, expirySeconds: number): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    expireTransfers(db, live, log)
      .catch((err: unknown) => log.warn({ err }, 'transfer expiry sweep failed; it runs again'))
      .finally(() => (running = false));
  }, transferSweepMs(expirySeconds));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
