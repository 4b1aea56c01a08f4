/**
 * The kernel's `settled` answers of deletes (kernel.ts): what a delete says when there is
 * nothing to start. The resource is already gone: success, with the operation that removed
 * it. It is being removed: the operation under way, so a client that timed out and retries
 * waits on the first delete instead of getting INVALID_STATE (CSI's DeleteVolume, Terraform's
 * Delete and Crossplane's Delete all treat "already gone" as done).
 */
import type { EntityManager } from '@mikro-orm/knex';
import { latestOperationOf, type Operation } from '../../db/index.js';
import type { OperationKind } from '../../domain/operations.js';
import type { DeleteAnswer } from '../../resolvers/index.js';

/** Which operations remove a resource, and in which statuses it is gone. */
export interface DeleteRule {
  /** Statuses in which the resource is gone (DELETED; DETACHED for an attachment). */
  gone: readonly string[];
  /** The operations that remove it: on the resource itself, or on another (a volume's cascade delete removes its snapshots). */
  removedBy: readonly { resourceId: string; kinds: readonly OperationKind[] }[];
}

/** The answer when there is nothing to start, or null when the delete has work to do. */
export async function settledDelete(em: EntityManager, resource: { status: string }, rule: DeleteRule): Promise<DeleteAnswer | null> {
  const running = await latestOperation(em, rule, ['pending', 'running']);
  if (running) return { operation: running, alreadyDeleted: false };
  if (!rule.gone.includes(resource.status)) return null;
  return { operation: await latestOperation(em, rule, ['succeeded']), alreadyDeleted: true };
}

async function latestOperation(em: EntityManager, rule: DeleteRule, statuses: readonly Operation['status'][]): Promise<Operation | null> {
  for (const { resourceId, kinds } of rule.removedBy) {
    const op = await latestOperationOf(em, resourceId, kinds, statuses);
    if (op) return op;
  }
  return null;
}
