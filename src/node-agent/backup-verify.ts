/**
 * The agent's verify_backup and import_backup commands: both check a backup the repository
 * holds (every chunk read back and its hash checked) and answer at once, without a job.
 * `AgentBackups` (backups.ts) records and emits the message they return.
 */
import { BACKUP_KIND, subjects, type AgentImportBackup, type AgentVerifyBackup, type BackupVerified } from '../bus/index.js';
import type { AgentBackupsOptions } from './backup-commands.js';
import { progressReporter } from './backup-jobs.js';
import { backupOutcome, figuresOf, noEngineMessage, repositoryIdField } from './backup-outcomes.js';
import { DriverError } from './drivers/index.js';
import { errorMessage, failure } from './outcome-errors.js';
import type { RecordedMessage } from './outcome-store.js';

type CheckOptions = Pick<AgentBackupsOptions, 'host' | 'engine' | 'engineProblem' | 'repository' | 'repositoryId' | 'log' | 'report' | 'progressIntervalMs'>;

export async function verifyBackup(opts: CheckOptions, p: AgentVerifyBackup): Promise<RecordedMessage> {
  const engine = opts.engine;
  let payload: BackupVerified;
  try {
    if (!engine) throw new DriverError(noEngineMessage(opts));
    // A long verify reports progress like a backup, which keeps its operation's deadline moving.
    const progress = progressReporter(opts, p.backupId, 'verify');
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
  opts.log.info({ backupId: p.backupId, outcome: payload.outcome, problem: payload.problem }, 'backup verified');
  return { subject: subjects.agentEvent(opts.host, 'backup', p.backupId), kind: BACKUP_KIND.backupVerified, payload, msgId: `${p.operationId}:${payload.outcome}` };
}

export async function importBackup(opts: CheckOptions, p: AgentImportBackup): Promise<RecordedMessage> {
  const engine = opts.engine;
  try {
    if (!engine) throw new DriverError(noEngineMessage(opts));
    const m = await engine.manifest(p.backupId);
    if (!m) throw new DriverError(`the repository ${opts.repository} has no manifest of backup ${p.backupId}`);
    if (m.volumeId !== p.volumeId) throw new DriverError(`the repository's backup ${p.backupId} is of volume ${m.volumeId}, not ${p.volumeId}`);
    const r = await engine.verify(p.backupId);
    if (!r.ok) throw new DriverError(`chunk ${r.problem.hash} (volume offset ${r.problem.offset}) ${r.problem.reason}`);
    return backupOutcome(opts.host, p.operationId, p, 'import.succeeded', { figures: figuresOf(m), repository: opts.repository, ...repositoryIdField(opts.repositoryId) });
  } catch (err) {
    return backupOutcome(opts.host, p.operationId, p, 'import.failed', {
      error: failure(true, `Backup ${p.backupId} cannot be imported: ${errorMessage(err)}. Import it into a Flint whose agents use the repository that holds it.`),
    });
  }
}
