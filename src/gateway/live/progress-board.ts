/**
 * The latest progress of each piece of work in progress, as this gateway heard it, for
 * `Operation.progress`. Agents report backups, restores, verifies and migration copies on core
 * NATS, which every gateway receives (../sweepers/deadline-extender.ts feeds this board from the
 * same reports, once their sender is checked), so any gateway answers. Memory only: after a
 * gateway restart an operation shows no progress until its next report (at most a second).
 */
import { progressKey, type OperationProgress, type ProgressKeyed } from '../../domain/operation-progress.js';

/** Pieces of work remembered at most (the oldest is forgotten first). @default 10_000 */
export const PROGRESS_BOARD_SIZE = 10_000;

export class ProgressBoard {
  private readonly latest = new Map<string, { doneBytes: number; totalBytes: number }>();

  constructor(private readonly size = PROGRESS_BOARD_SIZE) {}

  /** Records a report of the work `key` (see `progressKey`). */
  record(key: string, doneBytes: number, totalBytes: number): void {
    this.latest.delete(key);
    this.latest.set(key, { doneBytes, totalBytes });
    if (this.latest.size > this.size) this.latest.delete(this.latest.keys().next().value!);
  }

  /** The progress of an operation, or null when it has none (work done at once, or no report heard yet). */
  of(op: ProgressKeyed): OperationProgress | null {
    const key = progressKey(op);
    const seen = key === null ? undefined : this.latest.get(key);
    return seen ? { bytesDone: seen.doneBytes, bytesTotal: seen.totalBytes, percent: percentOf(seen.doneBytes, seen.totalBytes) } : null;
  }
}

function percentOf(done: number, total: number): number {
  return total > 0 ? Math.min(100, Math.round((done / total) * 1000) / 10) : 0;
}
