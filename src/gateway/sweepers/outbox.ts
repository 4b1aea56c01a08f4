/**
 * The outbox. A mutation commits its operation (with the command to send) first and
 * publishes after; if the gateway dies in between, or NATS is down, the sweeper
 * publishes what is still undispatched. The command's message id makes JetStream drop
 * a second copy, and agents are idempotent by operation id beyond that window.
 *
 * Each command is published on its own: one that fails (a subject no stream takes, a
 * timeout) does not hold back the others. It is tried again later, less and less often
 * (`OutboxRetries`), and meanwhile left out of the sweeps so it cannot crowd out the rest.
 */
import { publish, type Bus } from '../../bus/index.js';
import { markDispatched, undispatched, type Db, type Operation } from '../../db/index.js';
import type { Logger } from '../../config/logger.js';
import { hop } from '../../metrics/index.js';

/** Commands younger than this are left to the gateway that committed them. @default 5_000 */
export const OUTBOX_GRACE_MS = 5_000;
/** @default 2_000 */
export const OUTBOX_SWEEP_MS = 2_000;
/** Commands published at once by a sweep. @default 8 */
export const OUTBOX_CONCURRENCY = 8;
/** First wait after a failed publish; it doubles up to `OUTBOX_RETRY_MAX_MS`. @default 2_000 */
export const OUTBOX_RETRY_FIRST_MS = 2_000;
/** @default 60_000 */
export const OUTBOX_RETRY_MAX_MS = 60_000;
/** Failed commands remembered for their backoff (past this, the oldest are simply tried again). @default 1_000 */
export const OUTBOX_RETRY_MAX_TRACKED = 1_000;

export async function dispatch(bus: Bus, db: Db, op: Operation, log?: Logger): Promise<void> {
  if (!op.command) return;
  const c = op.command;
  await publish(bus, c.subject, c.kind, c.payload, c.msgId);
  if (log) hop(log, 'gateway.published', op.id);
  await markDispatched(db.fork(), op.id);
}

/**
 * Dispatches now, leaving failures to the sweeper (the caller's commit already made the
 * intent durable). Callers do not wait for it, so a NATS outage does not slow the API.
 */
export async function dispatchOrDefer(bus: Bus, db: Db, op: Operation, log: Logger): Promise<void> {
  try {
    await dispatch(bus, db, op, log);
  } catch (err) {
    log.warn({ err, operationId: op.id }, 'command not published yet; the outbox sweeper will retry');
  }
}

/** When each failed command may be tried again: exponential backoff per operation. Pure (the clock is passed in). */
export class OutboxRetries {
  private readonly failures = new Map<string, { attempts: number; nextAt: number }>();

  constructor(
    private readonly firstMs = OUTBOX_RETRY_FIRST_MS,
    private readonly maxMs = OUTBOX_RETRY_MAX_MS,
    private readonly maxTracked = OUTBOX_RETRY_MAX_TRACKED,
  ) {}

  /** Records a failure at `now`; returns the attempts so far and when the next is due. */
  failed(operationId: string, now: number): { attempts: number; nextAt: number } {
    const attempts = (this.failures.get(operationId)?.attempts ?? 0) + 1;
    const nextAt = now + Math.min(this.maxMs, this.firstMs * 2 ** Math.min(attempts - 1, 30));
    this.failures.delete(operationId);
    this.failures.set(operationId, { attempts, nextAt });
    while (this.failures.size > this.maxTracked) this.failures.delete(this.failures.keys().next().value as string);
    return { attempts, nextAt };
  }

  succeeded(operationId: string): void {
    this.failures.delete(operationId);
  }

  /** Operations still waiting for their next try at `now`. */
  waiting(now: number): string[] {
    return [...this.failures].filter(([, f]) => f.nextAt > now).map(([id]) => id);
  }
}

/** One sweep: publishes every undispatched command older than the grace, each on its own; returns how many went out. */
export async function sweepOutbox(bus: Bus, db: Db, log: Logger, retries: OutboxRetries, opts: { graceMs?: number; now?: number } = {}): Promise<number> {
  const now = opts.now ?? Date.now();
  const ops = await undispatched(db.fork(), new Date(now - (opts.graceMs ?? OUTBOX_GRACE_MS)), 100, retries.waiting(now));
  let published = 0;
  const queue = [...ops];
  const worker = async (): Promise<void> => {
    for (let op = queue.shift(); op; op = queue.shift()) {
      try {
        await dispatch(bus, db, op);
        retries.succeeded(op.id);
        published++;
        log.info({ operationId: op.id, kind: op.kind }, 'outbox: published a command left undispatched');
      } catch (err) {
        const r = retries.failed(op.id, Date.now());
        log.warn({ err, operationId: op.id, kind: op.kind, attempts: r.attempts, retryAt: new Date(r.nextAt).toISOString() }, 'outbox: a command could not be published; will retry');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(OUTBOX_CONCURRENCY, queue.length) }, worker));
  return published;
}

export function startOutboxSweeper(bus: Bus, db: Db, log: Logger, opts: { sweepMs?: number; graceMs?: number } = {}): { stop(): void } {
  let running = false;
  const retries = new OutboxRetries();
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      await sweepOutbox(bus, db, log, retries, opts.graceMs === undefined ? {} : { graceMs: opts.graceMs });
    } catch (err) {
      log.warn({ err }, 'outbox sweep failed; will retry');
    } finally {
      running = false;
    }
  }, opts.sweepMs ?? OUTBOX_SWEEP_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
