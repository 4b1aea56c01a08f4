/**
 * The backup mutations (issue 5), declared for the kernel (kernel.ts): the backup's and the
 * volume's state machines move together in one transaction with the operation. A backup is taken and
 * restored by the agent holding the volume; deleting, verifying and importing go to the
 * agent that made it (its repository).
 */
import { staleBefore } from '../../domain/liveness.js';
import { createHash, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import {
  BACKUP_COMMAND,
  BACKUP_KIND,
  subjects,
  type AgentCreateBackup,
  type AgentDeleteBackup,
  type AgentRestoreBackup,
  type AgentVerifyBackup,
} from '../../bus/index.js';
import { Backup, casBackup, casVolume, findBackup, findSnapshot, findVolume, latestAvailableBackup, Operation, type OutboxCommand, type Principal, type Volume } from '../../db/index.js';
import {
  actionTransition,
  assertBackupCanStart,
  BACKUP_ACTIONS,
  backupInvalidState,
  BadInputError,
  checkCreateBackup,
  checkRestoreBackup,
  invalidState,
  InvalidStateError,
  NotFoundError,
  restoreEncryptionProblem,
  restoreTargetTooSmall,
  type BackupAction,
} from '../../domain/index.js';
import { canSee, requireWriter } from '../../domain/access.js';
import { operationDeadline } from '../../domain/deadlines.js';
import type {
  BackupDeleteResult,
  BackupResult,
  BackupsPort,
  CreateBackupRequest,
  DeleteBackupRequest,
  ImportBackupRecordRequest,
  RestoreBackupRequest,
  RestoreBackupResult,
  VerifyBackupRequest,
  VolumesPort,
} from '../../resolvers/index.js';
import type { BackupLive } from '../live/backup.js';
import type { GatewayDeps, PoolList } from '../deps.js';
import { BackupHosts, location } from './backup-hosts.js';
import { exportRecord, importRecord } from './backup-records.js';
import { casRefusal } from './cas.js';
import { runMutation } from './kernel.js';
import { settledDelete } from './settled.js';
import { backupClaim } from './quota-claims.js';

const INCREMENTAL_FALLBACK = 'No AVAILABLE backup of this volume to compare with, so this incremental backup is a full one.';

export interface BackupDeps extends GatewayDeps {
  backupLive: BackupLive;
  volumes: VolumesPort;
  pools: PoolList;
}

/** The agent command of a backup operation, on `host`. */
function agentCommand(host: string, command: string, kind: string, payload: { operationId: string }): OutboxCommand {
  return { subject: subjects.agent(host, command), kind, payload, msgId: `${payload.operationId}:${kind}` };
}

export class BackupMutations implements BackupsPort {
  private readonly hosts: BackupHosts;

  constructor(private readonly deps: BackupDeps) {
    this.hosts = new BackupHosts(
      () => deps.pools.list(),
      () => staleBefore(deps.config.heartbeatSeconds),
    );
  }

  get live(): BackupLive {
    return this.deps.backupLive;
  }

  /** The backup if it exists, is not DELETED (unless `deleted`), and the caller may see it. */
  async visible(p: Principal, id: string, em = this.deps.db.fork(), opts: { deleted?: boolean } = {}): Promise<Backup | null> {
    const b = await findBackup(em, id);
    return b && (opts.deleted || b.status !== 'deleted') && canSee(p, b.projectId) ? b : null;
  }

  create(principal: Principal | null, input: CreateBackupRequest): Promise<BackupResult> {
    const backupId = randomUUID();
    type Loaded = { volume: Volume; name: string; requestHash: string; inUse?: boolean; parent?: Backup | null };
    return runMutation<Loaded, { backup: Backup; volume: Volume }, BackupResult>(this.deps, principal, {
      kind: 'create_backup',
      resourceType: 'backup',
      authorize: requireWriter,
      validate: () => checkCreateBackup(input),
      load: async (em, p) => {
        const volume = await findVolume(em, input.volumeId);
        if (!volume || volume.status === 'deleted' || !canSee(p, volume.projectId)) throw new NotFoundError('Volume', input.volumeId);
        const name = input.name ?? `backup of ${volume.name}`;
        const requestHash = createHash('sha256')
          .update(JSON.stringify(['backup', input.volumeId, input.snapshotId ?? null, name, input.description ?? null, !!input.incremental, !!input.force]))
          .digest('hex');
        return { volume, name, requestHash };
      },
      idempotency: ({ volume, requestHash }) =>
        input.idempotencyKey
          ? { entity: Backup, projectId: volume.projectId, key: input.idempotencyKey, requestHash, replayed: (row, operation) => ({ backup: row as Backup, operation }) }
          : null,
      check: async (em, loaded, p) => {
        const { volume } = loaded;
        // An IN_USE volume needs force and is read through a temporary snapshot; otherwise it must be AVAILABLE.
        const inUse = volume.status === 'in_use';
        if (inUse && !input.force) {
          throw new InvalidStateError(
            `Volume ${volume.id} is IN_USE (attached); back it up with force: true (from a temporary snapshot), or detach it first.`,
            { currentStatus: 'IN_USE', allowedStatuses: ['AVAILABLE', 'IN_USE (with force)'] },
          );
        }
        const action = actionTransition(inUse ? 'backupInUse' : 'backup');
        if (!action.from.includes(volume.status) || !volume.host || !volume.pool) throw invalidState(action, volume.status, volume.id);
        if (input.snapshotId) {
          const s = await findSnapshot(em, input.snapshotId);
          if (!s || s.status === 'deleted' || !canSee(p, s.projectId)) throw new NotFoundError('Snapshot', input.snapshotId);
          if (s.volumeId !== volume.id) throw new BadInputError([`snapshot ${s.id} is of volume ${s.volumeId}, not of ${volume.id}; give that volume's id or another snapshot`]);
          if (s.status !== 'available') throw new InvalidStateError(`Snapshot ${s.id} is ${s.status.toUpperCase()}; a backup reads only an AVAILABLE snapshot.`, { currentStatus: s.status.toUpperCase() });
        }
        return { ...loaded, inUse, parent: input.incremental ? await latestAvailableBackup(em, volume.id) : null };
      },
      transition: async (tx, { volume, name, requestHash, inUse, parent }, operationId) => {
        // AVAILABLE → BACKING_UP (an IN_USE volume keeps its status; its version grows either way).
        const action = actionTransition(inUse ? 'backupInUse' : 'backup');
        const moved = await casVolume(tx, volume.id, { from: action.from, expectedVersion: volume.version }, action.to ? { status: action.to } : {});
        if (!moved) return null;
        const backup = tx.create(Backup, {
          id: backupId,
          projectId: volume.projectId,
          volumeId: volume.id,
          snapshotId: input.snapshotId ?? null,
          name,
          description: input.description ?? null,
          status: 'creating',
          sizeGiB: volume.sizeGiB,
          parentId: parent?.id ?? null,
          incremental: !!parent,
          fullReason: input.incremental && !parent ? INCREMENTAL_FALLBACK : null,
          forced: !!inUse,
          repository: 'agent default',
          host: volume.host,
          pool: volume.pool,
          progressDoneBytes: 0,
          progressTotalBytes: volume.sizeGiB * 2 ** 30,
          operationId,
          idempotencyKey: input.idempotencyKey ?? null,
          requestHash,
        });
        return { backup, volume: moved };
      },
      whyNot: (tx, { volume, inUse }) => volumeRefusal(tx, volume.id, inUse ? 'backupInUse' : 'backup'),
      quota: ({ backup }) => backupClaim(backup),
      operation: ({ backup }, { volume, parent, inUse }, operationId) => {
        const payload: AgentCreateBackup = {
          operationId,
          backupId: backup.id,
          volumeId: volume.id,
          pool: volume.pool!,
          ...(input.snapshotId ? { snapshotId: input.snapshotId } : {}),
          ...(parent ? { parentId: parent.id } : {}),
          ...(inUse && !input.snapshotId ? { temporarySnapshot: true } : {}),
        };
        return { projectId: backup.projectId, resourceId: backup.id, command: agentCommand(volume.host!, BACKUP_COMMAND.createBackup, BACKUP_KIND.agentCreateBackup, payload) };
      },
      announce: (deps, { backup, volume }) => {
        deps.live.publish('UPDATED', volume);
        this.deps.backupLive.publish('CREATED', backup);
      },
      result: ({ backup }, operation) => ({ backup, operation: operation! }),
    });
  }

  async restore(principal: Principal | null, input: RestoreBackupRequest): Promise<RestoreBackupResult> {
    const p = requireWriter(principal);
    checkRestoreBackup(input);
    return input.volumeId ? this.restoreInto(p, input, input.volumeId) : this.restoreIntoNew(p, input);
  }

  /** Into an AVAILABLE volume of the backup's project, on a host that reaches the backup's repository. */
  private restoreInto(principal: Principal, input: RestoreBackupRequest, volumeId: string): Promise<RestoreBackupResult> {
    const t = actionTransition('restore');
    return runMutation<{ backup: Backup; volume: Volume }, { backup: Backup; volume: Volume }, RestoreBackupResult>(this.deps, principal, {
      kind: 'restore_backup',
      resourceType: 'backup',
      authorize: requireWriter,
      load: async (em, p) => {
        const backup = await this.startable(p, input.backupId, em, 'restore');
        const volume = await findVolume(em, volumeId);
        if (!volume || volume.status === 'deleted' || !canSee(p, volume.projectId)) throw new NotFoundError('Volume', volumeId);
        if (volume.projectId !== backup.projectId) {
          throw new BadInputError([`volume ${volume.id} is in another project than backup ${backup.id}; restore into a volume of the backup's project`]);
        }
        if (!t.from.includes(volume.status) || !volume.host || !volume.pool) throw invalidState(t, volume.status, volume.id);
        const small = restoreTargetTooSmall(volume.sizeGiB, backup.sizeBytes ?? backup.sizeGiB * 2 ** 30, volume.id);
        if (small) throw new BadInputError([small]);
        const source = await findVolume(em, backup.volumeId);
        const clear = restoreEncryptionProblem(backup.id, Boolean(source?.encryptionKey), volume.id, Boolean(volume.encryptionKey));
        if (clear) throw new BadInputError([clear]);
        this.hosts.assertReaches(volume.host, backup);
        return { backup, volume };
      },
      transition: async (tx, { backup, volume }, operationId) => {
        const b = await casBackup(tx, backup.id, { from: BACKUP_ACTIONS.restore.from }, { status: 'restoring', restoreVolumeId: volume.id, operationId });
        if (!b) throw await backupWhyNot(tx, 'restore', backup.id, undefined);
        const v = await casVolume(tx, volume.id, { from: t.from, expectedVersion: volume.version }, { status: 'restoring_backup' });
        return v && { backup: b, volume: v };
      },
      whyNot: (tx, { volume }) => volumeRefusal(tx, volume.id, 'restore'),
      operation: ({ backup, volume }, _loaded, operationId) => {
        const payload: AgentRestoreBackup = { operationId, backupId: backup.id, volumeId: volume.id, pool: volume.pool! };
        return { projectId: backup.projectId, resourceId: backup.id, command: agentCommand(volume.host!, BACKUP_COMMAND.restoreBackup, BACKUP_KIND.agentRestoreBackup, payload) };
      },
      announce: (deps, { backup, volume }) => {
        deps.live.publish('UPDATED', volume);
        this.deps.backupLive.publish('UPDATED', backup);
      },
      result: ({ backup, volume }, operation) => ({ backup, volume, operation: operation! }),
    });
  }

  /**
   * Into a new volume: hold the backup (RESTORING) first, then create the volume through the
   * scheduler; the restore is sent once it is AVAILABLE (../sweepers/backup-recovery.ts, `continueRestores`).
   */
  private async restoreIntoNew(principal: Principal, input: RestoreBackupRequest): Promise<RestoreBackupResult> {
    const { backup, operation } = await runMutation<Backup, Backup, { backup: Backup; operation: Operation }>(this.deps, principal, {
      kind: 'restore_backup',
      resourceType: 'backup',
      authorize: requireWriter,
      load: (em, p) => this.startable(p, input.backupId, em, 'restore'),
      transition: (tx, backup, operationId) => casBackup(tx, backup.id, { from: BACKUP_ACTIONS.restore.from }, { status: 'restoring', operationId, restoreVolumeId: null }),
      whyNot: (tx, backup) => backupWhyNot(tx, 'restore', backup.id, undefined),
      // Waits for the new volume, with a deadline of its own: it has no command yet.
      operation: (backup) => ({ projectId: backup.projectId, resourceId: backup.id, pending: true, deadlineAt: operationDeadline(new Date(), this.deps.config.operationTimeoutSeconds) }),
      announce: () => undefined,
      result: (backup, operation) => ({ backup, operation: operation! }),
    });
    const sizeBytes = backup.sizeBytes ?? backup.sizeGiB * 2 ** 30;
    let volume: Volume;
    try {
      // The backup of an encrypted volume goes into a new volume of that volume's type: encrypted too.
      const source = await findVolume(this.deps.db.fork(), backup.volumeId);
      const volumeType = source?.encryptionKey && source.volumeType ? { volumeType: source.volumeType } : {};
      const made = await this.deps.volumes.create(
        { ...principal, projectId: backup.projectId },
        { name: input.name ?? `restore of ${backup.name}`, sizeGiB: Math.max(1, Math.ceil(sizeBytes / 2 ** 30)), description: `Restored from backup ${backup.id}.`, ...volumeType },
        // Only on a host that reaches the backup's repository (the scheduler's BackupRepositoryFilter).
        { nearBackupRepository: { backupId: backup.id, ...location(backup) } },
      );
      volume = made.volume;
    } catch (err) {
      await this.release(backup.id, operation.id, err);
      throw err;
    }
    const b = await casBackup(this.deps.db.fork(), backup.id, { from: ['restoring'] }, { restoreVolumeId: volume.id });
    this.deps.backupLive.publish('UPDATED', b ?? backup);
    return { backup: b ?? backup, volume, operation };
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

  delete(principal: Principal | null, input: DeleteBackupRequest): Promise<BackupDeleteResult> {
    return runMutation<{ current: Backup; host: string }, Backup, BackupDeleteResult>(this.deps, principal, {
      kind: 'delete_backup',
      resourceType: 'backup',
      authorize: requireWriter,
      // A DELETED backup of the caller's project is found too: deleting it again is done already.
      load: async (em, p) => ({ current: await this.mustSee(p, input.id, em, { deleted: true }), host: '' }),
      settled: async (em, { current }) => {
        const answer = await settledDelete(em, current, { gone: ['deleted'], removedBy: [{ resourceId: current.id, kinds: ['delete_backup'] }] });
        return answer && { backup: current, ...answer };
      },
      check: (_em, { current }) => {
        assertBackupCanStart('delete', current.status, current.id);
        return { current, host: this.hosts.reaching(current) };
      },
      // A cancelled CREATING backup keeps its create operation id: its cancellation outcome ends that operation.
      transition: (tx, { current }, operationId) =>
        casBackup(tx, current.id, { from: BACKUP_ACTIONS.delete.from, ...(input.expectedVersion ? { expectedVersion: input.expectedVersion } : {}) }, { status: 'deleting', operationId }),
      whyNot: (tx, { current }) => backupWhyNot(tx, 'delete', current.id, input.expectedVersion),
      operation: (backup, { host }, operationId) => {
        const payload: AgentDeleteBackup = { operationId, backupId: backup.id, volumeId: backup.volumeId };
        return { projectId: backup.projectId, resourceId: backup.id, command: agentCommand(host, BACKUP_COMMAND.deleteBackup, BACKUP_KIND.agentDeleteBackup, payload) };
      },
      announce: (_deps, backup) => this.deps.backupLive.publish('UPDATED', backup),
      result: (backup, operation) => ({ backup, operation, alreadyDeleted: false }),
    });
  }

  /** Verifying changes no row but its operation: the transition is the backup as read. */
  verify(principal: Principal | null, input: VerifyBackupRequest): Promise<BackupResult> {
    return runMutation<Backup, Backup, BackupResult>(this.deps, principal, {
      kind: 'verify_backup',
      resourceType: 'backup',
      authorize: requireWriter,
      load: async (em, p) => {
        const backup = await this.startable(p, input.id, em, 'verify');
        return backup;
      },
      transition: async (_tx, backup) => backup,
      operation: (backup, _loaded, operationId) => {
        const payload: AgentVerifyBackup = { operationId, backupId: backup.id, volumeId: backup.volumeId };
        return { projectId: backup.projectId, resourceId: backup.id, command: agentCommand(this.hosts.reaching(backup), BACKUP_COMMAND.verifyBackup, BACKUP_KIND.agentVerifyBackup, payload) };
      },
      announce: () => undefined,
      result: (backup, operation) => ({ backup, operation: operation! }),
    });
  }

  exportRecord(principal: Principal | null, id: string): Promise<string> {
    return exportRecord(this.deps, principal, id, (p, backupId) => this.mustSee(p, backupId, this.deps.db.fork()));
  }

  importRecord(principal: Principal | null, input: ImportBackupRecordRequest): Promise<BackupResult> {
    return importRecord(this.deps, this.hosts, principal, input);
  }

  /** The backup the caller may see, if `action` may start from its status (INVALID_STATE otherwise). */
  private async startable(p: Principal, id: string, em: EntityManager, action: BackupAction): Promise<Backup> {
    const backup = await this.mustSee(p, id, em);
    assertBackupCanStart(action, backup.status, backup.id);
    return backup;
  }

  private async mustSee(p: Principal, id: string, em: EntityManager, opts: { deleted?: boolean } = {}): Promise<Backup> {
    const b = await this.visible(p, id, em, opts);
    if (!b) throw new NotFoundError('Backup', id);
    return b;
  }
}


async function backupWhyNot(em: EntityManager, action: BackupAction, id: string, expectedVersion: number | null | undefined): Promise<Error> {
  const t = BACKUP_ACTIONS[action];
  return casRefusal('Backup', id, await findBackup(em, id), expectedVersion, t.from, (status) => backupInvalidState(t, status, id));
}

async function volumeRefusal(em: EntityManager, id: string, action: 'backup' | 'backupInUse' | 'restore'): Promise<Error> {
  const t = actionTransition(action);
  return casRefusal('Volume', id, await findVolume(em, id), undefined, t.from, (status) => invalidState(t, status, id));
}
