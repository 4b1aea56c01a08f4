/**
 * What the resolvers need from the gateway, as types only: the gateway implements it
 * (src/gateway/volume-service.ts) and hands it over in the context, so this folder never
 * imports the gateway.
 */
import type { Operation, Principal, Volume } from '../db/index.js';

export interface CreateVolumeRequest {
  name: string;
  sizeGiB: number;
  description?: string | null;
  volumeType?: string | null;
  availabilityZone?: string | null;
  metadata?: unknown;
  idempotencyKey?: string | null;
}

export interface UpdateVolumeRequest {
  id: string;
  name?: string | null;
  description?: string | null;
  metadata?: unknown;
  expectedVersion?: number | null;
}

export interface DeleteVolumeRequest {
  id: string;
  expectedVersion?: number | null;
}

export interface ExtendVolumeRequest {
  id: string;
  newSizeGiB: number;
  expectedVersion?: number | null;
}

export interface VolumeResult {
  volume: Volume;
  operation: Operation;
}

export interface VolumeServiceApi {
  /** The volume if it exists, is not deleted, and the caller may see it. */
  visible(p: Principal, id: string): Promise<Volume | null>;
  create(p: Principal | null, input: CreateVolumeRequest): Promise<VolumeResult>;
  update(p: Principal | null, input: UpdateVolumeRequest): Promise<VolumeResult>;
  delete(p: Principal | null, input: DeleteVolumeRequest): Promise<VolumeResult>;
  extend(p: Principal | null, input: ExtendVolumeRequest): Promise<VolumeResult>;
  operation(p: Principal, id: string): Promise<Operation | null>;
}
