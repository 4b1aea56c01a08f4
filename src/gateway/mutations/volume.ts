/**
 * The volume mutations, each a declaration of its rules for the kernel (kernel.ts): who may,
 * what input is valid, what is read, the compare-and-set, the operation and its command,
 * and what is announced. Copies and reverts are in volume-copy.ts, the delete's start in
 * volume-delete.ts.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import { COMMAND, KIND, subjects, type ScheduleCreate, type ScheduleExtend } from '../../bus/index.js';
import { casVolume, countSnapshotsOfVolume, findOperation, findVolume, latestOperationOf, Volume, VolumeType, type Operation, type Principal } from '../../db/index.js';
import { copyEncryptionProblem, newVolumeKey, ServiceUnavailableError } from '../../domain/index.js';
import type { SecretBox } from '../../domain/secret-box.js';
import { actionTransition, assertCanStart, BadInputError, checkDescription, checkIdempotencyKey, checkMetadata, checkName, checkSize, checkZone, invalidState, InvalidStateError, NotFoundError, type VolumeAction } from '../../domain/index.js';
import { canSee, requireWriter } from '../../domain/access.js';
import { movesGeneration, VOLUME_USER_FIELDS } from '../../domain/generation.js';
import { multiattachFromExtraSpecs, volumeHasAttachments } from '../../domain/attachment-states.js';
import { liveAttachmentsOf } from '../../db/attachment-store.js';
import type {
  CreateVolumeRequest,
  DeleteVolumeRequest,
  ExtendVolumeRequest,
  RevertVolumeRequest,
  UpdateVolumeRequest,
  VolumeChangeResult,
  VolumeDeleteResult,
  VolumeResult,
  VolumesPort,
  VolumePlacement,
} from '../../resolvers/index.js';
import type { GatewayDeps } from '../deps.js';
import { casGuard, casRefusal } from './cas.js';
import { changeKey, RETRY, runMutation } from './kernel.js';
import { settledDelete } from './settled.js';
import { newVolumeClaim } from './quota-claims.js';
import { checkCopyInput, copySize, copySource, revertRules, sourcePool, type CopySource } from './volume-copy.js';
import { announceVolumeDelete, deleteOperation, queueVolumeDelete, startVolumeDelete, type DeleteChange } from './volume-delete.js';
import { usableVolumeType } from './volume-type-lookup.js';

/** Implements what the resolvers call (`VolumesPort`). */
export class VolumeMutations implements VolumesPort {
  /** @param secrets seals the keys of encrypted volumes; without it, creating one is SERVICE_UNAVAILABLE. */
  constructor(
    private readonly deps: GatewayDeps,
    private readonly secrets?: SecretBox,
  ) {}

  /** The volume if it exists, is not deleted, and the caller may see it. */
  async visible(p: Principal, id: string, em = this.deps.db.fork()): Promise<Volume | null> {
    return visibleVolume(em, p, id);
  }

