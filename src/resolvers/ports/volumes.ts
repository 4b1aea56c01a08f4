/** What the volume resolvers need from the gateway (src/gateway/mutations/volume.ts implements it). */
import type { Operation, Principal, Volume } from '../../db/index.js';
import type { DeleteAnswer } from './deletes.js';

export interface CreateVolumeRequest {
  name: string;
  /** Required unless a source is given; then it defaults to the source's size. */
  sizeGiB?: number | null;
  description?: string | null;
  volumeType?: string | null;
  availabilityZone?: string | null;
  metadata?: unknown;
  idempotencyKey?: string | null;
  /** Create it from this snapshot (at most one of `snapshotId`, `sourceVolumeId`). */
  snapshotId?: string | null;
  /** Create it as a clone of this volume. */
  sourceVolumeId?: string | null;
  /** Allow several attachments at once (also set by the type's extra spec `multiattach`). */
  multiattach?: boolean | null;
}

export interface RevertVolumeRequest {
  volumeId: string;
  snapshotId: string;
}

export interface UpdateVolumeRequest {
  id: string;
  name?: string | null;
  description?: string | null;
  metadata?: unknown;
  expectedVersion?: number | null;
  /** Makes the change safe to retry: the same key and request answer with the first operation (src/gateway/mutations/kernel.ts). */
  idempotencyKey?: string | null;
}

export interface DeleteVolumeRequest {
  id: string;
  expectedVersion?: number | null;
  /** Delete the volume's snapshots with it; without it a volume with snapshots is INVALID_STATE. */
  cascade?: boolean | null;
}

export interface ExtendVolumeRequest {
  id: string;
  newSizeGiB: number;
  expectedVersion?: number | null;
  /** Makes the change safe to retry: the same key and request answer with the first operation (src/gateway/mutations/kernel.ts). */
  idempotencyKey?: string | null;
}

export interface VolumeResult {
  volume: Volume;
  operation: Operation;
}

/** An update or extend: `operation` is null when there was nothing to change (the volume already is so). */
export interface VolumeChangeResult {
  volume: Volume;
  operation: Operation | null;
}

export interface VolumeDeleteResult extends DeleteAnswer {
  volume: Volume;
}

/** Placement constraints the gateway adds to a volume it creates (see `PlacementRequest`). */
export interface VolumePlacement {
  nearBackupRepository?: { backupId: string; repository: string; repositoryId: string | null; host: string | null };
}

export interface VolumesPort {
  /** The volume if it exists, is not deleted, and the caller may see it. */
  visible(p: Principal, id: string): Promise<Volume | null>;
  /** `placement`: internal constraints on where the volume may go (a restore's backup repository), never from the API. */
  create(p: Principal | null, input: CreateVolumeRequest, placement?: VolumePlacement): Promise<VolumeResult>;
  update(p: Principal | null, input: UpdateVolumeRequest): Promise<VolumeChangeResult>;
  delete(p: Principal | null, input: DeleteVolumeRequest): Promise<VolumeDeleteResult>;
  extend(p: Principal | null, input: ExtendVolumeRequest): Promise<VolumeChangeResult>;
  /** Reverts the volume to its latest snapshot (`reverting`, then AVAILABLE or ERROR). */
  revertToSnapshot(p: Principal | null, input: RevertVolumeRequest): Promise<VolumeResult>;
  operation(p: Principal, id: string): Promise<Operation | null>;
}
