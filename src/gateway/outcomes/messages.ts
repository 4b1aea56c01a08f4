/**
 * What outcomes leave and announce: user messages (Cinder's "user messages": what went wrong,
 * left for the project to read, in the transaction of the change they explain), and the
 * operation as it is after the commit.
 */
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import { findOperation, MESSAGE_TTL_MS, UserMessage } from '../../db/index.js';
import type { LivePublisher } from '../deps.js';

/** Adds a user message in the caller's transaction and returns it (to publish after the commit). */
export async function leaveMessage(
  tx: EntityManager,
  m: Pick<UserMessage, 'projectId' | 'resourceType' | 'resourceId' | 'event' | 'message'> & { level?: UserMessage['level'] },
): Promise<UserMessage> {
  const now = new Date();
  const msg = tx.create(UserMessage, { id: randomUUID(), level: 'ERROR', ...m, createdAt: now, expiresAt: new Date(now.getTime() + MESSAGE_TTL_MS) });
  await tx.flush();
  return msg;
}

/** Announces the operation as it is now (after the commit). */
export async function announceOperationNow(em: EntityManager, live: Pick<LivePublisher, 'publishOperation'>, operationId: string): Promise<void> {
  const op = await findOperation(em, operationId);
  if (op) live.publishOperation(op);
}
