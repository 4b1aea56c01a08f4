/**
 * The ports: what the resolvers need from the gateway, as types only. The gateway implements
 * them (src/gateway/gateway.ts puts them together) and hands them over in the context, so
 * src/resolvers never imports the gateway, and a resolver only translates between GraphQL
 * and a port.
 */
import type { AdminPort } from './admin.js';
import type { AttachmentsPort } from './attachments.js';
import type { BackupsPort } from './backups.js';
import type { ClusterPort } from './cluster.js';
import type { ManagePort } from './manage.js';
import type { MigrationPort } from './migration.js';
import type { QuotasPort } from './quotas.js';
import type { ReadsPort } from './reads.js';
import type { SnapshotsPort } from './snapshots.js';
import type { TokensPort } from './tokens.js';
import type { TransfersPort } from './transfers.js';
import type { VolumeTypesPort } from './volume-types.js';
import type { VolumesPort } from './volumes.js';
import type { WatchesPort } from './watches.js';

export type * from './admin.js';
export type * from './attachments.js';
export type * from './backups.js';
export type * from './cluster.js';
export type * from './deletes.js';
export type * from './live.js';
export type * from './manage.js';
export type * from './migration.js';
export type * from './quotas.js';
export type * from './reads.js';
export type * from './snapshots.js';
export type * from './tokens.js';
export type * from './transfers.js';
export type * from './volume-types.js';
export type * from './volumes.js';
export type * from './watches.js';

export interface Ports {
  /** Volumes (src/gateway/mutations/volume.ts). */
  volumes: VolumesPort;
  /** Snapshots (src/gateway/mutations/snapshot.ts). */
  snapshots: SnapshotsPort;
  /** Attachments (src/gateway/mutations/attachment.ts). */
  attachments: AttachmentsPort;
  /** Admin actions: reset-state and force delete, audited (src/gateway/mutations/admin.ts). */
  admin: AdminPort;
  /** migrateVolume and retypeVolume (src/gateway/mutations/volume-migration.ts). */
  migration: MigrationPort;
  /** Backups (src/gateway/mutations/backup.ts). */
  backups: BackupsPort;
  /** Manage / unmanage of existing images (src/gateway/mutations/manage.ts). */
  manage: ManagePort;
  /** API tokens for admins (src/gateway/mutations/token.ts). */
  tokens: TokensPort;
  /** Volume types and their access lists (src/gateway/mutations/volume-type.ts). */
  volumeTypes: VolumeTypesPort;
  /** Quota sets: read, set by admins, recounted (src/gateway/mutations/quota.ts). */
  quotas: QuotasPort;
  /** Volume transfers between projects (src/gateway/mutations/transfer.ts). */
  transfers: TransfersPort;
  /** Lists and `node(id)` (src/gateway/queries/reads.ts). */
  reads: ReadsPort;
  /** Pools and services, now and as they change (src/gateway/queries/cluster.ts). */
  cluster: ClusterPort;
  /** The subscriptions: who may follow what, and the events that match (src/gateway/queries/watches.ts). */
  watches: WatchesPort;
}
