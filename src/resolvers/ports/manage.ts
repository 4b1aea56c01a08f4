/** What the manage resolvers need from the gateway (src/gateway/mutations/manage.ts implements it). */
import type { Principal } from '../../db/index.js';
import type { VolumeResult } from './volumes.js';

export interface ManageVolumeRequest {
  host: string;
  pool: string;
  reference: string;
  name: string;
  description?: string | null;
  volumeType?: string | null;
  availabilityZone?: string | null;
  projectId?: string | null;
  idempotencyKey?: string | null;
  metadata?: unknown;
}

export interface UnmanageVolumeRequest {
  id: string;
  expectedVersion?: number | null;
}

export interface ManageableImageView {
  reference: string;
  sizeBytes: number;
  format: string | null;
  safeToManage: boolean;
  reasonNotSafe: string | null;
}

export interface ManagePort {
  manage(p: Principal | null, input: ManageVolumeRequest): Promise<VolumeResult>;
  unmanage(p: Principal | null, input: UnmanageVolumeRequest): Promise<VolumeResult>;
  manageable(p: Principal | null, host: string, pool: string): Promise<ManageableImageView[]>;
}
