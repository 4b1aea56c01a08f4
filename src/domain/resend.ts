/**
 * Commands sent again while no answer came (issue 14, found by the chaos suite): after a
 * NATS node died, JetStream acknowledged a command and its consumer then passed over it, so
 * the agent never saw it and the operation waited for its deadline. A gateway therefore
 * publishes the command of an operation still PENDING again, under a new message id, every
 * `resendIntervalMs` after it was dispatched, until an answer ends it or its deadline does.
 * Safe because an agent's handlers are idempotent by operation id and run one at a time per
 * volume: an agent that already did the work replays its recorded answer
 * (src/node-agent/agent-core.ts). Commands to the schedulers are not sent again (see
 * src/gateway/sweepers/resend.ts). Pure.
 */
import { PROGRESS_EXTENDED_KINDS } from './deadlines.js';
import { OPERATION_KINDS, type OperationKind } from './operations.js';

/**
 * Kinds whose command may be sent again. Not backups, restores and migrations: long work
 * whose progress already shows it is alive, run by job registries of their own; nor a
 * backup's delete or import, which the agent's backup engine handles outside the per-volume
 * order of the others.
 */
export const RESENDABLE_KINDS: readonly OperationKind[] = OPERATION_KINDS.filter(
  (k) => !(PROGRESS_EXTENDED_KINDS as readonly string[]).includes(k) && k !== 'delete_backup' && k !== 'import_backup',
);

/** How long after its dispatch, and then how often, a command with no answer is sent again: a quarter of the operation timeout, 5 s to 60 s. */
export function resendIntervalMs(timeoutSeconds: number): number {
  return Math.min(60_000, Math.max(5_000, Math.round((timeoutSeconds * 1000) / 4)));
}

/**
 * Which resend is due for a command dispatched at `dispatchedAt` (0: none yet). Every gateway
 * computes the same round, and its message id carries it, so the gateways' copies of one
 * round are one message to JetStream's duplicate window.
 */
export function resendRound(dispatchedAt: Date, now: number, everyMs: number): number {
  return Math.max(0, Math.floor((now - dispatchedAt.getTime()) / everyMs));
}
