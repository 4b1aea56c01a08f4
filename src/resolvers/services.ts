/** The gateway's service as resolvers see it (implemented in src/gateway/volume-service.ts). */
import type { Operation, Principal, Volume } from '../db/index.js';

export interface VolumeResult {
  volume: Volume;
  operation: Operation;
}

export interface VolumeServiceApi {
  visible(p: Principal, id: string): Promise<Volume | null>;
  create(p: Principal | null, input: {
    name: string;
    sizeGiB: number;
    description?: string | null;
    volumeType?: string | null;
    availabilityZone?: string | null;
    metadata?: unknown;
    idempotencyKey?: string | null;
  }): Promise<VolumeResult>;
  update(p: Principal | null, input: { id: string; name?: string | null; description?: string | null; metadata?: unknown; expectedVersion?: number | null }): Promise<VolumeResult>;
  delete(p: Principal | null, input: { id: string; expectedVersion?: number | null }): Promise<VolumeResult>;
  extend(p: Principal | null, input: { id: string; newSizeGiB: number; expectedVersion?: number | null }): Promise<VolumeResult>;
  operation(p: Principal, id: string): Promise<Operation | null>;
}
