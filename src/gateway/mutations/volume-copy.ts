/**
 * New volumes from old (create from a snapshot, clone a volume) and revert to a snapshot:
 * the checks the gateway makes before the work goes to the scheduler or the agent. The
 * driver copies within the source's pool, so a copy carries the source's `host@pool` as
 * `sameBackendAs` (the scheduler's SameBackendFilter) and the source in the agent command.
 */
import type { EntityManager } from '@mikro-orm/knex';
import { COMMAND, KIND, poolId, subjects, type AgentRevert } from '../../bus/index.js';
import { casVolume, findSnapshot, findVolume, snapshotsOfVolume, type Principal, type Snapshot, type Volume } from '../../db/index.js';
import { assertCanStart, BadInputError, InvalidStateError, NotFoundError, Problems } from '../../domain/index.js';
import { canSee, requireWriter } from '../../domain/access.js';
import type { CreateVolumeRequest, RevertVolumeRequest, VolumeResult } from '../../resolvers/index.js';
import type { MutationRules } from './kernel.js';

/** What a new volume is copied from, as checked: visible, AVAILABLE, placed on a pool. */
export interface CopySource {
  snapshotId: string | null;
  /** The volume whose pool holds the bytes (the snapshot's volume, or the cloned one). */
  volumeId: string;
  /** Size of the snapshot, or of the cloned volume, GiB. */
  sizeGiB: number;
  host: string;
  pool: string;
  availabilityZone: string;
  /** The source volume is encrypted (a copy of it must be, too). */
  encrypted: boolean;
  /** The source volume's type: a copy of an encrypted one without a type of its own takes it. */
  volumeType: string | null;
}

/** Adds the input problems of a copy: at most one source; `sizeGiB` required when there is none. */
export function checkCopyInput(problems: Problems, input: Pick<CreateVolumeRequest, 'snapshotId' | 'sourceVolumeId' | 'sizeGiB'>): void {
  const hasSnapshot = input.snapshotId !== undefined && input.snapshotId !== null;
  const hasVolume = input.sourceVolumeId !== undefined && input.sourceVolumeId !== null;
  if (hasSnapshot && hasVolume) problems.add('give at most one of snapshotId and sourceVolumeId: a volume is created from one source');
  if (hasSnapshot && input.snapshotId === '') problems.add('snapshotId must not be empty');
  if (hasVolume && input.sourceVolumeId === '') problems.add('sourceVolumeId must not be empty');
  if (!hasSnapshot && !hasVolume && (input.sizeGiB === undefined || input.sizeGiB === null)) {
    problems.add('sizeGiB is required unless snapshotId or sourceVolumeId is given (then it defaults to the source\'s size)');
  }
}

/**
 * The source of a copy, or null for a blank volume.
 * @throws NotFoundError when the caller cannot see it; InvalidStateError when it is not AVAILABLE.
 */
export async function copySource(em: EntityManager, p: Principal, input: Pick<CreateVolumeRequest, 'snapshotId' | 'sourceVolumeId'>): Promise<CopySource | null> {
  if (input.snapshotId) {
    const s = await findSnapshot(em, input.snapshotId);
    if (!s || s.status === 'deleted' || !canSee(p, s.projectId)) throw new NotFoundError('Snapshot', input.snapshotId);
    if (s.status !== 'available') {
      throw new InvalidStateError(
        `Snapshot ${s.id} is ${s.status.toUpperCase()}; a volume can only be created from an AVAILABLE snapshot.` +
          (s.status === 'creating' ? ' Wait until it is AVAILABLE, then retry.' : ''),
        { currentStatus: s.status.toUpperCase(), allowedStatuses: ['AVAILABLE'] },
      );
    }
    const v = await findVolume(em, s.volumeId);
    if (!v || v.status === 'deleted' || !v.host || !v.pool) {
      throw new InvalidStateError(`Snapshot ${s.id} has no volume on a pool any more, so no volume can be created from it.`, {
        currentStatus: s.status.toUpperCase(),
      });
    }
    return { snapshotId: s.id, volumeId: v.id, sizeGiB: s.sizeGiB, host: v.host, pool: v.pool, availabilityZone: v.availabilityZone, ...encryptionOf(v) };
  }
  if (input.sourceVolumeId) {
    const v = await findVolume(em, input.sourceVolumeId);
    if (!v || v.status === 'deleted' || !canSee(p, v.projectId)) throw new NotFoundError('Volume', input.sourceVolumeId);
    if (v.status !== 'available' || !v.host || !v.pool) {
      throw new InvalidStateError(
        `Volume ${v.id} is ${v.status.toUpperCase()}; only an AVAILABLE volume can be cloned.` +
          (v.status === 'error' || v.status.startsWith('error_') ? '' : ' Wait until it is AVAILABLE, then retry.'),
        { currentStatus: v.status.toUpperCase(), allowedStatuses: ['AVAILABLE'] },
      );
    }
    return { snapshotId: null, volumeId: v.id, sizeGiB: v.sizeGiB, host: v.host, pool: v.pool, availabilityZone: v.availabilityZone, ...encryptionOf(v) };
  }
  return null;
}

