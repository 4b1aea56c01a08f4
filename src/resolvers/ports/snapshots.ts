/** What the snapshot resolvers need from the gateway (src/gateway/mutations/snapshot.ts implements it). */
import type { Operation, Principal, Snapshot } from '../../db/index.js';
import type { DeleteAnswer } from './deletes.js';

export interface CreateSnapshotRequest {
  volumeId: string;
  name: string;
  description?: string | null;
  force?: boolean | null;
  /** Checked by the gateway (an object of string values). */
  metadata?: unknown;
  idempotencyKey?: string | null;
}

export interface UpdateSnapshotRequest {
  id: string;
  name?: string | null;
  description?: string | null;
  /** Replaces the whole map; checked by the gateway. */
  metadata?: unknown;
  expectedVersion?: number | null;
  /** Makes the change safe to retry: the same key and request answer with the first operation (src/gateway/mutations/kernel.ts). */
  idempotencyKey?: string | null;
}

export interface DeleteSnapshotRequest {
  id: string;
  expectedVersion?: number | null;
}

export interface SnapshotResult {
  snapshot: Snapshot;
  operation: Operation;
}

/** An update: `operation` is null when there was nothing to change (it already had those values). */
export interface SnapshotChangeResult {
  snapshot: Snapshot;
  operation: Operation | null;
}

export interface SnapshotDeleteResult extends DeleteAnswer {
  snapshot: Snapshot;
}

export interface SnapshotsPort {
  /** The snapshot if it exists, is not DELETED, and the caller may see it. */
  visible(p: Principal, id: string): Promise<Snapshot | null>;
  create(p: Principal | null, input: CreateSnapshotRequest): Promise<SnapshotResult>;
  update(p: Principal | null, input: UpdateSnapshotRequest): Promise<SnapshotChangeResult>;
  delete(p: Principal | null, input: DeleteSnapshotRequest): Promise<SnapshotDeleteResult>;
}
