/**
 * The agent's backup commands (issue 5): create_backup, restore_backup, delete_backup,
 * verify_backup and import_backup, free of NATS like AgentCore (which delegates here).
 *
 * Background work. A backup or restore may take minutes; it must not hold the consumer's
 * slot nor the volume's command lock that long. So the command handler (under the volume's
 * lock) only prepares: it checks the request, takes the temporary snapshot of an IN_USE
 * volume, records a "started" marker, starts the job and returns, and the command is
 * acked. The job then runs on its own and records, then emits, its outcome. What else can
 * reach the volume meanwhile is bounded by the API: a volume BACKING_UP or RESTORING_BACKUP
 * refuses every other action, and a forced backup reads its own temporary snapshot.
 *
 * Crashes. The "started" marker (attempt 0 in the OutcomeStore) holds the failure outcome
 * to send if the job is lost: a command redelivered to a restarted agent finds the marker
 * and no job, and sends that failure instead of starting over; the start-up reconciliation
 * (`recoverLost`) does the same for every backup the database still has CREATING or
 * RESTORING on this host. The repository stays consistent: chunks are written atomically,
 * the manifest last, and a lost backup's chunks are unreferenced until GC takes them.
 *
 * Cancellation: `delete_backup` of a backup being taken aborts its job (an AbortController
 * per backup id), waits for it to end (it emits `create.cancelled`), then deletes the
 * manifest if any and collects garbage, so nothing it wrote remains.
 */
import type { Logger } from '../config/index.js';
import {
  BACKUP_COMMAND,
  BACKUP_KIND,
  subjects,
  poolId,
  type AgentCreateBackup,
  type AgentDeleteBackup,
  type AgentImportBackup,
  type AgentRestoreBackup,
  type AgentVerifyBackup,
  type BackupFigures,
  type BackupOutcomeEvent,
  type BackupProgressReport,
  type BackupVerified,
  type ReconcileBackups,
} from '../bus/index.js';
import type { BackupEngine, BackupManifest, Progress } from './backup/index.js';
import { DriverError, type VolumeDriver } from './drivers/index.js';
import type { KeyedMutex } from './keyed-mutex.js';
import type { OutcomeStore, RecordedMessage } from './outcome-store.js';

export const BACKUP_COMMANDS = [
  BACKUP_COMMAND.createBackup,
  BACKUP_COMMAND.restoreBackup,
  BACKUP_COMMAND.deleteBackup,
  BACKUP_COMMAND.verifyBackup,
  BACKUP_COMMAND.importBackup,
] as const;
export type BackupCommand = (typeof BACKUP_COMMANDS)[number];

export interface BackupCommandPayloads {
  create_backup: AgentCreateBackup;
  restore_backup: AgentRestoreBackup;
  delete_backup: AgentDeleteBackup;
  verify_backup: AgentVerifyBackup;
  import_backup: AgentImportBackup;
}

export function isBackupCommand(command: string): command is BackupCommand {
  return (BACKUP_COMMANDS as readonly string[]).includes(command);
}

/** How often a running job reports its progress (core NATS). @default 1_000 */
export const PROGRESS_INTERVAL_MS = 1_000;

/** Attempt number of the "started" marker in the OutcomeStore (real outcomes use 1). */
const STARTED = 0;

export interface AgentBackupsOptions {
  host: string;
  drivers: ReadonlyMap<string, VolumeDriver>;
  /** null: the agent has no usable repository; every backup command fails with why. */
  engine: BackupEngine | null;
  /** Why `engine` is null, for the failure messages. */
  engineProblem?: string;
  repository: string;
  /** The repository's identity, recorded with every backup written (null: unknown). */
  repositoryId?: string | null;
  outcomes: OutcomeStore;
  emit: (subject: string, kind: string, payload: unknown, msgId: string) => Promise<void>;
  /** Publishes a progress report on core NATS (fire and forget). */
  report: (subject: string, kind: string, payload: unknown) => void;
  /** The agent's per-volume command lock (shared with AgentCore). */
  mutex: KeyedMutex;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** @default PROGRESS_INTERVAL_MS */
  progressIntervalMs?: number;
  /** Takes and removes a forced backup's temporary snapshot; default: the driver's. */
  temporarySnapshots?: TemporarySnapshots;
}

