/** What every resolver receives: who is asking, and the services that do the work. */
import type { Bus, LiveAttachment, LiveMessage, LiveOperation, LiveSnapshot, LiveVolume, PoolStats, ServiceHeartbeat } from '../bus/index.js';
import type { Db, Principal } from '../db/index.js';
import type { SnapshotServiceApi, VolumeServiceApi } from './services.js';
import type { AdminServiceApi } from './admin-services.js';
import type { MigrationServiceApi } from './migration-services.js';
import type { AttachmentServiceApi } from './attachment-services.js';
import type { BackupServiceApi } from './backup-services.js';
import type { ManageServiceApi } from './manage-services.js';
import type { TokenServiceApi } from './token-services.js';
import type { Loaders } from './loaders.js';

export interface LiveApi {
  listen(accept: (ev: LiveVolume) => boolean, opts?: { first?: LiveVolume; until?: (ev: LiveVolume) => boolean }): AsyncIterableIterator<LiveVolume>;
  /** Snapshots as they are created or change; stale versions are skipped. */
  listenSnapshots(accept: (ev: LiveSnapshot) => boolean, opts?: { first?: LiveSnapshot; until?: (ev: LiveSnapshot) => boolean }): AsyncIterableIterator<LiveSnapshot>;
  /** Operations as they are created or change. */
  listenOperations(accept: (ev: LiveOperation) => boolean): AsyncIterableIterator<LiveOperation>;
  /** User messages as they are added. */
  listenMessages(accept: (ev: LiveMessage) => boolean): AsyncIterableIterator<LiveMessage>;
  /** Attachments as they are created or change; stale versions are skipped. */
  listenAttachments(accept: (ev: LiveAttachment) => boolean, opts?: { first?: LiveAttachment; until?: (ev: LiveAttachment) => boolean }): AsyncIterableIterator<LiveAttachment>;
}

/** Pool heartbeats with Flint's allocations (`host@pool` → GiB), read together. */
export interface PoolSnapshot {
  stats: PoolStats[];
  allocated: Map<string, number>;
}

/** Shared streams of the cluster's state for dashboards (src/gateway/live/cluster-feed.ts). */
export interface ClusterFeedApi {
  /** The pools now, then again after every heartbeat (a few times a second at most) and when one goes DOWN. */
  pools(): AsyncIterableIterator<PoolSnapshot>;
  /** The services' heartbeats now, then again on every change and when one goes DOWN. */
  services(): AsyncIterableIterator<ServiceHeartbeat[]>;
}

export interface Services {
  volumes: VolumeServiceApi;
  snapshots: SnapshotServiceApi;
  /** Attachments (src/gateway/mutations/attachment.ts). */
  attachments: AttachmentServiceApi;
  /** Admin actions: reset-state and force delete, audited (src/gateway/mutations/admin.ts). */
  admin: AdminServiceApi;
  /** migrateVolume and retypeVolume (src/gateway/mutations/volume-migration.ts). */
  migration: MigrationServiceApi;
  /** Backups (issue 5, src/gateway/mutations/backup.ts). */
  backups: BackupServiceApi;
  /** Manage / unmanage of existing images (src/gateway/mutations/manage.ts). */
  manage: ManageServiceApi;
  /** API tokens for admins (src/gateway/mutations/token.ts). */
  tokens: TokenServiceApi;
  db: Db;
  bus: Bus;
  /** Live volume events (src/gateway/live/hub.ts). */
  live: LiveApi;
  /** Latest heartbeat of every pool. */
  pools: { list(): PoolStats[] };
  /** Pools and services silent for three heartbeats are DOWN. */
  heartbeatSeconds: number;
  /** Pools and services as streams, for the `…Changed` subscriptions. */
  cluster: ClusterFeedApi;
}

export interface Context {
  principal: Principal | null;
  requestId: string;
  services: Services;
  /** Batched reads of nested fields, made for this operation (src/resolvers/loaders.ts). */
  loaders: Loaders;
  /**
   * `performance.now()` after which no resolver starts (the execution timeout,
   * src/gateway/limits/deadline.ts); absent for subscriptions and with the limits off.
   */
  deadline?: number;
}