  create(principal: Principal | null, input: CreateVolumeRequest, placement?: VolumePlacement): Promise<VolumeResult> {
    const volumeId = randomUUID();
    let metadata: Record<string, string> = {};
    return runMutation<{ projectId: string; source: CopySource | null; type: VolumeType | null; requestHash: string }, { volume: Volume }, VolumeResult>(this.deps, principal, {
      kind: 'create_volume',
      resourceType: 'volume',
      authorize: requireWriter,
      validate: (problems) => {
        checkName(problems, 'name', input.name, true);
        checkSize(problems, 'sizeGiB', input.sizeGiB);
        checkCopyInput(problems, input);
        checkDescription(problems, input.description);
        metadata = checkMetadata(problems, input.metadata) ?? {};
        checkZone(problems, input.availabilityZone);
        checkIdempotencyKey(problems, input.idempotencyKey);
      },
      load: async (em, p) => {
        const source = await copySource(em, p, input);
        // Missing, or private and not granted: one NOT_FOUND (volume-type-lookup.ts).
        let type = input.volumeType ? await usableVolumeType(em, p, input.volumeType) : null;
        // A copy of an encrypted volume without a type of its own takes the source's (it must be encrypted too).
        if (source?.encrypted && !input.volumeType && source.volumeType) type = await em.findOne(VolumeType, { name: source.volumeType }, { disableIdentityMap: true });
        const what = source ? (source.snapshotId ? `Snapshot ${source.snapshotId} (of volume ${source.volumeId})` : `Volume ${source.volumeId}`) : '';
        const copyProblem = source ? copyEncryptionProblem(what, source.encrypted, type?.name ?? null, type?.encryption ?? null) : null;
        if (copyProblem) throw new BadInputError([copyProblem]);
        if (type?.encryption && !this.secrets) throw new ServiceUnavailableError('This gateway has no secret key to seal volume keys with; an operator must give it FLINT_SECRET_KEY_FILE.');
        return { projectId: p.projectId, source, type, requestHash: createRequestHash(input, metadata, source, type) };
      },
      idempotency: ({ requestHash }, p) =>
        input.idempotencyKey
          ? { entity: Volume, projectId: p.projectId, key: input.idempotencyKey, requestHash, replayed: (row, operation) => ({ volume: row as Volume, operation }) }
          : null,
      transition: async (tx, { projectId, source, type, requestHash }) => {
        const sizeGiB = copySize(input.sizeGiB, source);
        const volume = tx.create(Volume, {
          id: volumeId,
          projectId,
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
          // Its own random key, sealed for this volume (the id is the associated data).
          encryptionKey: type?.encryption ? this.secrets!.seal(newVolumeKey(), volumeId) : null,
        });
        return { volume };
      },
      operation: ({ volume }, { source, type }, operationId) => {
        const command: ScheduleCreate = {
          operationId,
          request: {
            volumeId: volume.id,
            projectId: volume.projectId,
            sizeGiB: volume.sizeGiB,
            availabilityZone: input.availabilityZone ?? null,
            volumeType: type ? { name: type.name, extraSpecs: type.extraSpecs } : null,
            ...(source ? { sameBackendAs: sourcePool(source) } : {}),
            ...(placement?.nearBackupRepository ? { nearBackupRepository: placement.nearBackupRepository } : {}),
            ...(type?.encryption && volume.encryptionKey ? { encryption: { ...type.encryption, sealedKey: volume.encryptionKey } } : {}),
          },
          attempt: 1,
          excluded: [],
          ...(source ? { source: source.snapshotId ? { volumeId: source.volumeId, snapshotId: source.snapshotId } : { volumeId: source.volumeId } } : {}),
        };
        return {
          projectId: volume.projectId,
          resourceId: volume.id,
          command: { subject: subjects.scheduler(COMMAND.createVolume), kind: KIND.scheduleCreate, payload: command, msgId: `${operationId}:schedule:1` },
        };
      },
      quota: ({ volume }) => newVolumeClaim(volume),
      announce: (deps, { volume }) => deps.live.publish('CREATED', volume),
      result: ({ volume }, operation) => ({ volume, operation: operation! }),
    });
  }

  update(principal: Principal | null, input: UpdateVolumeRequest): Promise<VolumeChangeResult> {
    const changes: Partial<Pick<Volume, 'name' | 'description' | 'metadata'>> = {};
    return runMutation<Volume, Volume, VolumeChangeResult>(this.deps, principal, {
      kind: 'update_volume',
      resourceType: 'volume',
      authorize: requireWriter,
      validate: (problems) => {
        checkName(problems, 'name', input.name, false);
        checkDescription(problems, input.description);
        checkIdempotencyKey(problems, input.idempotencyKey);
        const metadata = checkMetadata(problems, input.metadata);
        if (input.name !== undefined && input.name !== null) changes.name = input.name;
        if (input.description !== undefined) changes.description = input.description;
        if (metadata !== undefined) changes.metadata = metadata;
      },
      load: (em, p) => {
        if (Object.keys(changes).length === 0) throw new BadInputError(['give at least one of name, description, metadata to change']);
        return mustSeeVolume(em, p, input.id);
      },
      operationKey: (current) => changeKey(current, input.idempotencyKey, changes, (operation) => ({ volume: current, operation })),
      // Already so (a retried rename): nothing to record, whatever the version says.
      settled: (_em, current) => (movesGeneration<Volume>(VOLUME_USER_FIELDS, current, changes) ? null : { volume: current, operation: null }),
      transition: (tx, current) => casVolume(tx, current.id, casGuard(actionTransition('update').from, input.expectedVersion), changes),
      whyNot: (tx, current) => volumeWhyNot(tx, 'update', current.id, input.expectedVersion),
      operation: (volume) => ({ projectId: volume.projectId, resourceId: volume.id }),
      announce: (deps, volume) => deps.live.publish('UPDATED', volume),
      result: (volume, operation) => ({ volume, operation: operation! }),
    });
  }

