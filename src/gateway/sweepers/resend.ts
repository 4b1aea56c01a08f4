/**
 * Sends again the commands that got no answer (the rules: src/domain/resend.ts). Every
 * gateway runs it; the round in the message id makes their copies one message. A gateway
 * remembers the round it sent for each operation, so it publishes each round once and logs
 * it once.
 *
 * A copy is no help when the consumer itself stopped delivering, which the chaos suite saw
 * on nats-server 2.9 after a node was killed: every agent's consumer led by the restarted
 * node stayed at the same stream sequence with nothing pending while the stream grew, until
 * its leadership moved. So from the second round on, the gateway also asks the leader of the
 * consumer that takes the command to step down, once per round per consumer: the new leader
 * delivers what is waiting. A healthy consumer only pauses for the election.
 */
import { agentDurable, commandHostOf, consumerStepdownSubject, publish, STREAM_CMD, type Bus } from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import { silentOperations, type Db } from '../../db/index.js';
import { RESENDABLE_KINDS, resendIntervalMs, resendRound } from '../../domain/resend.js';

/** Operations looked at per sweep at most (the next sweep takes the rest). @default 100 */
export const RESEND_BATCH = 100;

export class CommandResender {
  /** The round last sent, by operation id (bounded: an ended operation's entry ages out). */
  private readonly sent = new Map<string, number>();
  /** When each consumer was last asked to step down. */
  private readonly steppedDown = new Map<string, number>();

  constructor(
    private readonly bus: Bus,
    private readonly db: Db,
    private readonly log: Logger,
    readonly everyMs: number,
  ) {}

  /** One sweep; returns how many commands it published. */
  async sweep(now = Date.now()): Promise<number> {
    const ops = await silentOperations(this.db.fork(), new Date(now - this.everyMs), RESENDABLE_KINDS, RESEND_BATCH);
    let published = 0;
    const stalled = new Set<string>();
    for (const op of ops) {
      // Only agent commands. A scheduler command that is lost ends at its deadline: resending them
      // was backed out after two copies of one create were placed twice (which reservePlacement,
      // src/db/capacity-store.ts, now prevents), and has not been tried again.
      const host = commandHostOf(op.command!.subject);
      if (!host) continue;
      const round = resendRound(op.dispatchedAt!, now, this.everyMs);
      if (round <= (this.sent.get(op.id) ?? 0)) continue;
      const c = op.command!;
      try {
        await publish(this.bus, c.subject, c.kind, c.payload, `${c.msgId}:again:${round}`);
      } catch (err) {
        // The bus is away: the next sweep tries again.
        this.log.debug({ err, operationId: op.id }, 'could not send a command again yet');
        return published;
      }
      this.sent.delete(op.id);
      this.sent.set(op.id, round);
      if (this.sent.size > 10 * RESEND_BATCH) this.sent.delete(this.sent.keys().next().value!);
      published++;
      this.log.warn({ operationId: op.id, kind: op.kind, subject: c.subject, round, silentMs: now - op.dispatchedAt!.getTime() }, 'no answer to a command yet; sent it again (its handler is idempotent)');
      if (round >= 2) stalled.add(agentDurable(host));
    }
    for (const durable of stalled) await this.stepDown(durable, now);
    return published;
  }

  /** Asks the leader of command consumer `durable` to step down, at most once per round. */
  private async stepDown(durable: string, now: number): Promise<void> {
    if (now - (this.steppedDown.get(durable) ?? -Infinity) < this.everyMs) return;
    this.steppedDown.set(durable, now);
    try {
      const reply = await this.bus.nc.request(consumerStepdownSubject(STREAM_CMD, durable), '', { timeout: 2_000 });
      const answer = reply.json<{ success?: boolean; error?: { description?: string } }>();
      this.log.warn({ consumer: durable, success: answer.success === true, error: answer.error?.description }, 'commands to this consumer get no answer; asked its leader to step down');
    } catch (err) {
      this.log.warn({ err, consumer: durable }, 'could not ask a command consumer\'s leader to step down');
    }
  }
}

/** Sweeps every few seconds: a third of the resend interval, at most 5 s. */
export function startResendSweeper(bus: Bus, db: Db, log: Logger, timeoutSeconds: number): { stop(): void; resender: CommandResender } {
  const resender = new CommandResender(bus, db, log, resendIntervalMs(timeoutSeconds));
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      await resender.sweep();
    } catch (err) {
      log.warn({ err }, 'resend sweep failed; will retry');
    } finally {
      running = false;
    }
  }, Math.min(5_000, Math.round(resender.everyMs / 3)));
  timer.unref();
  return { stop: () => clearInterval(timer), resender };
}
