/**
 * Progress moves deadlines (issue 3's deadlines, for long backups). A backup, restore or
 * verify of a large volume may run far longer than FLINT_OPERATION_TIMEOUT_SECONDS; while
 * its agent reports progress (`flint.progress.backup.<id>`, core NATS, which every gateway
 * receives) its operation's `deadlineAt` is pushed to now + timeout. The rule is pure
 * (`progressExtension`, src/domain/deadlines.ts); the push is one compare-and-set that at
 * most one gateway wins per `timeout / 10`, so several gateways do not fight over the row.
 * An agent that dies sends nothing, so its operation still misses its deadline and the
 * deadline sweeper fails it (then backup-recovery.ts moves the backup on).
 */
import type { Logger } from '../config/logger.js';
import type { BackupProgressReport } from '../bus/index.js';
import { extendDeadline, type Db } from '../db/index.js';
import { deadlineExtendThrottleMs, PROGRESS_EXTENDED_KINDS, progressExtension } from '../domain/deadlines.js';
import type { BackupLive } from './backup-live.js';

/** Backups followed at most (the oldest is forgotten first; forgetting one costs at most one extra UPDATE). @default 10_000 */
export const EXTENDER_MEMORY = 10_000;

interface Seen {
  doneBytes: number;
  phase: string;
  /** When this gateway last tried to push the deadline (ms). */
  triedAt: number;
}

export interface DeadlineExtender {
  /** Applies one report (exposed for tests); resolves with the rows changed. */
  apply(report: BackupProgressReport, now?: Date): Promise<number>;
  stop(): void;
}

export function startDeadlineExtender(db: Db, backupLive: BackupLive, log: Logger, timeoutSeconds: number): DeadlineExtender {
  const seen = new Map<string, Seen>();
  const throttleMs = deadlineExtendThrottleMs(timeoutSeconds);
  const apply = async (report: BackupProgressReport, now = new Date()): Promise<number> => {
    const last = seen.get(report.backupId);
    // A new phase (the backup's restore) starts its bytes from zero again.
    const previous = last && last.phase === report.phase ? last.doneBytes : undefined;
    const step = progressExtension(report, previous, now, timeoutSeconds);
    if (!step) return 0;
    // This gateway's own throttle, before it costs a query; the compare-and-set is the shared one.
    if (last && last.phase === report.phase && now.getTime() - last.triedAt < throttleMs) return 0;
    seen.delete(report.backupId);
    seen.set(report.backupId, { doneBytes: report.doneBytes, phase: report.phase, triedAt: now.getTime() });
    if (seen.size > EXTENDER_MEMORY) seen.delete(seen.keys().next().value!);
    const n = await extendDeadline(db.fork(), { resourceType: 'backup', resourceId: report.backupId, kinds: PROGRESS_EXTENDED_KINDS }, step.to, step.onlyIfBefore);
    if (n > 0) log.debug({ backupId: report.backupId, phase: report.phase, doneBytes: report.doneBytes, deadlineAt: step.to }, 'progress pushed the deadline');
    return n;
  };
  const off = backupLive.onProgress((report) => {
    apply(report).catch((err: unknown) => log.warn({ err, backupId: report.backupId }, 'could not push the deadline of a backup in progress; the next report retries'));
  });
  return {
    apply,
    stop: () => {
      off();
      seen.clear();
    },
  };
}