/**
 * How the temporary snapshot of a forced backup is taken and removed. The agent's attachment
 * handler gives one that goes through the process exporting the volume when it holds the
 * image (src/node-agent/attachments.ts), since qemu-img cannot then.
 */
export interface TemporarySnapshots {
  create(driver: VolumeDriver, volumeId: string, snapshotId: string): Promise<void>;
  remove(driver: VolumeDriver, volumeId: string, snapshotId: string): Promise<void>;
}

const DRIVER_SNAPSHOTS: TemporarySnapshots = {
  create: async (driver, volumeId, snapshotId) => void (await driver.createSnapshot(volumeId, snapshotId)),
  remove: (driver, volumeId, snapshotId) => driver.deleteSnapshot(volumeId, snapshotId),
};

interface Job {
  kind: 'backup' | 'restore';
  controller: AbortController;
  done: Promise<void>;
}

export class AgentBackups {
  private readonly jobs = new Map<string, Job>();
  /** Set by `stop()`: jobs aborted for the shutdown report nothing; the next start's reconciliation reports them lost. */
  private stopping = false;

  constructor(private readonly opts: AgentBackupsOptions) {}

  /** Backup ids with a job running in this process. */
  running(): string[] {
    return [...this.jobs.keys()];
  }

  /** Handles one command; resolves once its message is published (or its job started). */
  handle<C extends BackupCommand>(command: C, payload: BackupCommandPayloads[C]): Promise<void> {
    switch (command) {
      case 'create_backup':
        return this.opts.mutex.run(payload.volumeId, () => this.create(payload as AgentCreateBackup));
      case 'restore_backup':
        return this.opts.mutex.run(payload.volumeId, () => this.restore(payload as AgentRestoreBackup));
      case 'delete_backup':
        // Under the volume's lock: a create being prepared either started its job (aborted here) or sees the tombstone.
        return this.opts.mutex.run(payload.volumeId, () => this.once(payload.operationId, () => this.delete(payload as AgentDeleteBackup)));
      case 'verify_backup':
        return this.once(payload.operationId, () => this.verify(payload as AgentVerifyBackup));
      case 'import_backup':
        return this.once(payload.operationId, () => this.importBackup(payload as AgentImportBackup));
    }
    throw new Error(`unknown backup command ${String(command)}`);
  }

  /**
   * Aborts every running job and waits for them (agent shutdown). They report nothing: their
   * "started" markers stay, and the next start reports them lost (as a crash would).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const j of this.jobs.values()) j.controller.abort();
    await Promise.all([...this.jobs.values()].map((j) => j.done));
  }

  /**
   * Start-up recovery: the database has these backups CREATING or RESTORING on this host but
   * no job runs here (the agent restarted): send their failure so the backup ends ERROR and
   * the volume is usable again. Then collects garbage (what a lost backup wrote).
   */
  async recoverLost(backups: ReconcileBackups): Promise<number> {
    let n = 0;
    for (const b of backups) {
      if (!b.operationId || this.jobs.has(b.backupId)) continue;
      if (b.status !== 'creating' && b.status !== 'restoring') continue;
      const done = await this.opts.outcomes.get(b.operationId, 1);
      // Without a "started" marker the command was never taken here: it is still queued, not lost.
      const started = done ? undefined : await this.opts.outcomes.get(b.operationId, STARTED);
      if (!done && !started) continue;
      const message = (done ?? started)!;
      if (!done) await this.opts.outcomes.put(b.operationId, 1, message);
      await this.opts.emit(message.subject, message.kind, message.payload, message.msgId);
      this.opts.log.warn({ backupId: b.backupId, status: b.status }, 'backup work lost in a restart; reported as failed');
      n++;
    }
    await this.collectGarbage('start-up');
    return n;
  }

  async collectGarbage(why: string): Promise<void> {
    const engine = this.opts.engine;
    if (!engine) return;
    try {
      const r = await engine.collectGarbage();
      this.opts.log.info({ why, ...r }, 'backup repository garbage collected');
    } catch (err) {
      this.opts.log.warn({ err, why }, 'backup garbage collection failed; the next one retries');
    }
  }

