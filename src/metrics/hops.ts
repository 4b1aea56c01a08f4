/**
 * Hops: where one operation's time goes, across the processes it passes through. At log level
 * `trace` (FLINT_LOG_LEVEL=trace) each role logs one line per hop, `{"hop": …, "operationId": …,
 * "at": …}`, with `at` in milliseconds since the epoch to the microsecond (every process on one
 * machine reads the same clock); `npm run bench` reads them back into a per-hop breakdown
 * (bench/hops.ts). At any other level a hop costs one comparison.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../config/logger.js';

/** The hops of a command's life (a publish is acknowledged after its consumer may already have the message). */
export const HOPS = [
  /** The gateway committed the operation (and the resource) in its transaction. */
  'gateway.committed',
  /** JetStream acknowledged the command. */
  'gateway.published',
  /** A scheduler took the command from the stream. */
  'scheduler.received',
  /** It reserved a pool and sent the agent its command. */
  'scheduler.placed',
  /** The agent took its command from the stream. */
  'agent.received',
  /** The agent's driver did the work, and its outcome was sent. */
  'agent.done',
  /** A gateway committed the outcome (and announced it). */
  'gateway.recorded',
] as const;
export type Hop = (typeof HOPS)[number];

/** Logs that `operationId` (or the operation the logger is bound to) passed `name`, now. */
export function hop(log: Pick<Logger, 'isLevelEnabled' | 'trace'>, name: Hop, operationId?: string): void {
  if (!log.isLevelEnabled('trace')) return;
  const at = Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
  log.trace(operationId === undefined ? { hop: name, at } : { hop: name, operationId, at }, 'hop');
}
