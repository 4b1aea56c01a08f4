/**
 * Attachment rows: reads, and status changes as compare-and-set, in the manner of
 * `snapshot-store.ts`; plus the one place a volume's status is recomputed from its
 * attachments (`syncVolumeStatus`).
 */
import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import {
  ATTACH_FAMILY,
  LIVE_ATTACHMENT_STATUSES,
  volumeStatusFromAttachments,
  type AttachmentStatus,
} from '../domain/attachment-states.js';
import { Attachment } from './attachment-entity.js';
import { keysetPage, type Page, type PageRequest } from './page.js';
import { casVolume, findVolume } from './volume-store.js';
import type { Volume } from './entities.js';
import type { AttachmentView } from '../bus/contract/index.js';
import { updateRows } from './update-rows.js';

export interface AttachmentCasGuard {
  from: readonly AttachmentStatus[];
  expectedVersion?: number;
}

export type AttachmentChanges = Partial<
  Pick<Attachment, 'status' | 'connector' | 'connection' | 'host' | 'pool' | 'exportRequested' | 'attachedAt' | 'detachedAt' | 'chapUsername' | 'chapSecret'>
>;

/** Applies `changes` (and version + 1) when the guard holds; returns the new row, or null when it did not. */
export async function casAttachment(em: EntityManager, id: string, guard: AttachmentCasGuard, changes: AttachmentChanges): Promise<Attachment | null> {
  const where: FilterQuery<Attachment> = { id, status: { $in: [...guard.from] } };
  if (guard.expectedVersion !== undefined) where.version = guard.expectedVersion;
  const n = await updateRows(em, Attachment, where, { ...changes, updatedAt: new Date() }, ['version']);
  return n === 1 ? findAttachment(em, id) : null;
}

export async function findAttachment(em: EntityManager, id: string): Promise<Attachment | null> {
  return em.findOne(Attachment, { id }, { disableIdentityMap: true });
}

/** A volume's attachments that are not DETACHED, oldest first. */
export async function liveAttachmentsOf(em: EntityManager, volumeId: string): Promise<Attachment[]> {
  return em.find(Attachment, { volumeId, status: { $in: [...LIVE_ATTACHMENT_STATUSES] } }, { orderBy: { createdAt: 'asc', id: 'asc' }, disableIdentityMap: true });
}

/** Every attachment of a volume, DETACHED ones too, oldest first. */
export async function attachmentsOf(em: EntityManager, volumeId: string): Promise<Attachment[]> {
  return em.find(Attachment, { volumeId }, { orderBy: { createdAt: 'asc', id: 'asc' }, disableIdentityMap: true });
}

/** The exports a host should have: attachments on it whose export was asked for and not removed. */
export async function exportsOnHost(em: EntityManager, host: string): Promise<Attachment[]> {
  return em.find(
    Attachment,
    { host, exportRequested: true, status: { $in: ['attaching', 'attached', 'error_detaching'] } },
    { orderBy: { createdAt: 'asc', id: 'asc' }, disableIdentityMap: true },
  );
}

/** The exports of one volume, on whatever hosts they are (a backend host's volume is exported by its member agents). */
export async function exportsOfVolume(em: EntityManager, volumeId: string): Promise<Attachment[]> {
  return em.find(
    Attachment,
    { volumeId, host: { $ne: null }, exportRequested: true, status: { $in: ['attaching', 'attached', 'error_detaching'] } },
    { orderBy: { createdAt: 'asc', id: 'asc' }, disableIdentityMap: true },
  );
}

/** Tries of the volume's compare-and-set when other attachments keep bumping its version. */
const SYNC_ATTEMPTS = 10;

/**
 * Sets the volume's status from its attachments as committed now (compare-and-set at the
 * version read, retried when it moved). Returns the volume when its status changed, else null.
 * A volume outside the attach family (EXTENDING, …) is left alone.
 */
export async function syncVolumeStatus(em: EntityManager, volumeId: string): Promise<Volume | null> {
  for (let i = 0; i < SYNC_ATTEMPTS; i++) {
    const v = await findVolume(em, volumeId);
    if (!v || !ATTACH_FAMILY.includes(v.status)) return null;
    const live = await liveAttachmentsOf(em, volumeId);
    const to = volumeStatusFromAttachments(v.status, live.map((a) => a.status));
    if (to === v.status) return null;
    const changed = await casVolume(em, volumeId, { from: [v.status], expectedVersion: v.version }, { status: to });
    if (changed) return changed;
  }
  return null;
}

export interface AttachmentListFilter {
  status?: AttachmentStatus[];
  volumeId?: string;
  instanceId?: string;
  /** Only this project's attachments; within a member's scope, another project matches nothing. */
  projectId?: string;
}

/** Keyset pagination in creation order; DETACHED ones only when the filter asks. */
export async function listAttachments(
  em: EntityManager,
  opts: PageRequest & { projectId: string | null; filter: AttachmentListFilter },
): Promise<Page<Attachment>> {
  const where: FilterQuery<Attachment> = {};
  if (opts.projectId) where.projectId = opts.projectId;
  where.status = opts.filter.status?.length ? { $in: opts.filter.status } : { $ne: 'detached' };
  if (opts.filter.volumeId !== undefined) where.volumeId = opts.filter.volumeId;
  if (opts.filter.instanceId !== undefined) where.instanceId = opts.filter.instanceId;
  // Both conditions hold: a member asking for another project gets an empty page.
  if (opts.filter.projectId != null) where.$and = [{ projectId: opts.filter.projectId }];
  return keysetPage(em, Attachment, where, { ...opts, order: 'asc' });
}

/** An attachment as the live fan-out and the GraphQL types see it: everything but the CHAP secret. */

export function toAttachmentView(a: Attachment): AttachmentView {
  return {
    id: a.id,
    projectId: a.projectId,
    volumeId: a.volumeId,
    instanceId: a.instanceId,
    status: a.status,
    mode: a.mode,
    targetKind: a.targetKind,
    connector: a.connector,
    connection: (a.connection as AttachmentView['connection']) ?? null,
    chapUsername: a.chapUsername,
    version: a.version,
    changeSeq: Number(a.changeSeq ?? 0),
    idempotencyKey: a.idempotencyKey,
    attachedAt: a.attachedAt ? new Date(a.attachedAt).toISOString() : null,
    detachedAt: a.detachedAt ? new Date(a.detachedAt).toISOString() : null,
    createdAt: new Date(a.createdAt).toISOString(),
    updatedAt: new Date(a.updatedAt).toISOString(),
  };
}
