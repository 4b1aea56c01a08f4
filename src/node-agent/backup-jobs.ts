/**
 * The agent's running backup and restore jobs: each with its AbortController, reporting
 * its progress every interval (core NATS) until it ends; and the progress reporter that a
 * long verify uses too.
 */
import { BACKUP_KIND, subjects, type BackupProgressReport } from '../bus/index.js';
import type { Progress } from './backup/index.js';
import { PROGRESS_INTERVAL_MS, type AgentBackupsOptions } from './backup-commands.js';

type ReporterOptions = Pick<AgentBackupsOptions, 'host' | 'report' | 'progressIntervalMs'>;

/** Reports `phase` progress of `backupId` every interval, with the latest figures given to `update`, until `stop`. */
export function progressReporter(
  opts: ReporterOptions,
  backupId: string,
  phase: BackupProgressReport['phase'],
): { update: (p: Progress) => void; stop: () => void } {
  const startedAt = new Date().toISOString();
  let last: Progress | undefined;
  const send = () => {
    if (!last) return;
    const report: BackupProgressReport = { backupId, phase, doneBytes: last.doneBytes, totalBytes: last.totalBytes, at: new Date().toISOString(), startedAt };
    opts.report(subjects.agentProgress(opts.host, 'backup', backupId), BACKUP_KIND.backupProgress, report);
  };
  const timer = setInterval(send, opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS);
  timer.unref();
  return {
    update: (p) => {
      last = p;
    },
    stop: () => clearInterval(timer),
  };
}

export interface Job {
  kind: 'backup' | 'restore';
  controller: AbortController;
  done: Promise<void>;
}

/** The jobs running in this process, by backup id. */
export class BackupJobs {
  private readonly jobs = new Map<string, Job>();

  constructor(private readonly opts: ReporterOptions & Pick<AgentBackupsOptions, 'log'>) {}

  /** Backup ids with a job running. */
  ids(): string[] {
    return [...this.jobs.keys()];
  }

  has(backupId: string): boolean {
    return this.jobs.has(backupId);
  }

  get(backupId: string): Job | undefined {
    return this.jobs.get(backupId);
  }

  /** Aborts every running job and waits for them. */
  async abortAll(): Promise<void> {
    for (const j of this.jobs.values()) j.controller.abort();
    await Promise.all([...this.jobs.values()].map((j) => j.done));
  }

  /** Starts a background job with its abort controller and a progress report every interval. */
  start(backupId: string, kind: Job['kind'], work: (signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<void>): void {
    const controller = new AbortController();
    const progress = progressReporter(this.opts, backupId, kind);
    const done = (async () => {
      try {
        await work(controller.signal, progress.update);
      } catch (err) {
        this.opts.log.error({ err, backupId }, 'backup job could not report its outcome; the start-up reconciliation will');
      } finally {
        progress.stop();
        this.jobs.delete(backupId);
      }
    })();
    this.jobs.set(backupId, { kind, controller, done });
  }
}
