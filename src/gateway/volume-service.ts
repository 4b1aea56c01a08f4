/**
 * What the volume mutations do, independent of GraphQL: validate, check the state
 * machine, commit the change and its operation (with the command to send) in one
 * transaction, then publish. Resolvers are thin wrappers around this.
 */
import { createHash, randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import {
  COMMAND,
  KIND,
  subjects,
  type Bus,
  type ScheduleCreate,
  type ScheduleExtend,
} from '../bus/index.js';
import type { FlintConfig } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import {
  casVolume,
  countSnapshotsOfVolume,
  findOperation,
  findVolume,
  Operation,
  Volume,
  VolumeType,
  type Db,
  type OutboxCommand,
  type Principal,
} from '../db/index.js';
import {
  actionTransition,
  assertCanStart,
  BadInputError,
  checkDescription,
  checkIdempotencyKey,
  checkMetadata,
  checkName,
  checkSize,
  checkZone,
  ConflictError,
  invalidState,
  InvalidStateError,
  NotFoundError,
  Problems,
  type VolumeAction,
} from '../domain/index.js';
import { canSee, requireWriter } from '../domain/access.js';
import type {
  CreateVolumeRequest,
  DeleteVolumeRequest,
  ExtendVolumeRequest,
  RevertVolumeRequest,
  UpdateVolumeRequest,
  VolumeResult,
  VolumeServiceApi,
} from '../resolvers/index.js';
import type { LiveHub } from './live.js';
import { dispatchOrDefer } from './outbox.js';
import { checkCopyInput, copySize, copySource, revertVolume, sourcePool } from './volume-copy.js';
import { announceVolumeDelete, startVolumeDelete } from './volume-delete.js';

export interface GatewayDeps {
  config: FlintConfig;
  db: Db;
  bus: Bus;
  live: LiveHub;
  log: Logger;
}

/** Implements what the resolvers call (`VolumeServiceApi`). */
export class VolumeService implements VolumeServiceApi {
  constructor(private readonly deps: GatewayDeps) {}

  /** The volume if it exists, is not deleted, and the caller may see it. */
  async visible(p: Principal, id: string, em = this.deps.db.fork()): Promise<Volume | null> {
    const v = await findVolume(em, id);
    return v && v.status !== 'deleted' && canSee(p, v.projectId) ? v : null;
  }

  async create(principal: Principal | null, input: CreateVolumeRequest): Promise<VolumeResult> {
    const p = requireWriter(principal);
    const problems = new Problems();
    checkName(problems, 'name', input.name, true);
    checkSize(problems, 'sizeGiB', input.sizeGiB);
    checkCopyInput(problems, input);
    checkDescription(problems, input.description);
    const metadata = checkMetadata(problems, input.metadata) ?? {};
    checkZone(problems, input.availabilityZone);
    checkIdempotencyKey(problems, input.idempotencyKey);
    problems.throwIfAny();

    const em = this.deps.db.fork();
    const source = await copySource(em, p, input);
    const sizeGiB = copySize(input.sizeGiB, source);
    let type: VolumeType | null = null;
    if (input.volumeType) {
      type = await em.findOne(VolumeType, { name: input.volumeType }, { disableIdentityMap: true });
      if (!type || (!type.isPublic && p.role !== 'admin')) {
        throw new BadInputError([`volume type "${input.volumeType}" does not exist; list the available ones with the volumeTypes query`]);
      }
    }
    const requestHash = createHash('sha256')
      .update(
        JSON.stringify([
          input.name,
          input.sizeGiB ?? null,
          input.description ?? null,
          type?.name ?? null,
          input.availabilityZone ?? null,
          metadata,
          // Only for copies, so the hashes of blank volumes stay as they were.
          ...(source ? [{ snapshotId: input.snapshotId ?? null, sourceVolumeId: input.sourceVolumeId ?? null }] : []),
        ]),
      )
      .digest('hex');
    if (input.idempotencyKey) {
      const replay = await this.replay(em, p, input.idempotencyKey, requestHash);
      if (replay) return replay;
    }

    const volumeId = randomUUID();
    const operationId = randomUUID();
    const command: ScheduleCreate = {
      operationId,
      request: {
        volumeId,
        projectId: p.projectId,
        sizeGiB,
        availabilityZone: input.availabilityZone ?? null,
        volumeType: type ? { name: type.name, extraSpecs: type.extraSpecs } : null,
        ...(source ? { sameBackendAs: sourcePool(source) } : {}),
      },
      attempt: 1,
      excluded: [],
      ...(source ? { source: source.snapshotId ? { volumeId: source.volumeId, snapshotId: source.snapshotId } : { volumeId: source.volumeId } } : {}),
    };
    let created: VolumeResult;
    try {
      created = await em.transactional(async (tx) => {
        const volume = tx.create(Volume, {
          id: volumeId,
          projectId: p.projectId,
          name: input.name,
          description: input.description ?? null,
          sizeGiB,
          status: 'creating',
          volumeType: type?.name ?? null,
          availabilityZone: input.availabilityZone ?? source?.availabilityZone ?? this.deps.config.availabilityZone,
          snapshotId: source?.snapshotId ?? null,
          sourceVolumeId: source && !source.snapshotId ? source.volumeId : null,
          metadata,
          idempotencyKey: input.idempotencyKey ?? null,
          requestHash,
        });
        const operation = this.newOperation(tx, p.projectId, 'create_volume', volumeId, {
          subject: subjects.scheduler(COMMAND.createVolume),
          kind: KIND.scheduleCreate,
          payload: command,
          msgId: `${operationId}:schedule:1`,
        }, operationId);
        return { volume, operation };
      });
    } catch (err) {
      // Two requests with one idempotency key raced: the loser answers with the winner's volume.
      if (err instanceof UniqueConstraintViolationException && input.idempotencyKey) {
        const replay = await this.replay(this.deps.db.fork(), p, input.idempotencyKey, requestHash);
        if (replay) return replay;
      }
      throw err;
    }
    this.deps.live.publish('CREATED', created.volume);
    this.deps.live.publishOperation(created.operation);
    void dispatchOrDefer(this.deps.bus, this.deps.db, created.operation, this.deps.log);
    return created;
  }

  private async replay(em: EntityManager, p: Principal, key: string, requestHash: string): Promise<VolumeResult | null> {
    const existing = await em.findOne(Volume, { projectId: p.projectId, idempotencyKey: key }, { disableIdentityMap: true });
    if (!existing) return null;
    if (existing.requestHash !== requestHash) {
      throw new ConflictError(
        `idempotencyKey "${key}" was already used for volume ${existing.id} with other parameters; use a new key for a different volume.`,
        { volumeId: existing.id },
      );
    }
    const operation = await em.findOneOrFail(
      Operation,
      { resourceId: existing.id, kind: 'create_volume' },
      { disableIdentityMap: true },
    );
    return { volume: existing, operation };
  }

  async update(principal: Principal | null, input: UpdateVolumeRequest): Promise<VolumeResult> {
    const p = requireWriter(principal);
    const problems = new Problems();
    checkName(problems, 'name', input.name, false);
    checkDescription(problems, input.description);
    const metadata = checkMetadata(problems, input.metadata);
    problems.throwIfAny();
    const changes: Partial<Pick<Volume, 'name' | 'description' | 'metadata'>> = {};
    if (input.name !== undefined && input.name !== null) changes.name = input.name;
    if (input.description !== undefined) changes.description = input.description;
    if (metadata !== undefined) changes.metadata = metadata;
    if (Object.keys(changes).length === 0) throw new BadInputError(['give at least one of name, description, metadata to change']);

    const em = this.deps.db.fork();
    const current = await this.mustSee(p, input.id, em);
    const { volume, operation } = await em.transactional(async (tx) => {
      const volume = await casVolume(tx, current.id, guard('update', input.expectedVersion), changes);
      if (!volume) throw await this.whyNot(tx, 'update', current.id, input.expectedVersion);
      const operation = this.newOperation(tx, current.projectId, 'update_volume', current.id, null);
      operation.status = 'succeeded';
      operation.finishedAt = new Date();
      return { volume, operation };
    });
    this.deps.live.publish('UPDATED', volume);
    this.deps.live.publishOperation(operation);
    return { volume, operation };
  }

  async delete(principal: Principal | null, input: DeleteVolumeRequest): Promise<VolumeResult> {
    const p = requireWriter(principal);
    const em = this.deps.db.fork();
    const current = await this.mustSee(p, input.id, em);
    assertCanStart('delete', current.status, current.id);
    const snapshotCount = await countSnapshotsOfVolume(em, current.id);
    if (snapshotCount > 0 && !input.cascade) {
      throw new InvalidStateError(
        `Volume ${current.id} has ${snapshotCount} snapshot${snapshotCount === 1 ? '' : 's'}; delete them first or pass cascade: true.`,
        { snapshotCount },
      );
    }
    // The version read: a snapshot taken meanwhile bumps it, and this delete is then a CONFLICT.
    const casGuard = { from: actionTransition('delete').from, expectedVersion: input.expectedVersion ?? current.version };
    const result = await em.transactional(async (tx) => {
      const started = await startVolumeDelete(tx, current, casGuard, { cascade: !!input.cascade });
      if (!started) throw await this.whyNot(tx, 'delete', current.id, input.expectedVersion);
      return started;
    });
    announceVolumeDelete(this.deps, result);
    return { volume: result.volume, operation: result.operation };
  }

  async extend(principal: Principal | null, input: ExtendVolumeRequest): Promise<VolumeResult> {
    const p = requireWriter(principal);
    const problems = new Problems();
    checkSize(problems, 'newSizeGiB', input.newSizeGiB);
    problems.throwIfAny();
    const em = this.deps.db.fork();
    const current = await this.mustSee(p, input.id, em);
    assertCanStart('extend', current.status, current.id);
    if (input.newSizeGiB <= current.sizeGiB) {
      throw new BadInputError([`newSizeGiB must be larger than the current ${current.sizeGiB} GiB; volumes only grow`]);
    }
    const type = current.volumeType ? await em.findOne(VolumeType, { name: current.volumeType }, { disableIdentityMap: true }) : null;
    const operationId = randomUUID();
    const result = await em.transactional(async (tx) => {
      const volume = await casVolume(tx, current.id, { from: ['available'], expectedVersion: input.expectedVersion ?? current.version }, { status: 'extending' });
      if (!volume) throw await this.whyNot(tx, 'extend', current.id, input.expectedVersion);
      const payload: ScheduleExtend = {
        operationId,
        volumeId: current.id,
        host: current.host!,
        pool: current.pool!,
        oldSizeGiB: current.sizeGiB,
        newSizeGiB: input.newSizeGiB,
        volumeType: type ? { name: type.name, extraSpecs: type.extraSpecs } : null,
      };
      const operation = this.newOperation(tx, current.projectId, 'extend_volume', current.id, {
        subject: subjects.scheduler(COMMAND.extendVolume),
        kind: KIND.scheduleExtend,
        payload,
        msgId: `${operationId}:schedule.extend`,
      }, operationId);
      return { volume, operation };
    });
    this.deps.live.publish('UPDATED', result.volume);
    this.deps.live.publishOperation(result.operation);
    void dispatchOrDefer(this.deps.bus, this.deps.db, result.operation, this.deps.log);
    return result;
  }

  /** See `revertVolume` (src/gateway/volume-copy.ts). */
  async revertToSnapshot(principal: Principal | null, input: RevertVolumeRequest): Promise<VolumeResult> {
    return revertVolume(this.deps, principal, input, (tx, id, expectedVersion) => this.whyNot(tx, 'revert', id, expectedVersion));
  }

  async operation(principal: Principal, id: string): Promise<Operation | null> {
    const op = await findOperation(this.deps.db.fork(), id);
    return op && canSee(principal, op.projectId) ? op : null;
  }

  private async mustSee(p: Principal, id: string, em: EntityManager): Promise<Volume> {
    const v = await this.visible(p, id, em);
    if (!v) throw new NotFoundError('Volume', id);
    return v;
  }

  private newOperation(tx: EntityManager, projectId: string, kind: string, resourceId: string, command: OutboxCommand | null, id = randomUUID()): Operation {
    return tx.create(Operation, { id, projectId, kind, resourceType: 'volume', resourceId, command });
  }

  /** Why a compare-and-set did not apply, as the error the caller should see. */
  private async whyNot(em: EntityManager, action: VolumeAction, id: string, expectedVersion: number | null | undefined): Promise<Error> {
    const now = await findVolume(em, id);
    if (!now || now.status === 'deleted') return new NotFoundError('Volume', id);
    if (expectedVersion !== undefined && expectedVersion !== null && now.version !== expectedVersion) {
      return new ConflictError(
        `Volume ${id} is at version ${now.version}, not the expected ${expectedVersion}: someone changed it. Read it again and retry with the new version.`,
        { currentVersion: now.version },
      );
    }
    if (expectedVersion === undefined || expectedVersion === null) {
      // It changed under us between the read and the write without a version given.
      const t = actionTransition(action);
      if (!(t.from as readonly string[]).includes(now.status)) return invalidState(t, now.status, id);
      return new ConflictError(`Volume ${id} changed while this request ran; retry.`, { currentVersion: now.version });
    }
    return invalidState(actionTransition(action), now.status, id);
  }
}

function guard(action: VolumeAction, expectedVersion: number | null | undefined) {
  const from = actionTransition(action).from;
  return expectedVersion === undefined || expectedVersion === null ? { from } : { from, expectedVersion };
}