  // ---- create -------------------------------------------------------------------------

  private async create(p: AgentCreateBackup): Promise<void> {
    if (await this.replayed(p.operationId)) return;
    if (this.jobs.has(p.backupId)) return; // a redelivery while the job runs: it will answer
    const lost = await this.opts.outcomes.get(p.operationId, STARTED);
    if (lost) return this.finish(p.operationId, lost); // started by an earlier process, which died
    // Deleted before it started (its delete overtook it): cancelled, nothing to do.
    if (await this.opts.outcomes.get(tombstone(p.backupId), STARTED)) return this.finish(p.operationId, this.outcome(p.operationId, p, 'create.cancelled', {}));
    const where = poolId(this.opts.host, p.pool);
    const fail = (err: unknown, refused: boolean) =>
      this.outcome(p.operationId, p, 'create.failed', {
        error: failure(
          refused,
          `Backing up volume ${p.volumeId} on ${where} failed: ${errorMessage(err)}. ` +
            (refused ? 'Check the volume (and the snapshot) still exist, then delete this backup and take another.' : 'Delete this backup and take another; if it fails again, an operator should check the agent\'s backup repository.'),
        ),
      });
    const engine = this.opts.engine;
    const driver = this.opts.drivers.get(p.pool);
    if (!engine || !driver) {
      return this.finish(p.operationId, fail(new DriverError(!engine ? this.noEngine() : `pool ${p.pool} is not configured on host ${this.opts.host}`), true));
    }
    const tempSnapshot = p.temporarySnapshot ? temporarySnapshotId(p.backupId) : undefined;
    let source;
    let parent: BackupManifest | null = null;
    try {
      if (tempSnapshot) await (this.opts.temporarySnapshots ?? DRIVER_SNAPSHOTS).create(driver, p.volumeId, tempSnapshot);
      source = await driver.imageSource(p.volumeId, p.snapshotId ?? tempSnapshot);
      if (p.parentId) parent = await engine.manifest(p.parentId);
    } catch (err) {
      this.opts.log.error({ err, backupId: p.backupId, volumeId: p.volumeId }, 'backup could not start');
      if (tempSnapshot) await this.dropTemporary(driver, p.volumeId, tempSnapshot);
      return this.finish(p.operationId, fail(err, err instanceof DriverError && !err.retryable));
    }
    await this.opts.outcomes.put(
      p.operationId,
      STARTED,
      this.outcome(p.operationId, p, 'create.failed', { error: { code: 'INTERNAL', message: lostMessage('backup', this.opts.host) } }),
    );
    const src = source;
    // Dirty bitmaps describe the volume's current bytes, and only while no other process can
    // write them unseen: an AVAILABLE volume (now BACKING_UP). Not a snapshot, not a forced
    // backup of an IN_USE volume (it reads its temporary snapshot).
    const trackChanges = p.snapshotId === undefined && !tempSnapshot;
    if (!trackChanges && parent) {
      const reason = tempSnapshot ? 'a forced backup of an in-use volume reads a temporary snapshot, which no bitmap describes' : `the backup reads snapshot ${p.snapshotId}, which no bitmap describes`;
      this.opts.log.info({ backupId: p.backupId, volumeId: p.volumeId, parentId: parent.backupId, reason }, `${reason}: reading all allocated chunks`);
    }
    this.start(p.backupId, 'backup', async (signal, onProgress) => {
      const started = Date.now();
      let message: RecordedMessage;
      try {
        const m = await engine.backup({ backupId: p.backupId, volumeId: p.volumeId, source: src, parent, trackChanges, log: this.opts.log, signal, onProgress });
        message = this.outcome(p.operationId, p, 'create.succeeded', { figures: figuresOf(m), repository: this.opts.repository, ...this.repositoryIdField() });
        this.opts.log.info(
          { backupId: p.backupId, volumeId: p.volumeId, ms: Date.now() - started, changeTracking: m.changeTracking, readBytes: m.readBytes, storedBytes: m.storedBytes, dedupBytes: m.dedupBytes },
          'backup taken',
        );
      } catch (err) {
        if (signal.aborted && this.stopping) {
          this.opts.log.warn({ backupId: p.backupId }, 'backup interrupted by the agent\'s shutdown; the next start reports it lost');
          return;
        } else if (signal.aborted) {
          message = this.outcome(p.operationId, p, 'create.cancelled', {});
          this.opts.log.info({ backupId: p.backupId }, 'backup cancelled');
        } else {
          this.opts.log.error({ err, backupId: p.backupId }, 'backup failed');
          message = fail(err, false);
        }
      } finally {
        if (tempSnapshot) await this.opts.mutex.run(p.volumeId, () => this.dropTemporary(driver, p.volumeId, tempSnapshot));
      }
      await this.finish(p.operationId, message);
    });
  }