  delete(principal: Principal | null, input: DeleteVolumeRequest): Promise<VolumeDeleteResult> {
    return runMutation<Volume, DeleteChange, VolumeDeleteResult>(this.deps, principal, {
      kind: 'delete_volume',
      resourceType: 'volume',
      authorize: requireWriter,
      attempts: 3,
      // A DELETED volume of the caller's project is found too: deleting it again is done already.
      load: (em, p) => mustSeeVolume(em, p, input.id, { deleted: true }),
      settled: async (em, volume) => {
        const answer = await settledDelete(em, volume, { gone: ['deleted'], removedBy: [{ resourceId: volume.id, kinds: ['delete_volume', 'unmanage_volume'] }] });
        return answer && { volume, ...answer };
      },
      check: async (em, current) => {
        // Queued until its create ends (queueVolumeDelete).
        if (current.status === 'creating') return current;
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
        return current;
      },
      // At the version read: a snapshot taken meanwhile bumps it, and this delete is then a CONFLICT.
      transition: (tx, current, operationId) =>
        current.status === 'creating'
          ? queueVolumeDelete(tx, current, input.expectedVersion ?? current.version)
          : startVolumeDelete(tx, current, { from: actionTransition('delete').from, expectedVersion: input.expectedVersion ?? current.version }, { cascade: !!input.cascade, operationId }),
      whyNot: async (tx, current) => {
        // The volume moved while the delete was being queued (the scheduler placed it, or its
        // create ended): read it again and queue, or delete it as it is now.
        const now = await findVolume(tx, current.id);
        if (current.status === 'creating' && now && now.version !== current.version && input.expectedVersion == null) return RETRY;
        return volumeWhyNot(tx, 'delete', current.id, input.expectedVersion);
      },
      operation: (started) => deleteOperation(started, this.deps.config.operationTimeoutSeconds),
      announce: (deps, started) => announceVolumeDelete(deps, started),
      result: (started, operation) => ({ volume: started.volume, operation, alreadyDeleted: false }),
    });
  }

