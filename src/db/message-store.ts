/** User messages: what failed, why and what to do, attached to a resource (Cinder's `messages` API). */
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import { UserMessage } from './entities.js';

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
