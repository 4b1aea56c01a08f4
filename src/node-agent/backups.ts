/**
 * The agent's backup commands (issue 5), free of NATS like AgentCore (which delegates here):
 * `AgentBackups` takes create_backup, restore_backup and delete_backup here, and verify_backup
 * and import_backup in backup-verify.ts. Their names, payloads and options are in
 * backup-commands.ts, the messages they send in backup-outcomes.ts, the job registry in
 * backup-jobs.ts.
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
import {
  poolId,
  type AgentCreateBackup,
  type AgentDeleteBackup,
  type AgentImportBackup,
  type AgentRestoreBackup,
  type AgentVerifyBackup,
  type ReconcileBackups,
} from '../bus/index.js';
import type { BackupManifest } from './backup/index.js';
import type { AgentBackupsOptions, BackupCommand, BackupCommandPayloads, TemporarySnapshots } from './backup-commands.js';
import { BackupJobs } from './backup-jobs.js';
import { backupOutcome, figuresOf, lostMessage, noEngineMessage, repositoryIdField, STARTED, temporarySnapshotId, tombstone } from './backup-outcomes.js';
import { importBackup, verifyBackup } from './backup-verify.js';
import { DriverError, type VolumeDriver } from './drivers/index.js';
import { errorMessage, failure } from './outcome-errors.js';
import type { RecordedMessage } from './outcome-store.js';

const DRIVER_SNAPSHOTS: TemporarySnapshots = {
  create: async (driver, volumeId, snapshotId) => void (await driver.createSnapshot(volumeId, snapshotId)),
  remove: (driver, volumeId, snapshotId) => driver.deleteSnapshot(volumeId, snapshotId),
};


/** Between tries to emit a job's outcome: doubling from the first to the most. */
export const EMIT_RETRY_FIRST_MS = 250;
export const EMIT_RETRY_MAX_MS = 5_000;
export class AgentBackups {
  private readonly jobs: BackupJobs;
  /** Set by `stop()`: jobs aborted for the shutdown report nothing; the next start's reconciliation reports them lost. */
  private stopping = false;

  constructor(private readonly opts: AgentBackupsOptions) {
    this.jobs = new BackupJobs(opts);
  }

