/** Operations: their outcome (compare-and-set from pending/running) and the outbox of commands. */
import type { OperationKind, OperationResourceType } from '../domain/operations.js';
import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { Operation, type OperationStatus } from './entities.js';
import { keysetPage, type Page, type PageRequest } from './page.js';
import { dialectOf, findById, rowsOf } from './entity-rows.js';
import { IN_LIST, listParam, statementOf } from './sql-lists.js';
import { updateRows } from './update-rows.js';

export async function findOperation(em: EntityManager, id: string): Promise<Operation | null> {
  return findById(em, Operation, id);
}

export interface OperationListFilter {
  status?: OperationStatus[];
  /** A kind that does not exist matches nothing. */
  kind?: string;
  /** Only the operations on this resource. */
  resourceId?: string;
}

/** Operations of one project (every project with `projectId` null), newest first. */
export async function listOperations(em: EntityManager, opts: PageRequest & { projectId: string | null; filter: OperationListFilter }): Promise<Page<Operation>> {
  const where: FilterQuery<Operation> = {};
  if (opts.projectId) where.projectId = opts.projectId;
  if (opts.filter.status?.length) where.status = { $in: opts.filter.status };
  if (opts.filter.kind !== undefined) where.kind = opts.filter.kind as OperationKind;
  if (opts.filter.resourceId !== undefined) where.resourceId = opts.filter.resourceId;
  return keysetPage(em, Operation, where, { ...opts, order: 'desc' });
}

/**
 * Ends an operation once; a second outcome for the same operation changes nothing.
 * `deadlineBefore` (the deadline sweeper): only while its deadline is still before that
 * time, so a deadline pushed by progress meanwhile (deadline-extender.ts) wins.
 */
export async function finishOperation(
  em: EntityManager,
  id: string,
  status: Extract<OperationStatus, 'succeeded' | 'failed'>,
  error?: { code: string; message: string },
  deadlineBefore?: Date,
): Promise<boolean> {
  const n = await updateRows(
    em,
    Operation,
    { id, status: { $in: ['pending', 'running'] }, ...(deadlineBefore ? { deadlineAt: { $lt: deadlineBefore } } : {}) },
    { status, errorCode: error?.code ?? null, errorMessage: error?.message ?? null, finishedAt: new Date() },
  );
  return n === 1;
}

export async function markRunning(em: EntityManager, id: string): Promise<void> {
  await updateRows(em, Operation, { id, status: 'pending' }, { status: 'running' });
}

export async function markDispatched(em: EntityManager, id: string): Promise<void> {
  await updateRows(em, Operation, { id, dispatchedAt: null }, { dispatchedAt: new Date() });
}

/**
 * Commands committed but not yet handed to NATS, oldest first; not those of operations
 * already ended (e.g. by their deadline), nor those in `skip` (waiting to be retried).
 */
export async function undispatched(em: EntityManager, createdBefore: Date, limit = 100, skip: readonly string[] = []): Promise<Operation[]> {
  return em.find(
    Operation,
    {
      dispatchedAt: null,
      command: { $ne: null },
      createdAt: { $lt: createdBefore },
      status: { $in: ['pending', 'running'] },
      ...(skip.length ? { id: { $nin: [...skip] } } : {}),
    },
    { orderBy: { createdAt: 'asc' }, limit, disableIdentityMap: true },
  );
}

/**
 * Operations still PENDING whose command went out before `dispatchedBefore` and got no
 * answer, of the given kinds, longest silent first (src/domain/resend.ts).
 */
export async function silentOperations(em: EntityManager, dispatchedBefore: Date, kinds: readonly string[], limit = 100): Promise<Operation[]> {
  return em.find(
    Operation,
    { status: 'pending', dispatchedAt: { $ne: null, $lt: dispatchedBefore }, command: { $ne: null }, kind: { $in: [...kinds] as Operation['kind'][] } },
    { orderBy: { dispatchedAt: 'asc' }, limit, disableIdentityMap: true },
  );
}

/**
 * Pushes the deadline of the open operations of `kinds` on one resource to `to`, only
 * where it is before `onlyIfBefore` (the throttle every gateway shares; see
 * `progressExtension` in src/domain/deadlines.ts). Returns the rows changed.
 */
export async function extendDeadline(
  em: EntityManager,
  where: { resourceType: OperationResourceType; resourceId: string; kinds: readonly OperationKind[] },
  to: Date,
  onlyIfBefore: Date,
): Promise<number> {
  return updateRows(
    em,
    Operation,
    {
      resourceType: where.resourceType,
      resourceId: where.resourceId,
      kind: { $in: [...where.kinds] },
      status: { $in: ['pending', 'running'] },
      deadlineAt: { $ne: null, $lt: onlyIfBefore },
    },
    { deadlineAt: to },
  );
}

/**
 * While the bus is down (src/domain/bus-hold.ts): the open operations created after
 * `createdAfter` whose deadline is before `deadlineAt` get `deadlineAt`. Several gateways
 * doing it at once set the same kind of value; nothing compounds. Returns the rows changed.
 */
export async function holdDeadlines(em: EntityManager, hold: { deadlineAt: Date; createdAfter: Date }): Promise<number> {
  return updateRows(
    em,
    Operation,
    { status: { $in: ['pending', 'running'] }, deadlineAt: { $ne: null, $lt: hold.deadlineAt }, createdAt: { $gt: hold.createdAfter } },
    { deadlineAt: hold.deadlineAt },
  );
}

/** The newest operation of one of `kinds` on a resource that is in one of `statuses` (e.g. the one under way), or null. */
export async function latestOperationOf(em: EntityManager, resourceId: string, kinds: readonly OperationKind[], statuses: readonly OperationStatus[]): Promise<Operation | null> {
  const d = dialectOf(em);
  const [op] = await rowsOf(em, Operation, LATEST_OPERATION_OF, [resourceId, listParam(d, kinds), listParam(d, statuses)]);
  return op ?? null;
}

const LATEST_OPERATION_OF = statementOf((d) => `SELECT * FROM operation WHERE resource_id = ? AND kind ${IN_LIST[d]} AND status ${IN_LIST[d]} ORDER BY created_at DESC LIMIT 1`);

/**
 * The PENDING `delete_volume` operation of a volume that waits for its create to end (a queued
 * delete: src/gateway/sweepers/queued-deletes.ts), or null. Asked after every create's outcome.
 */
export async function queuedDeleteOf(em: EntityManager, volumeId: string): Promise<Operation | null> {
  const [op] = await rowsOf(em, Operation, QUEUED_DELETE_OF, [volumeId]);
  return op ?? null;
}

const QUEUED_DELETE_OF = statementOf(() => "SELECT * FROM operation WHERE resource_id = ? AND kind = 'delete_volume' AND status = 'pending' AND command IS NULL LIMIT 1");
