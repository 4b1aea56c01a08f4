/**
 * Backup records between Flints (admins): `exportBackupRecord` hands out a backup's row and
 * manifest as base64 JSON; `importBackupRecord` recreates the row here (CREATING) and asks an
 * agent that reaches the repository to check the bytes are there.
 */
import { z } from 'zod';
import { BACKUP_COMMAND, BACKUP_KIND, backupView, subjects, type AgentImportBackup } from '../../bus/index.js';
import { Backup, findBackup, Project, type Principal } from '../../db/index.js';
import { assertBackupCanStart, BadInputError, ConflictError } from '../../domain/index.js';
import { requireAdmin } from '../../domain/access.js';
import type { BackupResult, ImportBackupRecordRequest } from '../../resolvers/index.js';
import { toBackupView, type BackupLive } from '../live/backup.js';
import type { GatewayDeps } from '../deps.js';
import type { BackupHosts } from './backup-hosts.js';
import { runMutation } from './kernel.js';
import { backupClaim } from './quota-claims.js';

/** The record `exportBackupRecord` hands out (base64 of its JSON). */
const exportedRecord = z.object({
  format: z.literal('flint-backup-record/1'),
  backup: backupView,
  /** The project's name, to find the same project in the importing Flint (ids differ between Flints). */
  projectName: z.string().nullable(),
  manifest: z.object({ sha256: z.string().nullable(), sizeBytes: z.number().nullable(), chunkSize: z.number().nullable(), chunkCount: z.number().nullable(), codec: z.string().nullable(), parentId: z.string().nullable() }),
});
type ExportedRecord = z.infer<typeof exportedRecord>;

/** The record of a backup the caller (an admin) may see, as `exportBackupRecord` returns it. */
export async function exportRecord(deps: GatewayDeps, principal: Principal | null, id: string, visible: (p: Principal, id: string) => Promise<Backup>): Promise<string> {
  const p = requireAdmin(principal, 'Exporting a backup record');
  const backup = await visible(p, id);
  assertBackupCanStart('export', backup.status, backup.id);
  const project = await deps.db.fork().findOne(Project, { id: backup.projectId }, { disableIdentityMap: true });
  const record: ExportedRecord = {
    format: 'flint-backup-record/1',
    // The key answers creates in this project only: another Flint has no use for it.
    backup: { ...toBackupView(backup), idempotencyKey: null },
    projectName: project?.name ?? null,
    manifest: {
      sha256: backup.sha256,
      sizeBytes: backup.sizeBytes,
      chunkSize: backup.chunkSize,
      chunkCount: backup.chunkCount,
      codec: backup.codec,
      parentId: backup.parentId,
    },
  };
  return Buffer.from(JSON.stringify(record)).toString('base64');
}

/** `importBackupRecord`: the backup again in this Flint, in the same project (by id, else by name). */
export function importRecord(deps: GatewayDeps & { backupLive: BackupLive }, hosts: BackupHosts, principal: Principal | null, input: ImportBackupRecordRequest): Promise<BackupResult> {
  type Loaded = { record: ExportedRecord; projectId: string; host: string };
  return runMutation<Loaded, Backup, BackupResult>(deps, principal, {
    kind: 'import_backup',
    resourceType: 'backup',
    authorize: (p) => requireAdmin(p, 'Importing a backup record'),
    load: async (em) => {
      let record: ExportedRecord;
      try {
        record = exportedRecord.parse(JSON.parse(Buffer.from(input.record, 'base64').toString('utf8')));
      } catch {
        throw new BadInputError(['record is not a backup record; pass the string exportBackupRecord returned, unchanged']);
      }
      const r = record.backup;
      const existing = await findBackup(em, r.id);
      if (existing && existing.status !== 'deleted') {
        throw new ConflictError(`Backup ${r.id} is already known to this Flint (status ${existing.status.toUpperCase()}); nothing to import.`, { backupId: r.id });
      }
      if (existing) throw new ConflictError(`Backup ${r.id} was deleted in this Flint; its id cannot be reused.`, { backupId: r.id });
      // The same project here: by id, else by name (each Flint gives its projects their own ids).
      const project =
        (await em.findOne(Project, { id: r.projectId }, { disableIdentityMap: true })) ??
        (record.projectName ? await em.findOne(Project, { name: record.projectName }, { disableIdentityMap: true }) : null);
      if (!project) {
        throw new BadInputError([`the backup's project ${record.projectName ?? r.projectId} does not exist in this Flint; create it first (flint token create --project ${record.projectName ?? '<name>'}) and import again`]);
      }
      const host = hosts.forImport(r.host, { repository: r.repository, repositoryId: r.repositoryId ?? null, host: r.host });
      return { record, projectId: project.id, host };
    },
    transition: async (tx, { record: { backup: r }, projectId, host }, operationId) =>
      tx.create(Backup, {
        id: r.id,
        projectId,
        volumeId: r.volumeId,
        snapshotId: r.snapshotId,
        name: r.name,
        description: r.description,
        status: 'creating',
        sizeGiB: r.sizeGiB,
        sizeBytes: r.sizeBytes,
        parentId: r.parentId,
        incremental: r.incremental,
        repository: r.repository,
        repositoryId: r.repositoryId ?? null,
        host,
        pool: null,
        operationId,
      }),
    quota: backupClaim,
    operation: (backup, { host }, operationId) => {
      const payload: AgentImportBackup = { operationId, backupId: backup.id, volumeId: backup.volumeId };
      return {
        projectId: backup.projectId,
        resourceId: backup.id,
        command: { subject: subjects.agent(host, BACKUP_COMMAND.importBackup), kind: BACKUP_KIND.agentImportBackup, payload, msgId: `${operationId}:${BACKUP_KIND.agentImportBackup}` },
      };
    },
    announce: (d, backup) => deps.backupLive.publish('CREATED', backup),
    result: (backup, operation) => ({ backup, operation: operation! }),
  });
}