  /** Backup ids with a job running in this process. */
  running(): string[] {
    return this.jobs.ids();
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
        return this.once(payload.operationId, () => verifyBackup(this.opts, payload as AgentVerifyBackup));
      case 'import_backup':
        return this.once(payload.operationId, () => importBackup(this.opts, payload as AgentImportBackup));
    }
    throw new Error(`unknown backup command ${String(command)}`);
  }

  /**
   * Aborts every running job and waits for them (agent shutdown). They report nothing: their
   * "started" markers stay, and the next start reports them lost (as a crash would).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.jobs.abortAll();
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
    if (await this.opts.outcomes.get(tombstone(p.backupId), STARTED)) return this.finish(p.operationId, backupOutcome(this.opts.host, p.operationId, p, 'create.cancelled', {}));
    const where = poolId(this.opts.host, p.pool);
    const fail = (err: unknown, refused: boolean) =>
      backupOutcome(this.opts.host, p.operationId, p, 'create.failed', {
        error: failure(
          refused,
          `Backing up volume ${p.volumeId} on ${where} failed: ${errorMessage(err)}. ` +
            (refused ? 'Check the volume (and the snapshot) still exist, then delete this backup and take another.' : 'Delete this backup and take another; if it fails again, an operator should check the agent\'s backup repository.'),
        ),
      });
    const engine = this.opts.engine;
    const driver = this.opts.drivers.get(p.pool);
    if (!engine || !driver) {
      return this.finish(p.operationId, fail(new DriverError(!engine ? noEngineMessage(this.opts) : `pool ${p.pool} is not configured on host ${this.opts.host}`), true));
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
      backupOutcome(this.opts.host, p.operationId, p, 'create.failed', { error: { code: 'INTERNAL', message: lostMessage('backup', this.opts.host) } }),
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
    this.jobs.start(p.backupId, 'backup', async (signal, onProgress) => {
      const started = Date.now();
      let message: RecordedMessage;
      try {
        const m = await engine.backup({ backupId: p.backupId, volumeId: p.volumeId, source: src, parent, trackChanges, log: this.opts.log, signal, onProgress });
        message = backupOutcome(this.opts.host, p.operationId, p, 'create.succeeded', { figures: figuresOf(m), repository: this.opts.repository, ...repositoryIdField(this.opts.repositoryId) });
        this.opts.log.info(
          { backupId: p.backupId, volumeId: p.volumeId, ms: Date.now() - started, changeTracking: m.changeTracking, readBytes: m.readBytes, storedBytes: m.storedBytes, dedupBytes: m.dedupBytes },
          'backup taken',
        );
      } catch (err) {
        if (signal.aborted && this.stopping) {
          this.opts.log.warn({ backupId: p.backupId }, 'backup interrupted by the agent\'s shutdown; the next start reports it lost');
          return;
        } else if (signal.aborted) {
          message = backupOutcome(this.opts.host, p.operationId, p, 'create.cancelled', {});
          this.opts.log.info({ backupId: p.backupId }, 'backup cancelled');
        } else {
          this.opts.log.error({ err, backupId: p.backupId }, 'backup failed');
          message = fail(err, false);
        }
      } finally {
        if (tempSnapshot) await this.opts.mutex.run(p.volumeId, () => this.dropTemporary(driver, p.volumeId, tempSnapshot));
      }
      await this.finishJob(p.operationId, message);
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
      backupOutcome(this.opts.host, p.operationId, p, 'restore.failed', {
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
      return this.finish(p.operationId, fail(new DriverError(!engine ? noEngineMessage(this.opts) : `pool ${p.pool} is not configured on host ${this.opts.host}`), true));
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
      backupOutcome(this.opts.host, p.operationId, p, 'restore.failed', {
        targetVolumeId: p.volumeId,
        error: { code: 'INTERNAL', message: lostMessage('restore', this.opts.host) },
      }),
    );
    const m = manifest;
    const t = target;
    this.jobs.start(p.backupId, 'restore', async (signal, onProgress) => {
      let message: RecordedMessage;
      try {
        await engine.restore({ manifest: m, target: t, signal, onProgress });
        message = backupOutcome(this.opts.host, p.operationId, p, 'restore.succeeded', { targetVolumeId: p.volumeId });
        this.opts.log.info({ backupId: p.backupId, volumeId: p.volumeId }, 'backup restored');
      } catch (err) {
        if (signal.aborted && this.stopping) {
          this.opts.log.warn({ backupId: p.backupId }, 'restore interrupted by the agent\'s shutdown; the next start reports it lost');
          return;
        }
        this.opts.log.error({ err, backupId: p.backupId, volumeId: p.volumeId }, 'restore failed');
        message = fail(err, false);
      }
      await this.finishJob(p.operationId, message);
    });
  }

  // ---- delete ------------------------------------------------------------------------

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
      if (!engine) throw new DriverError(noEngineMessage(this.opts));
      await engine.deleteManifest(p.backupId);
      const gc = await engine.collectGarbage();
      this.opts.log.info({ backupId: p.backupId, ...gc }, 'backup deleted');
      return backupOutcome(this.opts.host, p.operationId, p, 'delete.succeeded', {});
    } catch (err) {
      this.opts.log.error({ err, backupId: p.backupId }, 'backup delete failed');
      return backupOutcome(this.opts.host, p.operationId, p, 'delete.failed', {
        error: failure(false, `Deleting backup ${p.backupId} from ${this.opts.repository} failed: ${errorMessage(err)}. Delete it again; if it fails again, an operator should check the repository.`),
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

  /**
   * A job's outcome: recorded, then emitted until NATS takes it. No command waits to be
   * redelivered behind a job, so an outcome that could not be sent (a NATS node lost, a
   * stream leader being elected) would otherwise wait for the agent's next start. A stopping
   * agent leaves it to that start's reconciliation, which finds it recorded.
   */
  private async finishJob(operationId: string, message: RecordedMessage): Promise<void> {
    await this.opts.outcomes.put(operationId, 1, message);
    for (let delay = EMIT_RETRY_FIRST_MS; ; delay = Math.min(delay * 2, EMIT_RETRY_MAX_MS)) {
      try {
        return await this.opts.emit(message.subject, message.kind, message.payload, message.msgId);
      } catch (err) {
        if (this.stopping) throw err;
        this.opts.log.warn({ err, operationId, retryInMs: delay }, 'could not emit a backup job\'s outcome; trying again');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Records the outcome, then emits it (AgentCore's rule). */
  private async finish(operationId: string, message: RecordedMessage): Promise<void> {
    await this.opts.outcomes.put(operationId, 1, message);
    await this.opts.emit(message.subject, message.kind, message.payload, message.msgId);
  }
}