  private async dropTemporary(driver: VolumeDriver, volumeId: string, snapshotId: string): Promise<void> {
    try {
      await (this.opts.temporarySnapshots ?? DRIVER_SNAPSHOTS).remove(driver, volumeId, snapshotId);
    } catch (err) {
      this.opts.log.error({ err, volumeId, snapshotId }, 'could not remove the temporary snapshot of a backup; remove it by hand');
    }
  }

  // ---- restore ------------------------------------------------------------------------

  private async restore(p: AgentRestoreBackup): Promise<void> {
    if (await this.replayed(p.operationId)) return;
    if (this.jobs.has(p.backupId)) return;
    const lost = await this.opts.outcomes.get(p.operationId, STARTED);
    if (lost) return this.finish(p.operationId, lost);
    const where = poolId(this.opts.host, p.pool);
    const fail = (err: unknown, refused: boolean) =>
      this.outcome(p.operationId, p, 'restore.failed', {
        targetVolumeId: p.volumeId,
        error: failure(
          refused,
          `Restoring backup ${p.backupId} into volume ${p.volumeId} on ${where} failed: ${errorMessage(err)}. ` +
            'The volume may hold part of the backup, so it is ERROR_RESTORING: delete it, or restore into it again once the cause is fixed ' +
            '(verifyBackup tells whether the backup is intact).',
        ),
      });
    const engine = this.opts.engine;
    const driver = this.opts.drivers.get(p.pool);
    if (!engine || !driver) {
      return this.finish(p.operationId, fail(new DriverError(!engine ? this.noEngine() : `pool ${p.pool} is not configured on host ${this.opts.host}`), true));
    }
    let manifest: BackupManifest | null;
    let target;
    try {
      manifest = await engine.manifest(p.backupId);
      if (!manifest) throw new DriverError(`the repository ${this.opts.repository} has no backup ${p.backupId}`, { retryable: false });
      target = await driver.imageSource(p.volumeId);
      if (target.sizeBytes < manifest.sizeBytes) {
        throw new DriverError(`the volume holds ${target.sizeBytes} bytes, the backup ${manifest.sizeBytes}`, { retryable: false });
      }
    } catch (err) {
      return this.finish(p.operationId, fail(err, err instanceof DriverError && !err.retryable));
    }
    await this.opts.outcomes.put(
      p.operationId,
      STARTED,
      this.outcome(p.operationId, p, 'restore.failed', {
        targetVolumeId: p.volumeId,
        error: { code: 'INTERNAL', message: lostMessage('restore', this.opts.host) },
      }),
    );
    const m = manifest;
    const t = target;
    this.start(p.backupId, 'restore', async (signal, onProgress) => {
      let message: RecordedMessage;
      try {
        await engine.restore({ manifest: m, target: t, signal, onProgress });
        message = this.outcome(p.operationId, p, 'restore.succeeded', { targetVolumeId: p.volumeId });
        this.opts.log.info({ backupId: p.backupId, volumeId: p.volumeId }, 'backup restored');
      } catch (err) {
        if (signal.aborted && this.stopping) {
          this.opts.log.warn({ backupId: p.backupId }, 'restore interrupted by the agent\'s shutdown; the next start reports it lost');
          return;
        }
        this.opts.log.error({ err, backupId: p.backupId, volumeId: p.volumeId }, 'restore failed');
        message = fail(err, false);
      }
      await this.finish(p.operationId, message);
    });
  }

  // ---- delete, verify, import ---------------------------------------------------------

