/** User messages: what failed, why and what to do, attached to a resource (Cinder's `messages` API). */
import { randomUUID } from 'node:crypto';
import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { UserMessage } from './entities.js';
import { keysetPage, type Page, type PageRequest } from './page.js';

/** How long a user message stays visible. @default 30 days (Cinder's `message_ttl`) */
export const MESSAGE_TTL_MS = 30 * 24 * 3600_000;

export async function addUserMessage(
  em: EntityManager,
  m: Pick<UserMessage, 'projectId' | 'resourceType' | 'resourceId' | 'event' | 'message'> & { level?: UserMessage['level'] },
): Promise<void> {
  const now = new Date();
  em.create(UserMessage, { id: randomUUID(), level: 'ERROR', ...m, createdAt: now, expiresAt: new Date(now.getTime() + MESSAGE_TTL_MS) });
  await em.flush();
}

export async function messagesFor(em: EntityManager, resourceType: string, resourceId: string): Promise<UserMessage[]> {
  return em.find(
    UserMessage,
    { resourceType, resourceId, expiresAt: { $gt: new Date() } },
    { orderBy: { createdAt: 'desc' }, disableIdentityMap: true },
  );
}

export interface MessageListFilter {
  resourceType?: string;
  resourceId?: string;
}

/** Messages that have not expired, of one project (every project with `projectId` null), newest first. */
export async function listMessages(em: EntityManager, opts: PageRequest & { projectId: string | null; filter: MessageListFilter }): Promise<Page<UserMessage>> {
  const where: FilterQuery<UserMessage> = { expiresAt: { $gt: new Date() } };
  if (opts.projectId) where.projectId = opts.projectId;
  if (opts.filter.resourceType !== undefined) where.resourceType = opts.filter.resourceType;
  if (opts.filter.resourceId !== undefined) where.resourceId = opts.filter.resourceId;
  return keysetPage(em, UserMessage, where, { ...opts, order: 'desc' });
}
