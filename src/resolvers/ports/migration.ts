/** What the migrate and retype resolvers need from the gateway (src/gateway/mutations/volume-migration.ts and volume-retype.ts implement it). */
import type { Principal } from '../../db/index.js';
import type { VolumeChangeResult, VolumeResult } from './volumes.js';

export interface MigrateVolumeRequest {
  id: string;
  host: string;
  pool: string;
  /** Skip the scheduler's filters (capacity is still reserved within the pool's limit). */
  force?: boolean | null;
  /** Makes the change safe to retry: the same key and request answer with the first operation (src/gateway/mutations/kernel.ts). */
  idempotencyKey?: string | null;
}

export interface RetypeVolumeRequest {
  id: string;
  /** Name of the new volume type. */
  volumeType: string;
  migrationPolicy: 'never' | 'on_demand';
  expectedVersion?: number | null;
  /** Makes the change safe to retry: the same key and request answer with the first operation (src/gateway/mutations/kernel.ts). */
  idempotencyKey?: string | null;
}

export interface MigrationPort {
  /** Admins: moves the volume's bytes to another pool (MAINTENANCE until it ends). */
  migrate(p: Principal | null, input: MigrateVolumeRequest): Promise<VolumeResult>;
  /** Members: changes the volume's type, in place or by a migration (RETYPING until it ends). */
  /** `operation` null: the volume already is of that type. */
  retype(p: Principal | null, input: RetypeVolumeRequest): Promise<VolumeChangeResult>;
}
