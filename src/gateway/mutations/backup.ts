/**
 * What the backup mutations do (issue 5), in the manner of snapshot-service.ts: validate,
 * check the backup's and the volume's state machines, commit the change and its operation
 * (with the agent command) in one transaction, then publish. A backup is taken and
 * restored by the agent holding the volume; deleting, verifying and importing go to the
 * agent that made it (its repository).
 */
import type { OperationKind } from '../../domain/operations.js';
import { createHash, randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { z } from 'zod';
import {
  BACKUP_COMMAND,
  BACKUP_KIND,
  backupView,
  subjects,
  type AgentCreateBackup,
  type AgentDeleteBackup,
  type AgentImportBackup,
  type AgentRestoreBackup,
  type AgentVerifyBackup,
  type BackupView,
  type PoolStats,
} from '../../bus/index.js';
import {
  Backup,
  casBackup,
  casVolume,
  findBackup,
  findSnapshot,
  findVolume,
  latestAvailableBackup,
  Operation,
  Project,
  type OutboxCommand,
  type Principal,
  type Volume,
} from '../../db/index.js';
import {
  actionTransition,
  assertBackupCanStart,
  BACKUP_ACTIONS,
  backupInvalidState,
  BadInputError,
  checkCreateBackup,
  checkRestoreBackup,
  ConflictError,
  invalidState,
  InvalidStateError,
  NotFoundError,
  restoreTargetTooSmall,
  ServiceUnavailableError,
  type BackupAction,
} from '../../domain/index.js';
import { canSee, requireAdmin, requireWriter } from '../../domain/access.js';
import { operationDeadline } from '../../domain/deadlines.js';
import type {
  BackupResult,
  BackupServiceApi,
  CreateBackupRequest,
  DeleteBackupRequest,
  ImportBackupRecordRequest,
  RestoreBackupRequest,
  RestoreBackupResult,
  VerifyBackupRequest,
  VolumeServiceApi,
} from '../../resolvers/index.js';
import { isSilent, reachesRepository, type BackupLocation } from '../../scheduler/placement/index.js';
import { toBackupView, type BackupLive } from '../live/backup.js';
import { casRefusal } from './kernel.js';
import { dispatchOrDefer } from '../sweepers/outbox.js';
import type { GatewayDeps } from '../deps.js';

const INCREMENTAL_FALLBACK = 'No AVAILABLE backup of this volume to compare with, so this incremental backup is a full one.';

/** The record `exportBackupRecord` hands out (base64 of its JSON). */
const exportedRecord = z.object({
  format: z.literal('flint-backup-record/1'),
  backup: backupView,
  /** The project's name, to find the same project in the importing Flint (ids differ between Flints). */
  projectName: z.string().nullable(),
  manifest: z.object({ sha256: z.string().nullable(), sizeBytes: z.number().nullable(), chunkSize: z.number().nullable(), chunkCount: z.number().nullable(), codec: z.string().nullable(), parentId: z.string().nullable() }),
});
type ExportedRecord = z.infer<typeof exportedRecord>;

export interface BackupServiceDeps extends GatewayDeps {
  backupLive: BackupLive;
  volumes: VolumeServiceApi;
  pools: { list(): PoolStats[] };
}

export class BackupService implements BackupServiceApi {
  constructor(private readonly deps: BackupServiceDeps) {}

  get live(): BackupLive {
    return this.deps.backupLive;
  }

  async visible(p: Principal, id: string, em = this.deps.db.fork()): Promise<Backup | null> {
    const b = await findBackup(em, id);
    return b && b.status !== 'deleted' && canSee(p, b.projectId) ? b : null;
  }

  async create(principal: Principal | null, input: CreateBackupRequest): Promise<BackupResult> {
    const p = requireWriter(principal);
    checkCreateBackup(input);
    const em = this.deps.db.fork();
    const volume = await findVolume(em, input.volumeId);
    if (!volume || volume.status === 'deleted' || !canSee(p, volume.projectId)) throw new NotFoundError('Volume', input.volumeId);
    const projectId = volume.projectId;
    const name = input.name ?? `backup of ${volume.name}`;
    const requestHash = createHash('sha256')
      .update(JSON.stringify(['backup', input.volumeId, input.snapshotId ?? null, name, input.description ?? null, !!input.incremental, !!input.force]))
      .digest('hex');
    if (input.idempotencyKey) {
      const replay = await this.replay(em, projectId, input.idempotencyKey, requestHash);
      if (replay) return replay;
    }
    // An IN_USE volume needs force and is read through a temporary snapshot; otherwise it must be AVAILABLE.
    const inUse = volume.status === 'in_use';
    if (inUse && !input.force) {
      throw new InvalidStateError(
        `Volume ${volume.id} is IN_USE (attached); back it up with force: true (from a temporary snapshot), or detach it first.`,
        { currentStatus: 'IN_USE', allowedStatuses: ['AVAILABLE', 'IN_USE (with force)'] },
      );
    }
    const action = inUse ? actionTransition('backupInUse') : actionTransition('backup');
    if (!action.from.includes(volume.status)) throw invalidState(action, volume.status, volume.id);
    if (!volume.host || !volume.pool) throw invalidState(action, volume.status, volume.id);
    if (input.snapshotId) {
      const s = await findSnapshot(em, input.snapshotId);
      if (!s || s.status === 'deleted' || !canSee(p, s.projectId)) throw new NotFoundError('Snapshot', input.snapshotId);
      if (s.volumeId !== volume.id) throw new BadInputError([`snapshot ${s.id} is of volume ${s.volumeId}, not of ${volume.id}; give that volume's id or another snapshot`]);
      if (s.status !== 'available') throw new InvalidStateError(`Snapshot ${s.id} is ${s.status.toUpperCase()}; a backup reads only an AVAILABLE snapshot.`, { currentStatus: s.status.toUpperCase() });
    }
    const parent = input.incremental ? await latestAvailableBackup(em, volume.id) : null;

    const backupId = randomUUID();
    const operationId = randomUUID();
    const payload: AgentCreateBackup = {
      operationId,
      backupId,
      volumeId: volume.id,
      pool: volume.pool,
      ...(input.snapshotId ? { snapshotId: input.snapshotId } : {}),
      ...(parent ? { parentId: parent.id } : {}),
      ...(inUse && !input.snapshotId ? { temporarySnapshot: true } : {}),
    };
    let created: BackupResult & { volume: Volume };
    try {
      created = await em.transactional(async (tx) => {
        // AVAILABLE → BACKING_UP (an IN_USE volume keeps its status; its version grows either way).
        const moved = await casVolume(tx, volume.id, { from: action.from, expectedVersion: volume.version }, action.to ? { status: action.to } : {});
        if (!moved) throw await this.volumeRefusal(tx, volume.id, action.from, inUse ? 'backupInUse' : 'backup');
        const backup = tx.create(Backup, {
          id: backupId,
          projectId,
          volumeId: volume.id,
          snapshotId: input.snapshotId ?? null,
          name,
          description: input.description ?? null,
          status: 'creating',
          sizeGiB: volume.sizeGiB,
          parentId: parent?.id ?? null,
          incremental: !!parent,
          fullReason: input.incremental && !parent ? INCREMENTAL_FALLBACK : null,
          forced: inUse,
          repository: 'agent default',
          host: volume.host,
          pool: volume.pool,
          progressDoneBytes: 0,
          progressTotalBytes: volume.sizeGiB * 2 ** 30,
          operationId,
          idempotencyKey: input.idempotencyKey ?? null,
          requestHash,
        });
        const operation = this.operation(tx, projectId, 'create_backup', backupId, operationId, {
          subject: subjects.agent(volume.host!, BACKUP_COMMAND.createBackup),
          kind: BACKUP_KIND.agentCreateBackup,
          payload,
          msgId: `${operationId}:${BACKUP_KIND.agentCreateBackup}`,
        });
        return { backup, operation, volume: moved };
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException && input.idempotencyKey) {
        const replay = await this.replay(this.deps.db.fork(), projectId, input.idempotencyKey, requestHash);
        if (replay) return replay;
      }
      throw err;
    }
    this.deps.live.publish('UPDATED', created.volume);
    this.deps.backupLive.publish('CREATED', created.backup);
    this.announce(created.operation);
    return { backup: created.backup, operation: created.operation };
  }

  async restore(principal: Principal | null, input: RestoreBackupRequest): Promise<RestoreBackupResult> {
    const p = requireWriter(principal);
    checkRestoreBackup(input);
    const em = this.deps.db.fork();
    const backup = await this.mustSee(p, input.backupId, em);
    assertBackupCanStart('restore', backup.status, backup.id);
    const sizeBytes = backup.sizeBytes ?? backup.sizeGiB * 2 ** 30;
    const operationId = randomUUID();

    if (input.volumeId) {
      const volume = await findVolume(em, input.volumeId);
      if (!volume || volume.status === 'deleted' || !canSee(p, volume.projectId)) throw new NotFoundError('Volume', input.volumeId);
      if (volume.projectId !== backup.projectId) {
        throw new BadInputError([`volume ${volume.id} is in another project than backup ${backup.id}; restore into a volume of the backup's project`]);
      }
      const t = actionTransition('restore');
      if (!t.from.includes(volume.status) || !volume.host || !volume.pool) throw invalidState(t, volume.status, volume.id);
      const small = restoreTargetTooSmall(volume.sizeGiB, sizeBytes, volume.id);
      if (small) throw new BadInputError([small]);
      this.assertHostReaches(volume.host, backup);
      const payload: AgentRestoreBackup = { operationId, backupId: backup.id, volumeId: volume.id, pool: volume.pool };
      const result = await em.transactional(async (tx) => {
        const b = await casBackup(tx, backup.id, { from: BACKUP_ACTIONS.restore.from }, { status: 'restoring', restoreVolumeId: volume.id, operationId });
        if (!b) throw await this.whyNot(tx, 'restore', backup.id, undefined);
        const v = await casVolume(tx, volume.id, { from: t.from, expectedVersion: volume.version }, { status: 'restoring_backup' });
        if (!v) throw await this.volumeRefusal(tx, volume.id, t.from, 'restore');
        const operation = this.operation(tx, backup.projectId, 'restore_backup', backup.id, operationId, {
          subject: subjects.agent(volume.host!, BACKUP_COMMAND.restoreBackup),
          kind: BACKUP_KIND.agentRestoreBackup,
          payload,
          msgId: `${operationId}:${BACKUP_KIND.agentRestoreBackup}`,
        });
        return { backup: b, volume: v, operation };
      });
      this.deps.live.publish('UPDATED', result.volume);
      this.deps.backupLive.publish('UPDATED', result.backup);
      this.announce(result.operation);
      return result;
    }

    // Into a new volume: hold the backup (RESTORING) first, then create the volume through the
    // scheduler; the restore is sent once it is AVAILABLE (../sweepers/backup-recovery.ts, `continueRestores`).
    const held = await em.transactional(async (tx) => {
      const b = await casBackup(tx, backup.id, { from: BACKUP_ACTIONS.restore.from }, { status: 'restoring', operationId, restoreVolumeId: null });
      if (!b) throw await this.whyNot(tx, 'restore', backup.id, undefined);
      const operation = this.operation(tx, backup.projectId, 'restore_backup', backup.id, operationId, null);
      operation.deadlineAt = operationDeadline(operation.createdAt, this.deps.config.operationTimeoutSeconds);
      return { backup: b, operation };
    });
    let volume: Volume;
    try {
      const made = await this.deps.volumes.create(
        { ...p, projectId: backup.projectId },
        { name: input.name ?? `restore of ${backup.name}`, sizeGiB: Math.max(1, Math.ceil(sizeBytes / 2 ** 30)), description: `Restored from backup ${backup.id}.` },
        // Only on a host that reaches the backup's repository (the scheduler's BackupRepositoryFilter).
        { nearBackupRepository: { backupId: backup.id, ...location(backup) } },
      );
      volume = made.volume;
    } catch (err) {
      await this.release(backup.id, operationId, err);
      throw err;
    }
    const b = await casBackup(this.deps.db.fork(), backup.id, { from: ['restoring'] }, { restoreVolumeId: volume.id });
    this.deps.backupLive.publish('UPDATED', b ?? held.backup);
    this.deps.live.publishOperation(held.operation);
    return { backup: b ?? held.backup, volume, operation: held.operation };
  }

  /** Gives the backup back after the new volume of a restore could not even be requested. */
  private async release(backupId: string, operationId: string, cause: unknown): Promise<void> {
    const em = this.deps.db.fork();
    await em.transactional(async (tx) => {
      await casBackup(tx, backupId, { from: ['restoring'] }, { status: 'available', restoreVolumeId: null });
      await tx.nativeUpdate(Operation, { id: operationId, status: 'pending' }, {
        status: 'failed',
        errorCode: cause instanceof Error && 'code' in cause ? String((cause as { code: unknown }).code) : 'INTERNAL',
        errorMessage: cause instanceof Error ? cause.message : String(cause),
        finishedAt: new Date(),
      });
    });
    const b = await findBackup(em, backupId);
    if (b) this.deps.backupLive.publish('UPDATED', b);
  }

  async delete(principal: Principal | null, input: DeleteBackupRequest): Promise<BackupResult> {
    const p = requireWriter(principal);
    const em = this.deps.db.fork();
    const current = await this.mustSee(p, input.id, em);
    assertBackupCanStart('delete', current.status, current.id);
    const operationId = randomUUID();
    const host = this.hostReaching(current);
    const payload: AgentDeleteBackup = { operationId, backupId: current.id, volumeId: current.volumeId };
    const result = await em.transactional(async (tx) => {
      const guard = { from: BACKUP_ACTIONS.delete.from, ...(input.expectedVersion ? { expectedVersion: input.expectedVersion } : {}) };
      // A cancelled CREATING backup keeps its create operation id: its cancellation outcome ends that operation.
      const backup = await casBackup(tx, current.id, guard, { status: 'deleting', operationId });
      if (!backup) throw await this.whyNot(tx, 'delete', current.id, input.expectedVersion);
      const operation = this.operation(tx, current.projectId, 'delete_backup', current.id, operationId, {
        subject: subjects.agent(host, BACKUP_COMMAND.deleteBackup),
        kind: BACKUP_KIND.agentDeleteBackup,
        payload,
        msgId: `${operationId}:${BACKUP_KIND.agentDeleteBackup}`,
      });
      return { backup, operation };
    });
    this.deps.backupLive.publish('UPDATED', result.backup);
    this.announce(result.operation);
    return result;
  }

  async verify(principal: Principal | null, input: VerifyBackupRequest): Promise<BackupResult> {
    const p = requireWriter(principal);
    const em = this.deps.db.fork();
    const backup = await this.mustSee(p, input.id, em);
    assertBackupCanStart('verify', backup.status, backup.id);
    const operationId = randomUUID();
    const payload: AgentVerifyBackup = { operationId, backupId: backup.id, volumeId: backup.volumeId };
    const operation = await em.transactional(async (tx) =>
      this.operation(tx, backup.projectId, 'verify_backup', backup.id, operationId, {
        subject: subjects.agent(this.hostReaching(backup), BACKUP_COMMAND.verifyBackup),
        kind: BACKUP_KIND.agentVerifyBackup,
        payload,
        msgId: `${operationId}:${BACKUP_KIND.agentVerifyBackup}`,
      }),
    );
    this.announce(operation);
    return { backup, operation };
  }

  async exportRecord(principal: Principal | null, id: string): Promise<string> {
    const p = requireAdmin(principal, 'Exporting a backup record');
    const backup = await this.mustSee(p, id, this.deps.db.fork());
    assertBackupCanStart('export', backup.status, backup.id);
    const project = await this.deps.db.fork().findOne(Project, { id: backup.projectId }, { disableIdentityMap: true });
    const record: ExportedRecord = {
      format: 'flint-backup-record/1',
      backup: toBackupView(backup),
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

  async importRecord(principal: Principal | null, input: ImportBackupRecordRequest): Promise<BackupResult> {
    requireAdmin(principal, 'Importing a backup record');
    let record: ExportedRecord;
    try {
      record = exportedRecord.parse(JSON.parse(Buffer.from(input.record, 'base64').toString('utf8')));
    } catch {
      throw new BadInputError(['record is not a backup record; pass the string exportBackupRecord returned, unchanged']);
    }
    const r = record.backup;
    const em = this.deps.db.fork();
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
    const projectId = project.id;
    const host = this.agentHostFor(r.host, { repository: r.repository, repositoryId: r.repositoryId ?? null, host: r.host });
    const operationId = randomUUID();
    const payload: AgentImportBackup = { operationId, backupId: r.id, volumeId: r.volumeId };
    const result = await em.transactional(async (tx) => {
      const backup = tx.create(Backup, {
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
      });
      const operation = this.operation(tx, projectId, 'import_backup', r.id, operationId, {
        subject: subjects.agent(host, BACKUP_COMMAND.importBackup),
        kind: BACKUP_KIND.agentImportBackup,
        payload,
        msgId: `${operationId}:${BACKUP_KIND.agentImportBackup}`,
      });
      return { backup, operation };
    });
    this.deps.backupLive.publish('CREATED', result.backup);
    this.announce(result.operation);
    return result;
  }

  // ---- helpers ------------------------------------------------------------------------

  private operation(tx: EntityManager, projectId: string, kind: OperationKind, backupId: string, id: string, command: OutboxCommand | null): Operation {
    return tx.create(Operation, { id, projectId, kind, resourceType: 'backup', resourceId: backupId, command });
  }

  private announce(operation: Operation): void {
    this.deps.live.publishOperation(operation);
    void dispatchOrDefer(this.deps.bus, this.deps.db, operation, this.deps.log);
  }

  private async replay(em: EntityManager, projectId: string, key: string, requestHash: string): Promise<BackupResult | null> {
    const existing = await em.findOne(Backup, { projectId, idempotencyKey: key }, { disableIdentityMap: true });
    if (!existing) return null;
    if (existing.requestHash !== requestHash) {
      throw new ConflictError(`idempotencyKey "${key}" was already used for backup ${existing.id} with other parameters; use a new key for a different backup.`, {
        backupId: existing.id,
      });
    }
    const operation = await em.findOneOrFail(Operation, { resourceId: existing.id, kind: 'create_backup' }, { disableIdentityMap: true });
    return { backup: (await findBackup(em, existing.id))!, operation };
  }

  private async mustSee(p: Principal, id: string, em: EntityManager): Promise<Backup> {
    const b = await this.visible(p, id, em);
    if (!b) throw new NotFoundError('Backup', id);
    return b;
  }

  private async whyNot(em: EntityManager, action: BackupAction, id: string, expectedVersion: number | null | undefined): Promise<Error> {
    const t = BACKUP_ACTIONS[action];
    const now = await findBackup(em, id);
    return casRefusal('Backup', id, now, expectedVersion, t.from, (status) => backupInvalidState(t, status, id));
  }

  private async volumeRefusal(em: EntityManager, id: string, from: readonly Volume['status'][], action: 'backup' | 'backupInUse' | 'restore'): Promise<Error> {
    const t = actionTransition(action);
    return casRefusal('Volume', id, await findVolume(em, id), undefined, from, (status) => invalidState(t, status, id));
  }

  /** The agent host of a record being imported: one UP here that reaches its repository (its own first), else any UP agent. */
  private agentHostFor(host: string | null, where: BackupLocation): string {
    const up = this.deps.pools.list();
    if (host && up.some((s) => s.host === host && reachesRepository(s, where).pass)) return host;
    const reaching = hostsReaching(up, where, this.staleBefore());
    return reaching[0] ?? this.anyAgentHost();
  }

  /**
   * The agent to verify or delete a backup: the one that took it when it is UP and reaches
   * its repository, else another UP agent that reaches it (a shared repository), else the
   * one that took it all the same (the command waits for it in its queue).
   */
  private hostReaching(b: Backup): string {
    const reaching = hostsReaching(this.deps.pools.list(), location(b), this.staleBefore());
    if (b.host && reaching.includes(b.host)) return b.host;
    if (reaching[0]) return reaching[0];
    if (b.host) return b.host;
    if (b.repositoryId) {
      throw new ServiceUnavailableError(`No agent that reaches backup repository ${b.repository} (id ${b.repositoryId}) is UP; start one (\`flint service list\`) and retry.`);
    }
    return this.anyAgentHost();
  }

  /** Pools whose agent has not reported since then are not counted as UP (the scheduler's rule). */
  private staleBefore(): Date {
    return new Date(Date.now() - this.deps.config.heartbeatSeconds * 3 * 1000);
  }

  /**
   * Refuses a restore into a volume on a host whose agent does not reach the backup's
   * repository (known from its pools' heartbeats; a host not reporting is not judged).
   */
  private assertHostReaches(host: string | null, backup: Backup): void {
    if (!host) return;
    const pools = this.deps.pools.list().filter((s) => s.host === host);
    if (pools.length === 0) return;
    const checks = pools.map((s) => reachesRepository(s, location(backup)));
    if (checks.some((c) => c.pass)) return;
    throw new InvalidStateError(
      `Host ${host}, which holds the volume, does not reach backup ${backup.id}'s repository ${backup.repository}: ${checks[0]!.reason}. ` +
        `Restore into a new volume (restoreBackup without volumeId; it is placed on a host that reaches the repository), or mount the repository on ${host} (FLINT_BACKUP_REPOSITORY) and restore again.`,
      { host, repository: backup.repository, repositoryId: backup.repositoryId },
    );
  }

  private anyAgentHost(): string {
    const host = this.deps.pools.list()[0]?.host;
    if (!host) throw new ServiceUnavailableError('No agent is UP to reach the backup repository; start one (`flint service list`) and retry.');
    return host;
  }
}

export type { BackupView };

/** Where a backup's bytes are, for the placement rules (src/scheduler/placement/backup-repository.ts). */
function location(b: Pick<Backup, 'repository' | 'repositoryId' | 'host'>): BackupLocation {
  return { repository: b.repository, repositoryId: b.repositoryId ?? null, host: b.host };
}

/** UP agent hosts (pool heartbeats newer than `staleBefore`) that reach the repository, in name order. */
function hostsReaching(pools: readonly PoolStats[], where: BackupLocation, staleBefore: Date): string[] {
  return [...new Set(pools.filter((s) => !isSilent(s, staleBefore) && reachesRepository(s, where).pass).map((s) => s.host))].sort();
}
