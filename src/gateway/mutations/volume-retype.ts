/**
 * `retypeVolume` (members of the volume's project): the volume goes RETYPING and the
 * scheduler decides (src/scheduler/migration-decision.ts, `decideRetype`): in place (the
 * type changes, AVAILABLE), a migration to the best pool that satisfies the new type
 * (ON_DEMAND; the steps of src/gateway/mutations/volume-migration.ts, the type set at the switch), or
 * a refusal (AVAILABLE, unchanged, the operation FAILED with the reason and a user message).
 * AVAILABLE volumes only for now; IN_USE volumes will be retyped once attachments exist.
 *
 * A retype never changes a volume's encryption (Cinder refuses it too): between an encrypted
 * and a plain type, or two encryptions, it is BAD_USER_INPUT saying what to do instead.
 */
import { RETYPE_COMMAND, RETYPE_KIND as RETYPE_MESSAGE_KIND, subjects, type ScheduleRetype } from '../../bus/index.js';
import { casVolume, countSnapshotsOfVolume, findVolume, latestOperationOf, VolumeType as VolumeTypeRow, type Principal, type Volume, type VolumeType } from '../../db/index.js';
import { canSee, requireWriter } from '../../domain/access.js';
import { actionTransition, assertCanStart, BadInputError, checkIdempotencyKey, invalidState, NotFoundError, retypeEncryptionProblem } from '../../domain/index.js';
import type { RetypeVolumeRequest } from '../../resolvers/ports/migration.js';
import type { VolumeChangeResult } from '../../resolvers/index.js';
import { casRefusal } from './cas.js';
import { changeKey, runMutation } from './kernel.js';
import { usableVolumeType } from './volume-type-lookup.js';
import type { GatewayDeps } from '../deps.js';

export function retypeVolume(deps: GatewayDeps, principal: Principal | null, input: RetypeVolumeRequest): Promise<VolumeChangeResult> {
  const t = actionTransition('retype');
  return runMutation<{ volume: Volume & { host: string; pool: string }; type: VolumeType; snapshotCount: number }, Volume, VolumeChangeResult>(deps, principal, {
    kind: 'retype_volume',
    resourceType: 'volume',
    authorize: requireWriter,
    validate: (problems) => {
      if (!input.id) problems.add('id is required');
      if (!input.volumeType) problems.add('volumeType is required: the name of the new volume type');
      if (input.migrationPolicy !== 'never' && input.migrationPolicy !== 'on_demand') problems.add('migrationPolicy must be NEVER or ON_DEMAND');
      checkIdempotencyKey(problems, input.idempotencyKey);
    },
    load: async (em, p) => {
      const volume = await findVolume(em, input.id);
      if (!volume || volume.status === 'deleted' || !canSee(p, volume.projectId)) throw new NotFoundError('Volume', input.id);
      // Honours the access granted to the project; a private type without it is NOT_FOUND, as a missing one.
      const type = await usableVolumeType(em, p, input.volumeType);
      return { volume: volume as Volume & { host: string; pool: string }, type, snapshotCount: 0 };
    },
    operationKey: ({ volume, type }) => changeKey(volume, input.idempotencyKey, { volumeType: type.name, migrationPolicy: input.migrationPolicy }, (operation) => ({ volume, operation })),
    // A retried retype: the volume has the type already (nothing to do), or is being retyped to it (the retype under way).
    settled: async (em, { volume, type }) => {
      if (volume.status === 'retyping' && volume.pendingVolumeType === type.name) {
        const running = await latestOperationOf(em, volume.id, ['retype_volume'], ['pending', 'running']);
        return running && { volume, operation: running };
      }
      return volume.status !== 'retyping' && type.name === volume.volumeType ? { volume, operation: null } : null;
    },
    check: async (em, { volume, type }) => {
      const current = volume.volumeType ? await em.findOne(VolumeTypeRow, { name: volume.volumeType }, { disableIdentityMap: true }) : null;
      // An encrypted volume whose type says nothing (not expected) counts as encrypted like the target, if the target is.
      const from = volume.encryptionKey ? (current?.encryption ?? type.encryption ?? { provider: 'LUKS', cipher: 'unknown', keySize: 0 }) : null;
      const encryptionProblem = retypeEncryptionProblem(volume.id, from, type.encryption, type.name);
      if (encryptionProblem) throw new BadInputError([encryptionProblem]);
      assertCanStart('retype', volume.status, volume.id);
      if (!volume.host || !volume.pool) throw invalidState(t, volume.status, volume.id);
      return { volume, type, snapshotCount: await countSnapshotsOfVolume(em, volume.id) };
    },
    transition: (tx, { volume, type }) =>
      casVolume(tx, volume.id, { from: t.from, expectedVersion: input.expectedVersion ?? volume.version }, { status: 'retyping', pendingVolumeType: type.name }),
    // The volume counts in its new type from now (reserved) until the retype ends; the project's own totals do not move.
    quota: (_retyping, { volume, type }) => ({ projectId: volume.projectId, volumeType: { name: type.name, volumes: 1, gigabytes: volume.sizeGiB } }),
    whyNot: async (tx, { volume }) =>
      casRefusal('Volume', volume.id, await findVolume(tx, volume.id), input.expectedVersion, t.from, (s) => invalidState(t, s, volume.id), { versionPinsState: true }),
    operation: (_retyping, { volume, type, snapshotCount }, operationId) => {
      const command: ScheduleRetype = {
        operationId,
        volumeId: volume.id,
        projectId: volume.projectId,
        host: volume.host,
        pool: volume.pool,
        sizeGiB: volume.sizeGiB,
        availabilityZone: volume.availabilityZone,
        volumeType: { name: type.name, extraSpecs: type.extraSpecs },
        policy: input.migrationPolicy,
        snapshotCount,
      };
      return {
        projectId: volume.projectId,
        resourceId: volume.id,
        command: { subject: subjects.scheduler(RETYPE_COMMAND), kind: RETYPE_MESSAGE_KIND.schedule, payload: command, msgId: `${operationId}:${RETYPE_MESSAGE_KIND.schedule}` },
      };
    },
    announce: (d, retyping, { volume, type }, operation) => {
      d.log.info({ volumeId: volume.id, from: volume.volumeType, to: type.name, policy: input.migrationPolicy, operationId: operation?.id }, 'volume retype started');
      d.live.publish('UPDATED', retyping);
    },
    result: (volume, operation) => ({ volume, operation }),
  });
}
