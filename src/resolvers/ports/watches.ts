/**
 * What the subscriptions need from the gateway (src/gateway/queries/watches.ts implements it):
 * each watch checks who asks and what it may see, and yields only the events that match.
 */
import type { LiveAttachment, LiveBackup, LiveMessage, LiveOperation, LiveSnapshot, LiveVolume } from '../../bus/index.js';
import type { BackupProgressValue } from './backups.js';
import type { Principal } from '../../db/index.js';

/** Conditions on a volume after its change; absent ones match anything. */
export interface VolumeEventFilter {
  status?: readonly string[] | null;
  name?: string | null;
  availabilityZone?: string | null;
  projectId?: string | null;
}

/** Conditions on a snapshot after its change; absent ones match anything. */
export interface SnapshotEventFilter {
  status?: readonly string[] | null;
  volumeId?: string | null;
  name?: string | null;
  projectId?: string | null;
}

/** Conditions on a backup after its change; absent ones match anything. */
export interface BackupEventFilter {
  status?: readonly string[] | null;
  volumeId?: string | null;
  name?: string | null;
  projectId?: string | null;
}

/** Conditions on an attachment after its change; absent ones match anything. */
export interface AttachmentEventFilter {
  status?: readonly string[] | null;
  volumeId?: string | null;
  instanceId?: string | null;
  projectId?: string | null;
}

export interface OperationEventFilter {
  status?: readonly string[] | null;
  kind?: string | null;
  resourceId?: string | null;
}

export interface MessageEventFilter {
  resourceType?: string | null;
  resourceId?: string | null;
}

export interface WatchesPort {
  /** One volume: as it is now, then every change until it is DELETED. NOT_FOUND when the caller may not see it. */
  volume(p: Principal | null, id: string): Promise<AsyncIterableIterator<LiveVolume>>;
  /**
   * Every change of a volume the caller may see that matches, from now on; with `sinceSeq`,
   * first the current state of each volume of the project changed after that seq (the change
   * feed's replay), then the live ones, without a gap. RESYNC_REQUIRED when the feed cannot
   * replay from it; BAD_USER_INPUT for a bad seq, or an admin's without `filter.projectId`.
   */
  volumes(p: Principal | null, filter?: VolumeEventFilter | null, sinceSeq?: number | null): Promise<AsyncIterableIterator<LiveVolume>>;
  /** As `volumes`, for snapshots. */
  snapshots(p: Principal | null, filter?: SnapshotEventFilter | null, sinceSeq?: number | null): Promise<AsyncIterableIterator<LiveSnapshot>>;
  /** One snapshot: as it is now, then every change until it is DELETED. */
  snapshot(p: Principal | null, id: string): Promise<AsyncIterableIterator<LiveSnapshot>>;
  /** As `volumes`, for backups. */
  backups(p: Principal | null, filter?: BackupEventFilter | null, sinceSeq?: number | null): Promise<AsyncIterableIterator<LiveBackup>>;
  /** As `volumes`, for attachments: DELETED when one became DETACHED. */
  attachments(p: Principal | null, filter?: AttachmentEventFilter | null, sinceSeq?: number | null): Promise<AsyncIterableIterator<LiveAttachment>>;
  /** One attachment: as it is now, then every change until it is DETACHED. */
  attachment(p: Principal | null, id: string): Promise<AsyncIterableIterator<LiveAttachment>>;
  /** One backup: as it is now, then every change until it is DELETED. */
  backup(p: Principal | null, id: string): Promise<AsyncIterableIterator<LiveBackup>>;
  /** How far one backup's running work has come, until it has another status. */
  backupProgress(p: Principal | null, id: string): Promise<AsyncIterableIterator<BackupProgressValue>>;
  /** One operation: as it is now, then each change until it is SUCCEEDED or FAILED. NOT_FOUND when the caller may not see it. */
  operation(p: Principal | null, id: string): Promise<AsyncIterableIterator<LiveOperation>>;
  /** Every operation the caller may see that matches, as it is created or changes. */
  operations(p: Principal | null, filter?: OperationEventFilter | null): AsyncIterableIterator<LiveOperation>;
  /** Every user message the caller may see that matches, as it is added. */
  messages(p: Principal | null, filter?: MessageEventFilter | null): AsyncIterableIterator<LiveMessage>;
}
