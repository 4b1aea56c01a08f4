/**
 * The outbox. A mutation commits its operation (with the command to send) first and
 * publishes after; if the gateway dies in between, or NATS is down, the sweeper
 * publishes what is still undispatched. The command's message id makes JetStream drop
 * a second copy, and agents are idempotent by operation id beyond that window.
 */
import { publish, type Bus } from '../bus/index.js';
import { markDispatched, undispatched, type Db, type Operation } from '../db/index.js';
import type { Logger } from '../config/logger.js';

/** Commands younger than this are left to the gateway that committed them. @default 5_000 */
export const OUTBOX_GRACE_MS = 5_000;
/** @default 2_000 */
export const OUTBOX_SWEEP_MS = 2_000;

export async function dispatch(bus: Bus, db: Db, op: Operation): Promise<void> {
  if (!op.command) return;
  const c = op.command;
  await publish(bus, c.subject, c.kind, c.payload, c.msgId);
  await markDispatched(db.fork(), op.id);
}

/**
 * Dispatches now, leaving failures to the sweeper (the caller's commit already made the
 * intent durable). Callers do not wait for it, so a NATS outage does not slow the API.
 */
export async function dispatchOrDefer(bus: Bus, db: Db, op: Operation, log: Logger): Promise<void> {
  try {
    await dispatch(bus, db, op);
  } catch (err) {
    log.warn({ err, operationId: op.id }, 'command not published yet; the outbox sweeper will retry');
  }
}

export function startOutboxSweeper(bus: Bus, db: Db, log: Logger): { stop(): void } {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const ops = await undispatched(db.fork(), new Date(Date.now() - OUTBOX_GRACE_MS));
      for (const op of ops) {
        await dispatch(bus, db, op);
        log.info({ operationId: op.id, kind: op.kind }, 'outbox: published a command left undispatched');
      }
    } catch (err) {
      log.warn({ err }, 'outbox sweep failed; will retry');
    } finally {
      running = false;
    }
  }, OUTBOX_SWEEP_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
