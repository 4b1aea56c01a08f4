/**
 * The resources whose status an agent's outcome, a late outcome and a missed deadline move:
 * for each, its compare-and-set and how a change is announced. The three paths
 * (apply-outcome.ts, late.ts, ../sweepers/deadlines.ts) look a resource up here instead of
 * each writing its own `if volume … else if snapshot`.
 */
import type { EntityManager } from '@mikro-orm/knex';
import { casAttachment, casBackup, casSnapshot, casVolume, findAttachment, findBackup, findSnapshot, findVolume, type Attachment, type AttachmentChanges, type Backup, type BackupChanges, type Snapshot, type SnapshotChanges, type Volume, type VolumeChanges } from '../../db/index.js';
import type { AttachmentStatus } from '../../domain/attachment-states.js';
import type { BackupStatus } from '../../domain/backup-states.js';
import type { SnapshotStatus } from '../../domain/snapshot-states.js';
import type { VolumeStatus } from '../../domain/volume-states.js';
import type { LivePublisher } from '../deps.js';
import type { BackupLive } from '../live/backup.js';

/** The compare-and-set guard: the states the change may start from, and optionally the version read. */
export interface StatusGuard<S> {
  from: readonly S[];
  expectedVersion?: number;
}

export interface StatusResource<Row extends { id: string; projectId: string; status: S }, S extends string, Changes> {
  type: 'volume' | 'snapshot' | 'backup' | 'attachment';
  cas(tx: EntityManager, id: string, guard: StatusGuard<S>, changes: Changes): Promise<Row | null>;
  /** The row as it is now (null: none). */
  find(em: EntityManager, id: string): Promise<Row | null>;
  /** After the commit: UPDATED, or DELETED once it is. */
  announce(live: LivePublisher, row: Row): void;
  /** What its log lines name. */
  logFields(row: Row): Record<string, unknown>;
}

export const VOLUME_RESOURCE: StatusResource<Volume, VolumeStatus, VolumeChanges> = {
  type: 'volume',
  cas: (tx, id, guard, changes) => casVolume(tx, id, guard, changes),
  find: (em, id) => findVolume(em, id),
  announce: (live, v) => live.publish(v.status === 'deleted' ? 'DELETED' : 'UPDATED', v),
  logFields: (v) => ({ volumeId: v.id }),
};

export const SNAPSHOT_RESOURCE: StatusResource<Snapshot, SnapshotStatus, SnapshotChanges> = {
  type: 'snapshot',
  cas: (tx, id, guard, changes) => casSnapshot(tx, id, guard, changes),
  find: (em, id) => findSnapshot(em, id),
  announce: (live, s) => live.publishSnapshot(s.status === 'deleted' ? 'DELETED' : 'UPDATED', s),
  logFields: (s) => ({ snapshotId: s.id, volumeId: s.volumeId }),
};

export const ATTACHMENT_RESOURCE: StatusResource<Attachment, AttachmentStatus, AttachmentChanges> = {
  type: 'attachment',
  cas: (tx, id, guard, changes) => casAttachment(tx, id, guard, changes),
  find: (em, id) => findAttachment(em, id),
  announce: (live, a) => live.publishAttachment('UPDATED', a),
  logFields: (a) => ({ attachmentId: a.id, volumeId: a.volumeId }),
};

/** Backups are announced on their own feed (../live/backup.ts), which the resource is made with. */
export function backupResource(backupLive: Pick<BackupLive, 'publish'>): StatusResource<Backup, BackupStatus, BackupChanges> {
  return {
    type: 'backup',
    cas: (tx, id, guard, changes) => casBackup(tx, id, guard, changes),
    find: (em, id) => findBackup(em, id),
    announce: (_live, b) => backupLive.publish(b.status === 'deleted' ? 'DELETED' : 'UPDATED', b),
    logFields: (b) => ({ backupId: b.id, volumeId: b.volumeId }),
  };
}