function encryptionOf(v: Volume): Pick<CopySource, 'encrypted' | 'volumeType'> {
  return { encrypted: v.encryptionKey !== null, volumeType: v.volumeType };
}

/** The new volume's size: as asked (at least the source's), or the source's. */
export function copySize(requested: number | null | undefined, source: CopySource | null): number {
  if (!source) return requested!;
  if (requested === undefined || requested === null) return source.sizeGiB;
  if (requested < source.sizeGiB) {
    const what = source.snapshotId ? `snapshot ${source.snapshotId}` : `volume ${source.volumeId}`;
    throw new BadInputError([`sizeGiB must be at least the ${source.sizeGiB} GiB of ${what} (got ${requested}); omit it to use the source's size`]);
  }
  return requested;
}

/** `host@pool` of the source, for the placement request. */
export function sourcePool(source: CopySource): string {
  return poolId(source.host, source.pool);
}

/** The newest snapshot of a volume that is not DELETED, whatever its status. */
function latest(snapshots: Snapshot[]): Snapshot | undefined {
  return snapshots.at(-1);
}

/**
 * `revertVolumeToSnapshot`: only to the volume's latest snapshot, AVAILABLE, of the
 * volume's size (Cinder refuses the same). The volume goes REVERTING and the agent
 * holding it reverts it; the outcome comes back on the volume's event subject.
 */
export function revertRules(
  input: RevertVolumeRequest,
  whyNot: (tx: EntityManager, id: string, expectedVersion: number) => Promise<Error>,
): MutationRules<Volume, Volume, VolumeResult> {
  return {
    kind: 'revert_volume',
    resourceType: 'volume',
    authorize: requireWriter,
    validate: (problems) => {
      if (!input.volumeId) problems.add('volumeId is required');
      if (!input.snapshotId) problems.add('snapshotId is required');
    },
    load: async (em, p) => {
      const volume = await findVolume(em, input.volumeId);
      if (!volume || volume.status === 'deleted' || !canSee(p, volume.projectId)) throw new NotFoundError('Volume', input.volumeId);
      const snapshot = await findSnapshot(em, input.snapshotId);
      if (!snapshot || snapshot.status === 'deleted' || !canSee(p, snapshot.projectId)) throw new NotFoundError('Snapshot', input.snapshotId);
      if (snapshot.volumeId !== volume.id) {
        throw new BadInputError([`snapshot ${snapshot.id} is a snapshot of volume ${snapshot.volumeId}, not of volume ${volume.id}`]);
      }
      assertCanStart('revert', volume.status, volume.id);
      if (snapshot.status !== 'available') {
        throw new InvalidStateError(`Snapshot ${snapshot.id} is ${snapshot.status.toUpperCase()}; a volume can only be reverted to an AVAILABLE snapshot.`, {
          currentStatus: snapshot.status.toUpperCase(),
          allowedStatuses: ['AVAILABLE'],
        });
      }
      const newest = latest(await snapshotsOfVolume(em, volume.id));
      if (newest && newest.id !== snapshot.id) {
        throw new InvalidStateError(
          `Snapshot ${snapshot.id} is not the latest snapshot of volume ${volume.id}; the latest is ${newest.id} ("${newest.name}", ${newest.status.toUpperCase()}). ` +
            'A volume can only be reverted to its latest snapshot (as in Cinder): delete the newer snapshots first, or create a new volume from this one.',
          { latestSnapshotId: newest.id },
        );
      }
      if (snapshot.sizeGiB !== volume.sizeGiB) {
        throw new InvalidStateError(
          `Volume ${volume.id} is ${volume.sizeGiB} GiB and snapshot ${snapshot.id} was taken at ${snapshot.sizeGiB} GiB; a volume extended since its snapshot cannot be reverted to it (as in Cinder). Create a new volume from the snapshot instead.`,
          { volumeSizeGiB: volume.sizeGiB, snapshotSizeGiB: snapshot.sizeGiB },
        );
      }
      if (!volume.host || !volume.pool) throw new InvalidStateError(`Volume ${volume.id} is on no pool, so it cannot be reverted.`, {});
      return volume;
    },
    // At the version read: a snapshot taken meanwhile bumps it, and this revert is then refused.
    transition: (tx, volume) => casVolume(tx, volume.id, { from: ['available'], expectedVersion: volume.version }, { status: 'reverting' }),
    whyNot: (tx, volume) => whyNot(tx, volume.id, volume.version),
    operation: (_reverting, volume, operationId) => {
      const payload: AgentRevert = { operationId, volumeId: volume.id, snapshotId: input.snapshotId, pool: volume.pool! };
      return {
        projectId: volume.projectId,
        resourceId: volume.id,
        command: { subject: subjects.agent(volume.host!, COMMAND.revertVolume), kind: KIND.agentRevert, payload, msgId: `${operationId}:${KIND.agentRevert}` },
      };
    },
    announce: (deps, reverting) => deps.live.publish('UPDATED', reverting),
    result: (volume, operation) => ({ volume, operation: operation! }),
  };
}
