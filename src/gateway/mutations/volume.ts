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
  type ScheduleCreate,
  type ScheduleExtend,
} from '../../bus/index.js';
import {
  casVolume,
  countSnapshotsOfVolume,
  findOperation,
  findVolume,
  Volume,
  VolumeType,
  type Operation,
  type Principal,
} from '../../db/index.js';
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
  invalidState,
  InvalidStateError,
  NotFoundError,
  Problems,
  type VolumeAction,
} from '../../domain/index.js';
import { canSee, requireWriter } from '../../domain/access.js';
import type {
  CreateVolumeRequest,
  DeleteVolumeRequest,
  ExtendVolumeRequest,
  RevertVolumeRequest,
  UpdateVolumeRequest,
  VolumeResult,
  VolumeServiceApi,
  VolumePlacement,
} from '../../resolvers/index.js';
import type { GatewayDeps } from '../deps.js';
import { announceAndDispatch, casGuard, casRefusal, newOperation, replayCreate, succeeded } from './kernel.js';
import { usableVolumeType } from './volume-type-lookup.js';
import { checkCopyInput, copySize, copySource, revertVolume, sourcePool } from './volume-copy.js';
import { announceVolumeDelete, startVolumeDelete } from './volume-delete.js';
import { multiattachFromExtraSpecs, volumeHasAttachments } from '../../domain/attachment-states.js';
import { liveAttachmentsOf } from '../../db/attachment-store.js';

/** Implements what the resolvers call (`VolumeServiceApi`). */
export class VolumeService implements VolumeServiceApi {
  constructor(private readonly deps: GatewayDeps) {}

  /** The volume if it exists, is not deleted, and the caller may see it. */
  async visible(p: Principal, id: string, em = this.deps.db.fork()): Promise<Volume | null> {
    const v = await findVolume(em, id);
    return v && v.status !== 'deleted' && canSee(p, v.projectId) ? v : null;
  }

  async create(principal: Principal | null, input: CreateVolumeRequest, placement?: VolumePlacement): Promise<VolumeResult> {
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
      // Missing, or private and not granted: one NOT_FOUND (src/gateway/mutations/volume-type-lookup.ts).
      type = await usableVolumeType(em, p, input.volumeType);
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
          // Only when asked for, so the hashes of other volumes stay as they were.
          ...(input.multiattach ? [{ multiattach: true }] : []),
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
        ...(placement?.nearBackupRepository ? { nearBackupRepository: placement.nearBackupRepository } : {}),
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
          multiattach: !!input.multiattach || multiattachFromExtraSpecs(type?.extraSpecs),
        });
        const operation = newOperation(tx, 'volume', p.projectId, 'create_volume', volumeId, {
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
    announceAndDispatch(this.deps, created.operation);
    return created;
  }

  private async replay(em: EntityManager, p: Principal, key: string, requestHash: string): Promise<VolumeResult | null> {
    const found = await replayCreate(em, Volume, 'volume', p.projectId, key, requestHash);
    return found && { volume: found.existing, operation: found.operation };
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
      const operation = succeeded(newOperation(tx, 'volume', current.projectId, 'update_volume', current.id, null));
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
    const attachments = await liveAttachmentsOf(em, current.id);
    if (attachments.length > 0) throw volumeHasAttachments(current.id, attachments);
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
      const volume = await casVolume(tx, current.id, { from: actionTransition('extend').from, expectedVersion: input.expectedVersion ?? current.version }, { status: 'extending' });
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
      const operation = newOperation(tx, 'volume', current.projectId, 'extend_volume', current.id, {
        subject: subjects.scheduler(COMMAND.extendVolume),
        kind: KIND.scheduleExtend,
        payload,
        msgId: `${operationId}:schedule.extend`,
      }, operationId);
      return { volume, operation };
    });
    this.deps.live.publish('UPDATED', result.volume);
    announceAndDispatch(this.deps, result.operation);
    return result;
  }

  /** See `revertVolume` (src/gateway/mutations/volume-copy.ts). */
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

  /** Why a compare-and-set did not apply, as the error the caller should see (a matching version means the state was why). */
  private async whyNot(em: EntityManager, action: VolumeAction, id: string, expectedVersion: number | null | undefined): Promise<Error> {
    const t = actionTransition(action);
    return casRefusal('Volume', id, await findVolume(em, id), expectedVersion, t.from, (status) => invalidState(t, status, id), { versionPinsState: true });
  }
}

function guard(action: VolumeAction, expectedVersion: number | null | undefined) {
  return casGuard(actionTransition(action).from, expectedVersion);
}
