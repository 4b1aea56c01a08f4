/**
 * Reads of many keys in one statement, for the per-request DataLoaders of the GraphQL
 * layer (src/resolvers/loaders.ts): a page of 50 volumes with their snapshots is one
 * `… WHERE volume_id IN (…)`, not 50 queries. Each function keeps the filter and order of
 * its one-key sibling (`snapshotsOfVolume`, `messagesFor`, …) and answers a map from
 * key to rows; a key without rows is absent.
 */
import type { EntityManager } from '@mikro-orm/knex';
import { LIVE_ATTACHMENT_STATUSES } from '../domain/attachment-states.js';
import { Attachment } from './attachment-entity.js';
import { Backup, normaliseBigints } from './backup-store.js';
import { Snapshot, StatusAudit, UserMessage, Volume } from './entities.js';
import { VolumeTypeAccess } from './volume-type-access.js';
import type { Db } from './orm.js';
import type { PreparedQuery } from './prepared.js';
import { IN_LIST, listParam, statementOf } from './sql-lists.js';

function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list) list.push(row);
    else out.set(k, [row]);
  }
  return out;
}

const unique = (keys: readonly string[]): string[] => [...new Set(keys)];

/** Volumes by id, whatever their status (the caller applies visibility). */
export async function volumesByIds(em: EntityManager, ids: readonly string[]): Promise<Map<string, Volume>> {
  const rows = await em.find(Volume, { id: { $in: unique(ids) } }, { disableIdentityMap: true });
  return new Map(rows.map((v) => [v.id, v]));
}

/** Backups by id, whatever their status. */
export async function backupsByIds(em: EntityManager, ids: readonly string[]): Promise<Map<string, Backup>> {
  const rows = await em.find(Backup, { id: { $in: unique(ids) } }, { disableIdentityMap: true });
  return new Map(rows.map((b) => [b.id, normaliseBigints(b)]));
}

/** Attachments by id, whatever their status. */
export async function attachmentsByIds(em: EntityManager, ids: readonly string[]): Promise<Map<string, Attachment>> {
  const rows = await em.find(Attachment, { id: { $in: unique(ids) } }, { disableIdentityMap: true });
  return new Map(rows.map((a) => [a.id, a]));
}

/** A statement over rows whose `column` is one of a list (the one parameter), in both databases' syntax. */
function byList(table: string, column: string, rest: string): PreparedQuery {
  return statementOf((d) => `SELECT * FROM ${table} WHERE ${column} ${IN_LIST[d]} ${rest}`);
}

const SNAPSHOTS_OF_VOLUMES = byList('snapshot', 'volume_id', "AND status <> 'deleted' ORDER BY created_at ASC, id ASC");
const LIVE_ATTACHMENTS_OF_VOLUMES = byList(
  'attachment',
  'volume_id',
  `AND status IN (${LIVE_ATTACHMENT_STATUSES.map((s) => `'${s}'`).join(', ')}) ORDER BY created_at ASC, id ASC`,
);

/** Each volume's snapshots that are not DELETED, oldest first; read without the ORM's entities (./entity-rows.ts). */
export async function snapshotsOfVolumes(db: Pick<Db, 'kind' | 'rows'>, volumeIds: readonly string[]): Promise<Map<string, Snapshot[]>> {
  const rows = await db.rows(Snapshot, SNAPSHOTS_OF_VOLUMES, [listParam(db.kind, unique(volumeIds))]);
  return groupBy(rows, (s) => s.volumeId);
}

/** Each volume's attachments that are not DETACHED, oldest first; read as `snapshotsOfVolumes`. */
export async function liveAttachmentsOfVolumes(db: Pick<Db, 'kind' | 'rows'>, volumeIds: readonly string[]): Promise<Map<string, Attachment[]>> {
  const rows = await db.rows(Attachment, LIVE_ATTACHMENTS_OF_VOLUMES, [listParam(db.kind, unique(volumeIds))]);
  return groupBy(rows, (a) => a.volumeId);
}

/** Each volume's backups that are not DELETED, oldest first. */
export async function backupsOfVolumes(em: EntityManager, volumeIds: readonly string[]): Promise<Map<string, Backup[]>> {
  const rows = await em.find(
    Backup,
    { volumeId: { $in: unique(volumeIds) }, status: { $ne: 'deleted' } },
    { orderBy: { createdAt: 'asc', id: 'asc' }, disableIdentityMap: true },
  );
  return groupBy(rows.map(normaliseBigints), (b) => b.volumeId);
}

/** Unexpired user messages of resources of one type, newest first per resource. */
export async function messagesForMany(em: EntityManager, resourceType: string, resourceIds: readonly string[]): Promise<Map<string, UserMessage[]>> {
  const rows = await em.find(
    UserMessage,
    { resourceType, resourceId: { $in: unique(resourceIds) }, expiresAt: { $gt: new Date() } },
    { orderBy: { createdAt: 'desc' }, disableIdentityMap: true },
  );
  return groupBy(rows, (m) => m.resourceId);
}

/** Status audits of resources of one type, newest first per resource. */
export async function auditsOfMany(em: EntityManager, resourceType: string, resourceIds: readonly string[]): Promise<Map<string, StatusAudit[]>> {
  const rows = await em.find(
    StatusAudit,
    { resourceType, resourceId: { $in: unique(resourceIds) } },
    { orderBy: { createdAt: 'desc', id: 'desc' }, disableIdentityMap: true },
  );
  return groupBy(rows, (a) => a.resourceId);
}

/** Projects granted each volume type, sorted. */
export async function accessProjectsOfMany(em: EntityManager, volumeTypeIds: readonly string[]): Promise<Map<string, string[]>> {
  const rows = await em.find(VolumeTypeAccess, { volumeTypeId: { $in: unique(volumeTypeIds) } }, { orderBy: { projectId: 'asc' }, disableIdentityMap: true });
  const out = new Map<string, string[]>();
  for (const [k, list] of groupBy(rows, (r) => r.volumeTypeId)) out.set(k, list.map((r) => r.projectId));
  return out;
}
