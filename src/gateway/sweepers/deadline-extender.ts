/**
 * Progress moves deadlines (issue 3's deadlines, for long work). A backup, restore or
 * verify of a large volume, or a migration's copy, may run far longer than
 * FLINT_OPERATION_TIMEOUT_SECONDS; while its agent reports progress on core NATS (which
 * every gateway receives: `flint.progress.agent.<host>.backup.<id>`, `….migration.<volumeId>`)
 * its operation's `deadlineAt` is pushed to now + timeout. The rule is pure
 * (`progressExtension`, src/domain/deadlines.ts); the push is one compare-and-set that at
 * most one gateway wins per `timeout / 10`, so several gateways do not fight over the row.
 * An agent that dies sends nothing, so its operation still misses its deadline and the
 * deadline sweeper fails it (backup-recovery.ts and ../outcomes/migration-steps.ts then move the
 * resource on). A report counts only from a host the database has doing that work
 * (../outcomes/senders.ts): a forged one cannot keep someone else's operation alive.
 */
import type { OperationKind, OperationResourceType } from '../../domain/operations.js';
import type { Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../config/logger.js';
import { decodeEnvelope, decodePayload, migrationProgress, senderOf, subjects, type BackupProgressReport, type Bus, type MigrationProgress } from '../../bus/index.js';
import { extendDeadline, type Db } from '../../db/index.js';
import { BACKUP_PROGRESS_KINDS, deadlineExtendThrottleMs, MIGRATION_PROGRESS_KINDS, progressExtension } from '../../domain/deadlines.js';
import type { BackupLive } from '../live/backup.js';
import { SenderCheck } from '../outcomes/senders.js';
import { backupProgressKey, migrationProgressKey } from '../../domain/operation-progress.js';
import type { ProgressBoard } from '../live/progress-board.js';

/** Pieces of work followed at most (the oldest is forgotten first; forgetting one costs at most one extra UPDATE). @default 10_000 */
export const EXTENDER_MEMORY = 10_000;

/** One progress report, whatever its source: which operation rows it may push, and how far the work is. */
export interface ProgressSignal {
  /** The work (a backup id, a migration's operation id): reports of one key are compared with each other. */
  key: string;
  /** A new phase (a backup's restore) starts its bytes from zero again. */
  phase: string;
  doneBytes: number;
  totalBytes: number;
  where: { resourceType: OperationResourceType; resourceId: string; kinds: readonly OperationKind[] };
  /** Where `Operation.progress` finds it (../live/progress-board.ts). */
  progressKey: string;
}

interface Seen {
  doneBytes: number;
  phase: string;
  /** When this gateway last tried to push the deadline (ms). */
  triedAt: number;
}

export interface DeadlineExtender {
  /** Applies one report (exposed for tests); resolves with the rows changed. */
  apply(signal: ProgressSignal, now?: Date): Promise<number>;
  stop(): void;
}

export function backupSignal(report: BackupProgressReport): ProgressSignal {
  return {
    key: `backup:${report.backupId}`,
    phase: report.phase,
    doneBytes: report.doneBytes,
    totalBytes: report.totalBytes,
    where: { resourceType: 'backup', resourceId: report.backupId, kinds: BACKUP_PROGRESS_KINDS },
    progressKey: backupProgressKey(report.backupId, report.phase),
  };
}

export function migrationSignal(report: MigrationProgress): ProgressSignal {
  return {
    key: `migration:${report.operationId}`,
    phase: 'copy',
    doneBytes: report.doneBytes,
    totalBytes: report.totalBytes,
    where: { resourceType: 'volume', resourceId: report.volumeId, kinds: MIGRATION_PROGRESS_KINDS },
    progressKey: migrationProgressKey(report.operationId),
  };
}

/** `board`: where every report (its sender checked) is also recorded, for `Operation.progress`. */
export function startDeadlineExtender(db: Db, bus: Bus, backupLive: BackupLive, log: Logger, timeoutSeconds: number, board?: ProgressBoard): DeadlineExtender {
  const seen = new Map<string, Seen>();
  const throttleMs = deadlineExtendThrottleMs(timeoutSeconds);
  const apply = async (signal: ProgressSignal, now = new Date()): Promise<number> => {
    board?.record(signal.progressKey, signal.doneBytes, signal.totalBytes);
    const last = seen.get(signal.key);
    const previous = last && last.phase === signal.phase ? last.doneBytes : undefined;
    const step = progressExtension(signal, previous, now, timeoutSeconds);
    if (!step) return 0;
    // This gateway's own throttle, before it costs a query; the compare-and-set is the shared one.
    if (last && last.phase === signal.phase && now.getTime() - last.triedAt < throttleMs) return 0;
    seen.delete(signal.key);
    seen.set(signal.key, { doneBytes: signal.doneBytes, phase: signal.phase, triedAt: now.getTime() });
    if (seen.size > EXTENDER_MEMORY) seen.delete(seen.keys().next().value!);
    const n = await extendDeadline(db.fork(), signal.where, step.to, step.onlyIfBefore);
    if (n > 0) log.debug({ work: signal.key, phase: signal.phase, doneBytes: signal.doneBytes, deadlineAt: step.to }, 'progress pushed the deadline');
    return n;
  };
  const applyLogged = (signal: ProgressSignal) => {
    apply(signal).catch((err: unknown) => log.warn({ err, work: signal.key }, 'could not push the deadline of work in progress; the next report retries'));
  };
  // Backup reports reach us through BackupLive, which checked their sender.
  const off = backupLive.onProgress((report) => applyLogged(backupSignal(report)));
  const senders = new SenderCheck(db);
  const migrations: Subscription = bus.nc.subscribe(subjects.progressOf('migration'), {
    callback: (err, msg) => {
      if (err) return;
      try {
        const report = decodePayload(decodeEnvelope(msg.data), migrationProgress);
        const sender = senderOf(msg.subject);
        void (sender?.role === 'agent' ? senders.mayReportMigration(sender.host, report.operationId, report.volumeId) : Promise.resolve(false))
          .then((ok) => (ok ? applyLogged(migrationSignal(report)) : log.warn({ subject: msg.subject, operationId: report.operationId }, 'migration progress ignored: the database has that migration on another host')))
          .catch((e: unknown) => log.warn({ err: e }, 'could not check the sender of a migration progress report'));
      } catch (e) {
        log.warn({ err: e, subject: msg.subject }, 'ignored an unreadable migration progress report');
      }
    },
  });
  return {
    apply,
    stop: () => {
      off();
      migrations.unsubscribe();
      seen.clear();
    },
  };
}
