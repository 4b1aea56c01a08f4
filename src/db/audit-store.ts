/**
 * Status audit rows: who changed a resource's status by hand (admin actions), from what,
 * to what and why. Written in the same transaction as the change they record, so a
 * change without its audit row (or the reverse) never commits.
 */
import { randomUUID } from 'node:crypto';
import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { StatusAudit } from './entities.js';
import { keysetPage, type Page, type PageRequest } from './page.js';

export interface AuditActor {
  tokenId: string;
  projectId: string;
}

export interface NewAudit {
  resourceType: 'volume' | 'snapshot' | 'attachment' | 'quota_set';
  resourceId: string;
  /** The resource's project (not the actor's). */
  projectId: string;
  action: 'reset_status' | 'force_delete' | 'force_detach' | 'update_quota_set' | 'sync_quota_usage';
  fromStatus: string;
  toStatus: string;
  reason: string;
  actor: AuditActor;
}

/** Adds an audit row to `tx` (flushed with the transaction) and returns it. */
export function addAudit(tx: EntityManager, a: NewAudit): StatusAudit {
  return tx.create(StatusAudit, {
    id: randomUUID(),
    resourceType: a.resourceType,
    resourceId: a.resourceId,
    projectId: a.projectId,
    action: a.action,
    fromStatus: a.fromStatus,
    toStatus: a.toStatus,
    reason: a.reason,
    actorTokenId: a.actor.tokenId,
    actorProjectId: a.actor.projectId,
    createdAt: new Date(),
  });
}

/** A resource's audit rows, newest first. */
export async function auditsOf(em: EntityManager, resourceType: string, resourceId: string): Promise<StatusAudit[]> {
  return em.find(StatusAudit, { resourceType, resourceId }, { orderBy: { createdAt: 'desc', id: 'desc' }, disableIdentityMap: true });
}

export interface AuditListFilter {
  resourceType?: string;
  resourceId?: string;
}

/** Keyset pagination, newest first; `after` is the last row's (createdAt, id). */
export async function listAudits(
  em: EntityManager,
  opts: PageRequest & { filter: AuditListFilter },
): Promise<Page<StatusAudit>> {
  const where: FilterQuery<StatusAudit> = {};
  if (opts.filter.resourceType !== undefined) where.resourceType = opts.filter.resourceType;
  if (opts.filter.resourceId !== undefined) where.resourceId = opts.filter.resourceId;
  return keysetPage(em, StatusAudit, where, { ...opts, order: 'desc' });
}
