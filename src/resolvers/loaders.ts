/**
 * Per-request DataLoaders for nested fields: every `Volume.snapshots` (or `messages`,
 * `attachments`, `backups`, `Snapshot.volume`, …) asked for in one tick of one request
 * becomes one `… IN (…)` statement (src/db/batch-reads.ts), so a page of 50 volumes with
 * their snapshots costs a few statements, not 51.
 *
 * Loaders batch but do not memoise (`cache: false`): a subscription's context lives for
 * every event it sends, and a mutation's payload must see what the mutation just wrote,
 * so a cached row could be stale. Keys repeated within a batch are read once.
 */
import DataLoader from 'dataloader';
import {
  accessProjectsOfMany,
  attachmentsByIds,
  auditsOfMany,
  backupsByIds,
  backupsOfVolumes,
  liveAttachmentsOfVolumes,
  messagesForMany,
  snapshotsOfVolumes,
  volumesByIds,
  type Attachment,
  type Backup,
  type Db,
  type Principal,
  type Snapshot,
  type StatusAudit,
  type UserMessage,
  type Volume,
} from '../db/index.js';
import { canSee } from '../domain/index.js';

/** Keys per statement: far below SQLite's and PostgreSQL's limits on bound parameters. */
export const MAX_BATCH_KEYS = 1000;

/** Resources that carry user messages (`messages` fields). */
export type MessageResource = 'volume' | 'snapshot' | 'attachment' | 'backup';

export interface Loaders {
  /** The volume if it exists, is not DELETED, and `p` may see it (as `VolumeMutations.visible`). */
  visibleVolume(p: Principal, id: string): Promise<Volume | null>;
  /** The backup if it exists, is not DELETED, and `p` may see it (as `BackupMutations.visible`). */
  visibleBackup(p: Principal, id: string): Promise<Backup | null>;
  /** The attachment row, whatever its status (for its sealed CHAP secret). */
  attachment(id: string): Promise<Attachment | null>;
  /** The volume's snapshots that are not DELETED, oldest first (the caller has checked the volume is visible). */
  snapshotsOf(volumeId: string): Promise<Snapshot[]>;
  /** The volume's attachments that are not DETACHED, oldest first. */
  attachmentsOf(volumeId: string): Promise<Attachment[]>;
  /** The volume's backups that are not DELETED, oldest first. */
  backupsOf(volumeId: string): Promise<Backup[]>;
  /** Unexpired user messages of a resource, newest first. */
  messagesOf(resource: MessageResource, id: string): Promise<UserMessage[]>;
  /** Status audits of a volume, newest first. */
  volumeAuditsOf(volumeId: string): Promise<StatusAudit[]>;
  /** Projects granted a volume type, sorted. */
  accessProjectsOf(volumeTypeId: string): Promise<string[]>;
}

type Batch<V> = (em: ReturnType<Db['fork']>, keys: readonly string[]) => Promise<Map<string, V>>;
/** A batch read that skips the ORM (src/db/batch-reads.ts): it takes the database, not a unit of work. */
type RawBatch<V> = (db: Db, keys: readonly string[]) => Promise<Map<string, V>>;

/** The loaders of one request (one GraphQL operation); create them in the context factory. */
export function createLoaders(db: Db): Loaders {
  // Made on first use: most operations need one or two of them.
  const made = new Map<string, DataLoader<string, unknown>>();
  const ormBatch =
    <V>(batch: Batch<V>): RawBatch<V> =>
    (d, keys) =>
      batch(d.fork(), keys);
  function loader<V>(name: string, batch: RawBatch<V>, missing: V): DataLoader<string, V> {
    let l = made.get(name) as DataLoader<string, V> | undefined;
    if (!l) {
      l = new DataLoader<string, V>(
        async (keys) => {
          const found = await batch(db, keys);
          return keys.map((k) => found.get(k) ?? missing);
        },
        { cache: false, maxBatchSize: MAX_BATCH_KEYS },
      );
      made.set(name, l as DataLoader<string, unknown>);
    }
    return l;
  }
  const none: never[] = [];
  return {
    visibleVolume: async (p, id) => {
      const v = await loader<Volume | null>('volume', ormBatch(volumesByIds), null).load(id);
      return v && v.status !== 'deleted' && canSee(p, v.projectId) ? v : null;
    },
    visibleBackup: async (p, id) => {
      const b = await loader<Backup | null>('backup', ormBatch(backupsByIds), null).load(id);
      return b && b.status !== 'deleted' && canSee(p, b.projectId) ? b : null;
    },
    attachment: (id) => loader<Attachment | null>('attachment', ormBatch(attachmentsByIds), null).load(id),
    snapshotsOf: (volumeId) => loader<Snapshot[]>('snapshots', snapshotsOfVolumes, none).load(volumeId),
    attachmentsOf: (volumeId) => loader<Attachment[]>('attachments', liveAttachmentsOfVolumes, none).load(volumeId),
    backupsOf: (volumeId) => loader<Backup[]>('backups', ormBatch(backupsOfVolumes), none).load(volumeId),
    messagesOf: (resource, id) => loader<UserMessage[]>(`messages:${resource}`, ormBatch((em, ids) => messagesForMany(em, resource, ids)), none).load(id),
    volumeAuditsOf: (volumeId) => loader<StatusAudit[]>('audits:volume', ormBatch((em, ids) => auditsOfMany(em, 'volume', ids)), none).load(volumeId),
    accessProjectsOf: (volumeTypeId) => loader<string[]>('accessProjects', ormBatch(accessProjectsOfMany), none).load(volumeTypeId),
  };
}