  extend(principal: Principal | null, input: ExtendVolumeRequest): Promise<VolumeChangeResult> {
    return runMutation<{ current: Volume; type: VolumeType | null }, Volume, VolumeChangeResult>(this.deps, principal, {
      kind: 'extend_volume',
      resourceType: 'volume',
      authorize: requireWriter,
      validate: (problems) => {
        checkSize(problems, 'newSizeGiB', input.newSizeGiB);
        checkIdempotencyKey(problems, input.idempotencyKey);
      },
      load: async (em, p) => {
        const current = await mustSeeVolume(em, p, input.id);
        const type = current.volumeType ? await em.findOne(VolumeType, { name: current.volumeType }, { disableIdentityMap: true }) : null;
        return { current, type };
      },
      operationKey: ({ current }) => changeKey(current, input.idempotencyKey, { newSizeGiB: input.newSizeGiB }, (operation) => ({ volume: current, operation })),
      // A retried extend: it has the size already (nothing to do), or is growing to it (the extend under way).
      settled: async (em, { current }) => {
        if (current.status === 'extending' && current.pendingSizeGiB === input.newSizeGiB) {
          const running = await latestOperationOf(em, current.id, ['extend_volume'], ['pending', 'running']);
          return running && { volume: current, operation: running };
        }
        return current.status !== 'extending' && input.newSizeGiB === current.sizeGiB ? { volume: current, operation: null } : null;
      },
      check: (_em, { current, type }) => {
        assertCanStart('extend', current.status, current.id);
        if (input.newSizeGiB < current.sizeGiB) throw new BadInputError([`newSizeGiB must be at least the current ${current.sizeGiB} GiB; volumes only grow`]);
        return { current, type };
      },
      transition: (tx, { current }) =>
        casVolume(tx, current.id, { from: actionTransition('extend').from, expectedVersion: input.expectedVersion ?? current.version }, { status: 'extending', pendingSizeGiB: input.newSizeGiB }),
      quota: (_volume, { current }) => {
        const growth = input.newSizeGiB - current.sizeGiB;
        return { projectId: current.projectId, gigabytes: growth, volumeType: current.volumeType ? { name: current.volumeType, gigabytes: growth } : null, volumeSizeGiB: input.newSizeGiB };
      },
      whyNot: (tx, { current }) => volumeWhyNot(tx, 'extend', current.id, input.expectedVersion),
      operation: (_volume, { current, type }, operationId) => {
        const payload: ScheduleExtend = {
          operationId,
          volumeId: current.id,
          host: current.host!,
          pool: current.pool!,
          oldSizeGiB: current.sizeGiB,
          newSizeGiB: input.newSizeGiB,
          volumeType: type ? { name: type.name, extraSpecs: type.extraSpecs } : null,
        };
        return {
          projectId: current.projectId,
          resourceId: current.id,
          command: { subject: subjects.scheduler(COMMAND.extendVolume), kind: KIND.scheduleExtend, payload, msgId: `${operationId}:schedule.extend` },
        };
      },
      announce: (deps, volume) => deps.live.publish('UPDATED', volume),
      result: (volume, operation) => ({ volume, operation: operation! }),
    });
  }

  /** See `revertRules` (volume-copy.ts). */
  revertToSnapshot(principal: Principal | null, input: RevertVolumeRequest): Promise<VolumeResult> {
    return runMutation(this.deps, principal, revertRules(input, (tx, id, expectedVersion) => volumeWhyNot(tx, 'revert', id, expectedVersion)));
  }

  async operation(principal: Principal, id: string): Promise<Operation | null> {
    const op = await findOperation(this.deps.db.fork(), id);
    return op && canSee(principal, op.projectId) ? op : null;
  }
}

/** The volume if it exists, is not deleted (unless `deleted`), and the caller may see it. */
export async function visibleVolume(em: EntityManager, p: Principal, id: string, opts: { deleted?: boolean } = {}): Promise<Volume | null> {
  const v = await findVolume(em, id);
  return v && (opts.deleted || v.status !== 'deleted') && canSee(p, v.projectId) ? v : null;
}

/** The volume the caller may see (a DELETED one too with `deleted`), or NOT_FOUND. */
export async function mustSeeVolume(em: EntityManager, p: Principal, id: string, opts: { deleted?: boolean } = {}): Promise<Volume> {
  const v = await visibleVolume(em, p, id, opts);
  if (!v) throw new NotFoundError('Volume', id);
  return v;
}

/** Why a volume's compare-and-set did not apply, as the error the caller should see (a matching version means the state was why). */
export async function volumeWhyNot(em: EntityManager, action: VolumeAction, id: string, expectedVersion: number | null | undefined): Promise<Error> {
  const t = actionTransition(action);
  return casRefusal('Volume', id, await findVolume(em, id), expectedVersion, t.from, (status) => invalidState(t, status, id), { versionPinsState: true });
}

/** The hash an idempotent create compares: the request's parameters, as resolved (the type's name). */
function createRequestHash(input: CreateVolumeRequest, metadata: Record<string, string>, source: CopySource | null, type: VolumeType | null): string {
  return createHash('sha256')
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
}