  private async delete(p: AgentDeleteBackup): Promise<RecordedMessage> {
    // A create of this backup that comes later must not start it.
    await this.opts.outcomes.put(tombstone(p.backupId), STARTED, { subject: '', kind: 'backup.deleted', payload: { backupId: p.backupId }, msgId: '' });
    const job = this.jobs.get(p.backupId);
    if (job) {
      // Deleting a backup being taken cancels it; its job reports `create.cancelled`.
      job.controller.abort();
      await job.done;
    }
    const engine = this.opts.engine;
    try {
      if (!engine) throw new DriverError(this.noEngine());
      await engine.deleteManifest(p.backupId);
      const gc = await engine.collectGarbage();
      this.opts.log.info({ backupId: p.backupId, ...gc }, 'backup deleted');
      return this.outcome(p.operationId, p, 'delete.succeeded', {});
    } catch (err) {
      this.opts.log.error({ err, backupId: p.backupId }, 'backup delete failed');
      return this.outcome(p.operationId, p, 'delete.failed', {
        error: failure(false, `Deleting backup ${p.backupId} from ${this.opts.repository} failed: ${errorMessage(err)}. Delete it again; if it fails again, an operator should check the repository.`),
      });
    }
  }

  private async verify(p: AgentVerifyBackup): Promise<RecordedMessage> {
    const engine = this.opts.engine;
    let payload: BackupVerified;
    try {
      if (!engine) throw new DriverError(this.noEngine());
      // A long verify reports progress like a backup, which keeps its operation's deadline moving.
      const progress = this.progressReporter(p.backupId, 'verify');
      const r = await engine.verify(p.backupId, undefined, progress.update).finally(progress.stop);
      payload = r.ok
        ? { operationId: p.operationId, backupId: p.backupId, outcome: 'verify.succeeded', chunks: r.chunks }
        : {
            operationId: p.operationId,
            backupId: p.backupId,
            outcome: 'verify.failed',
            chunks: r.chunks,
            problem: r.problem,
            error: {
              code: 'INTERNAL',
              message:
                `Backup ${p.backupId} is damaged: chunk ${r.problem.hash} (volume offset ${r.problem.offset}) ${r.problem.reason}. ` +
                'A restore of it would fail; take a new backup of the volume, and have an operator check the repository.',
            },
          };
    } catch (err) {
      payload = {
        operationId: p.operationId,
        backupId: p.backupId,
        outcome: 'verify.failed',
        chunks: 0,
        error: { code: 'INTERNAL', message: `Backup ${p.backupId} could not be verified: ${errorMessage(err)}.` },
      };
    }
    this.opts.log.info({ backupId: p.backupId, outcome: payload.outcome, problem: payload.problem }, 'backup verified');
    return { subject: subjects.agentEvent(this.opts.host, 'backup', p.backupId), kind: BACKUP_KIND.backupVerified, payload, msgId: `${p.operationId}:${payload.outcome}` };
  }

  private async importBackup(p: AgentImportBackup): Promise<RecordedMessage> {
    const engine = this.opts.engine;
    try {
      if (!engine) throw new DriverError(this.noEngine());
      const m = await engine.manifest(p.backupId);
      if (!m) throw new DriverError(`the repository ${this.opts.repository} has no manifest of backup ${p.backupId}`);
      if (m.volumeId !== p.volumeId) throw new DriverError(`the repository's backup ${p.backupId} is of volume ${m.volumeId}, not ${p.volumeId}`);
      const r = await engine.verify(p.backupId);
      if (!r.ok) throw new DriverError(`chunk ${r.problem.hash} (volume offset ${r.problem.offset}) ${r.problem.reason}`);
      return this.outcome(p.operationId, p, 'import.succeeded', { figures: figuresOf(m), repository: this.opts.repository, ...this.repositoryIdField() });
    } catch (err) {
      return this.outcome(p.operationId, p, 'import.failed', {
        error: failure(true, `Backup ${p.backupId} cannot be imported: ${errorMessage(err)}. Import it into a Flint whose agents use the repository that holds it.`),
      });
    }
  }

  // ---- plumbing -----------------------------------------------------------------------

  /** Runs `work` for a command handled inline: replays a recorded answer, else records and emits the new one. */
  private async once(operationId: string, work: () => Promise<RecordedMessage>): Promise<void> {
    if (await this.replayed(operationId)) return;
    await this.finish(operationId, await work());
  }

