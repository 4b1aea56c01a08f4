/** What the admin resolvers need from the gateway (src/gateway/mutations/admin.ts implements it). */
import type { Operation, Principal, Snapshot, StatusAudit, Volume } from '../../db/index.js';
import type { SnapshotStatus } from '../../domain/snapshot-states.js';
import type { VolumeStatus } from '../../domain/volume-states.js';

export interface ResetVolumeStatusRequest {
  id: string;
  status: VolumeStatus;
  reason: string;
}

export interface ResetSnapshotStatusRequest {
  id: string;
  status: SnapshotStatus;
  reason: string;
}

export interface ForceDeleteVolumeRequest {
  id: string;
  reason: string;
}

export interface AdminPort {
  resetVolumeStatus(p: Principal | null, input: ResetVolumeStatusRequest): Promise<{ volume: Volume; audit: StatusAudit }>;
  resetSnapshotStatus(p: Principal | null, input: ResetSnapshotStatusRequest): Promise<{ snapshot: Snapshot; audit: StatusAudit }>;
  forceDeleteVolume(p: Principal | null, input: ForceDeleteVolumeRequest): Promise<{ volume: Volume; operation: Operation; audit: StatusAudit }>;
}
