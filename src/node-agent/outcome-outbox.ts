/**
 * The agent's outbox for the messages it decided to send. A command is acked only once its
 * outcome is published, so a failed publish leaves the command to be redelivered, and the
 * redelivery replays the recorded outcome (agent-core.ts). That alone trusts JetStream to keep
 * the command: a clustered work-queue stream can lose it across a leader change, and then the
 * work is done on disk and no one ever hears of it (the chaos suite saw a volume deleted on
 * its host stay DELETING until its deadline made it ERROR_DELETING, after a NATS node died).
 *
 * So a message whose publish failed is also kept here and published again in the background,
 * 1 s after the failure and then less often (up to 15 s), until it goes out or the agent
 * stops. Its msgId is the recorded one, so a publish that a redelivery also makes is dropped
 * by JetStream's duplicate window or applied once by the recorder's guarded transitions.
 */
import type { Logger } from '../config/index.js';
import type { Emit } from './agent-core.js';
import type { RecordedMessage } from './outcome-store.js';

/** First wait before publishing a held message again; it doubles up to `OUTBOX_RETRY_MAX_MS`. @default 1_000 */
export const OUTBOX_RETRY_FIRST_MS = 1_000;
/** @default 15_000 */
export const OUTBOX_RETRY_MAX_MS = 15_000;
/** Messages held at most; past it the oldest is dropped (its command's redelivery is then its only way out). @default 10_000 */
export const OUTBOX_MAX_HELD = 10_000;

export interface OutcomeOutboxOptions {
  firstRetryMs?: number;
  maxRetryMs?: number;
  maxHeld?: number;
}

export class OutcomeOutbox {
  /** Held messages by msgId, oldest first. */
  private readonly held = new Map<string, RecordedMessage>();
  private timer: NodeJS.Timeout | undefined;
  private waitMs: number;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  private readonly firstRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly maxHeld: number;

  constructor(
    private readonly publish: Emit,
    private readonly log: Pick<Logger, 'info' | 'warn' | 'error'>,
    opts: OutcomeOutboxOptions = {},
  ) {
    this.firstRetryMs = opts.firstRetryMs ?? OUTBOX_RETRY_FIRST_MS;
    this.maxRetryMs = opts.maxRetryMs ?? OUTBOX_RETRY_MAX_MS;
    this.maxHeld = opts.maxHeld ?? OUTBOX_MAX_HELD;
    this.waitMs = this.firstRetryMs;
  }

  /** Publishes; a failure holds the message for the background tries and still rejects (the command is not acked). */
  readonly emit: Emit = async (subject, kind, payload, msgId) => {
    try {
      await this.publish(subject, kind, payload, msgId);
    } catch (err) {
      this.hold({ subject, kind, payload, msgId });
      throw err;
    }
    // Published by a redelivery's replay first: nothing left to hold.
    this.held.delete(msgId);
  };

  /** Messages waiting to go out. */
  get size(): number {
    return this.held.size;
  }

  /** Ends the background tries; what is still held is left to its commands' redelivery. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.flushing;
    if (this.held.size > 0) this.log.warn({ held: this.held.size }, 'agent stopping with outcomes not yet published; their commands will be redelivered');
  }

  private hold(message: RecordedMessage): void {
    if (this.stopped) return;
    this.held.delete(message.msgId);
    this.held.set(message.msgId, message);
    if (this.held.size > this.maxHeld) {
      const [oldest] = this.held.keys();
      this.held.delete(oldest!);
      this.log.error({ msgId: oldest, maxHeld: this.maxHeld }, 'too many outcomes waiting to be published; dropped the oldest from the retries (its command\'s redelivery still replays it)');
    }
    if (!this.timer && !this.flushing) this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (this.held.size > 0) this.schedule();
      });
    }, this.waitMs);
    this.timer.unref();
  }

  /** Publishes the held messages in order; stops at the first failure (the bus is still away) and waits longer. */
  private async flush(): Promise<void> {
    let sent = 0;
    for (const [msgId, m] of [...this.held]) {
      if (this.stopped) return;
      try {
        await this.publish(m.subject, m.kind, m.payload, m.msgId);
      } catch {
        this.waitMs = Math.min(this.maxRetryMs, this.waitMs * 2);
        if (sent > 0) this.log.info({ sent, left: this.held.size }, 'published some held outcomes; the bus refused the next');
        return;
      }
      this.held.delete(msgId);
      sent += 1;
    }
    this.waitMs = this.firstRetryMs;
    if (sent > 0) this.log.info({ sent }, 'published the outcomes that had failed to go out');
  }
}