  private async replayed(operationId: string): Promise<boolean> {
    const recorded = await this.opts.outcomes.get(operationId, 1);
    if (!recorded) return false;
    await this.opts.emit(recorded.subject, recorded.kind, recorded.payload, recorded.msgId);
    return true;
  }

  /** Records the outcome, then emits it (AgentCore's rule). */
  private async finish(operationId: string, message: RecordedMessage): Promise<void> {
    await this.opts.outcomes.put(operationId, 1, message);
    await this.opts.emit(message.subject, message.kind, message.payload, message.msgId);
  }

  /** Reports `phase` progress of `backupId` every interval, with the latest figures given to `update`, until `stop`. */
  private progressReporter(backupId: string, phase: BackupProgressReport['phase']): { update: (p: Progress) => void; stop: () => void } {
    const startedAt = new Date().toISOString();
    let last: Progress | undefined;
    const send = () => {
      if (!last) return;
      const report: BackupProgressReport = { backupId, phase, doneBytes: last.doneBytes, totalBytes: last.totalBytes, at: new Date().toISOString(), startedAt };
      this.opts.report(subjects.agentProgress(this.opts.host, 'backup', backupId), BACKUP_KIND.backupProgress, report);
    };
    const timer = setInterval(send, this.opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS);
    timer.unref();
    return {
      update: (p) => {
        last = p;
      },
      stop: () => clearInterval(timer),
    };
  }

  /** Starts a background job with its abort controller and a progress report every interval. */
  private start(backupId: string, kind: Job['kind'], work: (signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<void>): void {
    const controller = new AbortController();
    const progress = this.progressReporter(backupId, kind);
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

  private outcome(
    operationId: string,
    p: { backupId: string; volumeId: string },
    outcome: BackupOutcomeEvent['outcome'],
    rest: Omit<BackupOutcomeEvent, 'operationId' | 'backupId' | 'volumeId' | 'outcome'>,
  ): RecordedMessage {
    const payload: BackupOutcomeEvent = { operationId, backupId: p.backupId, volumeId: p.volumeId, outcome, ...rest };
    return { subject: subjects.agentEvent(this.opts.host, 'backup', p.backupId), kind: BACKUP_KIND.backupOutcome, payload, msgId: `${operationId}:${outcome}` };
  }

  private repositoryIdField(): { repositoryId?: string } {
    return this.opts.repositoryId ? { repositoryId: this.opts.repositoryId } : {};
  }

  private noEngine(): string {
    return `host ${this.opts.host} has no usable backup repository (${this.opts.engineProblem ?? this.opts.repository})`;
  }
}

/** The OutcomeStore key that says a backup was deleted on this agent. */
function tombstone(backupId: string): string {
  return `deleted-backup-${backupId}`;
}

/** Name of the temporary snapshot a forced backup of an IN_USE volume reads. */
export function temporarySnapshotId(backupId: string): string {
  return `backup-${backupId}`;
}

function figuresOf(m: BackupManifest): BackupFigures {
  return {
    sizeBytes: m.sizeBytes,
    chunkSize: m.chunkSize,
    chunkCount: m.entries.length,
    sha256: m.sha256,
    codec: m.codec,
    parentId: m.parentId,
    dataBytes: m.dataBytes,
    storedBytes: m.storedBytes,
    dedupBytes: m.dedupBytes,
    durationMs: m.durationMs,
    ...(m.changeTracking === undefined ? {} : { changeTracking: m.changeTracking }),
    ...(m.readBytes === undefined ? {} : { readBytes: m.readBytes }),
  };
}

function lostMessage(what: 'backup' | 'restore', host: string): string {
  return what === 'backup'
    ? `The agent on ${host} stopped while it took this backup, so the backup is incomplete (ERROR). Delete it and take another; the volume is usable.`
    : `The agent on ${host} stopped while it restored this backup, so the volume holds part of it (ERROR_RESTORING). Restore into it again, or delete it.`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function failure(refused: boolean, message: string): { code: string; message: string } {
  return { code: refused ? 'BAD_USER_INPUT' : 'INTERNAL', message };
}
