/**
 * What the volume and snapshot mutations share: the idempotency replay of a create,
 * the error for a compare-and-set that did not apply, the operation row (with the
 * command to send) and its announcement and dispatch after the commit.
 */
import type { OperationKind } from '../../domain/operations.js';
import { randomUUID } from 'node:crypto';
import type { EntityName, FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { Operation, type OutboxCommand } from '../../db/index.js';
import { ConflictError, NotFoundError } from '../../domain/index.js';
import { dispatchOrDefer } from '../sweepers/outbox.js';
import type { GatewayDeps } from '../deps.js';

type ResourceType = 'volume' | 'snapshot';

/** A row created with an idempotency key: its project, key and the hash of the request that created it. */
interface Idempotent {
  id: string;
  projectId: string;
  idempotencyKey: string | null;
  requestHash: string | null;
}

/**
 * The resource created earlier with `key` in the project, and its `create_<type>`
 * operation; null when there is none.
 * @throws ConflictError when the key was used for a request with other parameters.
 */
export async function replayCreate<T extends Idempotent>(
  em: EntityManager,
  entity: EntityName<T>,
  resourceType: ResourceType,
  projectId: string,
  key: string,
  requestHash: string,
): Promise<{ existing: T; operation: Operation } | null> {
  const existing = await em.findOne(entity, { projectId, idempotencyKey: key } as FilterQuery<T>, { disableIdentityMap: true });
  if (!existing) return null;
  if (existing.requestHash !== requestHash) {
    throw new ConflictError(
      `idempotencyKey "${key}" was already used for ${resourceType} ${existing.id} with other parameters; use a new key for a different ${resourceType}.`,
      { [`${resourceType}Id`]: existing.id },
    );
  }
  const operation = await em.findOneOrFail(Operation, { resourceId: existing.id, kind: `create_${resourceType}` }, { disableIdentityMap: true });
  return { existing, operation };
}

/** The guard of a compare-and-set from `from`, at `expectedVersion` when one is given. */
export function casGuard<S>(from: readonly S[], expectedVersion: number | null | undefined): { from: readonly S[]; expectedVersion?: number } {
  return expectedVersion === undefined || expectedVersion === null ? { from } : { from, expectedVersion };
}

/**
 * Why a compare-and-set did not apply, as the error the caller should see, from the row
 * as it is now: NOT_FOUND when it is gone, CONFLICT when it is not at `expectedVersion`,
 * INVALID_STATE (from `invalid`) when its status is not one of `from`, CONFLICT otherwise
 * (it changed under the request). With `versionPinsState`, a matching `expectedVersion`
 * means the status was the reason: INVALID_STATE whatever the status.
 */
export function casRefusal<S extends string>(
  resource: 'Volume' | 'Snapshot' | 'Backup',
  id: string,
  now: { status: S; version: number } | null,
  expectedVersion: number | null | undefined,
  from: readonly S[],
  invalid: (status: S) => Error,
  opts: { versionPinsState?: boolean } = {},
): Error {
  if (!now || now.status === 'deleted') return new NotFoundError(resource, id);
  const versionGiven = expectedVersion !== undefined && expectedVersion !== null;
  if (versionGiven && now.version !== expectedVersion) {
    return new ConflictError(
      `${resource} ${id} is at version ${now.version}, not the expected ${expectedVersion}: someone changed it. Read it again and retry with the new version.`,
      { currentVersion: now.version },
    );
  }
  if (versionGiven && opts.versionPinsState) return invalid(now.status);
  if (!from.includes(now.status)) return invalid(now.status);
  return new ConflictError(`${resource} ${id} changed while this request ran; retry.`, { currentVersion: now.version });
}

/** A new operation row on a volume or snapshot, holding the command to send (if any). */
export function newOperation(
  tx: EntityManager,
  resourceType: ResourceType,
  projectId: string,
  kind: OperationKind,
  resourceId: string,
  command: OutboxCommand | null,
  id: string = randomUUID(),
): Operation {
  return tx.create(Operation, { id, projectId, kind, resourceType, resourceId, command });
}

/** Marks an operation that needs no agent (done in its own transaction) as succeeded now. */
export function succeeded(operation: Operation): Operation {
  operation.status = 'succeeded';
  operation.finishedAt = new Date();
  return operation;
}

/** After the commit: announces the operation and sends its command (failures are left to the outbox sweeper). */
export function announceAndDispatch(deps: GatewayDeps, operation: Operation): void {
  deps.live.publishOperation(operation);
  void dispatchOrDefer(deps.bus, deps.db, operation, deps.log);
}
