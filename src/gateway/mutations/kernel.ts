/**
 * The mutation kernel: the one shape every mutation of every resource has.
 *
 *     authorize → validate → load → (replay) → (settled) → check → transaction { transition, quota, Operation row } → announce, dispatch
 *
 * A mutation declares its rules (`MutationRules`) and `runMutation` does the rest: it reads
 * outside the transaction, replays an idempotent create, answers at once when the change is
 * already made or under way (`settled`: a delete of a deleted volume, an extend to the size it
 * has; again after a refused compare-and-set, so the loser of two equal requests racing gets
 * the winner's answer rather than an error), runs the compare-and-set and the
 * operation row (with the command for the outbox) in one transaction, checks the quota the
 * change claims inside that transaction (after its rows are written and counted, so
 * concurrent creates cannot both take the last GiB), turns a refused
 * compare-and-set into the caller's error (`whyNot`), retries when the rules ask for it,
 * and announces the change and sends the command only after the commit. Nothing is
 * published for a change that did not commit; a command that cannot be sent now is left
 * to the outbox sweeper (../sweepers/outbox.ts).
 *
 * A change to an existing resource (update, extend, retype, migrate) may carry an idempotency
 * key too (`operationKey`): the key and the hash of the resolved request are written on the
 * operation it records, unique per project. The same key with the same request, within
 * FLINT_IDEMPOTENCY_TTL_SECONDS of that operation, answers with that operation (as it is now)
 * and the resource as it is now, before `settled` and `check` are asked, so a retry after the
 * change is done gets the change's operation rather than "nothing to do" or INVALID_STATE; two
 * such requests racing record one operation (the unique index refuses the second, which then
 * answers with the first). The key with another request is CONFLICT naming the operation. A
 * request answered by `settled` records nothing, its key neither: the key stays free.
 */
import { createHash, randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException, type EntityName, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { enforceClaim, Operation, type OutboxCommand, type Principal } from '../../db/index.js';
import type { QuotaClaim } from '../../domain/quotas.js';
import { ConflictError, Problems } from '../../domain/index.js';
import type { OperationKind, OperationResourceType } from '../../domain/operations.js';
import type { GatewayDeps } from '../deps.js';
import { dispatchOrDefer } from '../sweepers/outbox.js';
import { hop } from '../../metrics/index.js';

/** `whyNot`'s answer when the row only moved under the request: load again and retry. */
export const RETRY = Symbol('retry');

/** What an idempotent create is keyed by: the project, the caller's key, the hash of the request. */
export interface Idempotency<R> {
  /** The created row's entity; it has `projectId`, `idempotencyKey` and `requestHash`. */
  entity: EntityName<IdempotentRow>;
  projectId: string;
  key: string;
  requestHash: string;
  /** The answer to a replay, from the row created earlier and its create operation. */
  replayed(row: IdempotentRow, operation: Operation): R;
}

/**
 * What a change to an existing resource is keyed by (`operationKey`): the resource's project,
 * the caller's key, and the request as resolved (ids, names, sizes; not `expectedVersion`, a
 * precondition of the first try rather than a parameter of the change), which the kernel hashes
 * with the mutation's kind and resource.
 */
export interface OperationKey<R> {
  projectId: string;
  resourceId: string;
  key: string;
  request: unknown;
  /** The answer to a replay: the operation recorded with the key, and the resource as it is now. */
  replayed(operation: Operation): R;
}

/**
 * The `operationKey` of a change to `resource`: the key counts in the resource's project
 * (an admin's key in the project of the resource it changes); null without a key.
 */
export function changeKey<R>(resource: { id: string; projectId: string }, key: string | null | undefined, request: unknown, replayed: (operation: Operation) => R): OperationKey<R> | null {
  return key ? { projectId: resource.projectId, resourceId: resource.id, key, request, replayed } : null;
}

/** A row created with an idempotency key. */
export interface IdempotentRow {
  id: string;
  projectId: string;
  idempotencyKey: string | null;
  requestHash: string | null;
  status: string;
  createdAt: Date;
}

/** The operation a mutation records, in its transaction. */
export interface OperationSpec {
  projectId: string;
  resourceId: string;
  /** The command the outbox sends. Without one, the operation is done when the transaction commits… */
  command?: OutboxCommand | null;
  /** …unless it waits for something else (a restore into a volume still being created): it stays PENDING. */
  pending?: boolean;
  /** A deadline of its own (those with a command get the default one when they are inserted). */
  deadlineAt?: Date;
}

/**
 * A mutation's rules. `L` is what `load` read, `C` what the transition changed, `R` the
 * result the caller gets.
 */
export type MutationRules<L, C, R> = MutationSteps<L, C, R> & (RecordsOperation<L, C, R> | RecordsNoOperation);

/** A mutation that records an operation: its kind, and the row (with the command for the outbox). */
interface RecordsOperation<L, C, R> {
  resourceType: OperationResourceType;
  kind: OperationKind;
  operation(changed: C, loaded: L, operationId: string): OperationSpec;
  /**
   * A change to an existing resource with an idempotency key: null when the caller gave none.
   * Asked after `load`, before `settled` and `check` (see the module's documentation).
   */
  operationKey?(loaded: L, principal: Principal): OperationKey<R> | null;
}

/**
 * A mutation that records no operation: an admin's status reset (its audit row is the record),
 * or a change to the catalog (a volume type), done when its transaction commits.
 */
interface RecordsNoOperation {
  kind?: undefined;
  operation?: undefined;
  operationKey?: undefined;
}

/** What a mutation changes, in the words of its errors: a resource with operations, or the catalog. */
export type MutationResourceType = OperationResourceType | 'volume type' | 'quota set' | 'volume transfer';

/** The steps every mutation declares. */
interface MutationSteps<L, C, R> {
  resourceType: MutationResourceType;
  /** Who may: `requireWriter`, or an admin check; throws FORBIDDEN or UNAUTHENTICATED. */
  authorize(principal: Principal | null): Principal;
  /** Adds every input problem at once; they become one BAD_USER_INPUT. */
  validate?(problems: Problems): void;
  /** Reads what the change needs, outside the transaction (NOT_FOUND…). Called again on a retry. */
  load(em: EntityManager, principal: Principal): Promise<L>;
  /**
   * Checks the state the change starts from (INVALID_STATE…), after an idempotent replay had
   * its chance (a create retried after it succeeded is answered, whatever its resource's state
   * now); may add what it reads. Called again on a retry.
   */
  check?(em: EntityManager, loaded: L, principal: Principal): L | Promise<L>;
  /**
   * The answer when there is nothing to do: what the caller asks for is already so (it is
   * DELETED; it has that size), or under way (it is DELETING: the running operation). null
   * when there is work to do. No transaction, no new operation, nothing announced. Asked
   * after `load` (and a replay), and again after a refused compare-and-set, with a fresh load.
   */
  settled?(em: EntityManager, loaded: L, principal: Principal): R | null | Promise<R | null>;
  /** A create with an idempotency key: null when the caller gave none. */
  idempotency?(loaded: L, principal: Principal): Idempotency<R> | null;
  /** In the transaction: the compare-and-set or insert. null when the compare-and-set did not apply. */
  transition(tx: EntityManager, loaded: L, operationId: string): Promise<C | null>;
  /**
   * What the change adds to its project's quota (src/domain/quotas.ts), checked in the
   * transaction after `transition` wrote its rows: QUOTA_EXCEEDED rolls everything back.
   */
  quota?(changed: C, loaded: L): QuotaClaim | null;
  /** Why the compare-and-set did not apply, read in the transaction: the caller's error, or RETRY (up to `attempts`). */
  whyNot?(tx: EntityManager, loaded: L, attempt: number): Promise<Error | typeof RETRY>;
  /** Tries of load + transaction while `whyNot` answers RETRY. @default 1 */
  attempts?: number;
  /** More rows in the same transaction, after the operation (an audit record). */
  alsoRecord?(tx: EntityManager, changed: C, loaded: L, principal: Principal): C | Promise<C>;
  /** After the commit: announce the resources that changed (the operation is announced by the kernel); nothing when absent. */
  announce?(deps: GatewayDeps, changed: C, loaded: L, operation: Operation | null): void | Promise<void>;
  /** The caller's answer. */
  result(changed: C, operation: Operation | null, loaded: L): R;
}

/** A compare-and-set that did not apply, with the reason `whyNot` gave (carried out of the transaction to roll it back). */
class Refused extends Error {
  constructor(readonly reason: Error | typeof RETRY) {
    super('compare-and-set refused');
  }
}

/** Runs one mutation by its rules; see the module's documentation. */
export async function runMutation<L, C, R>(deps: GatewayDeps, principal: Principal | null, rules: MutationRules<L, C, R>): Promise<R> {
  const p = rules.authorize(principal);
  if (rules.validate) {
    const problems = new Problems();
    rules.validate(problems);
    problems.throwIfAny();
  }
  const em = deps.db.fork();
  let loaded = await rules.load(em, p);
  const idem = rules.idempotency?.(loaded, p) ?? null;
  if (idem) {
    const earlier = await replay(em, idem, rules.kind, rules.resourceType, deps.config.idempotencyTtlSeconds);
    if (earlier) return earlier;
  }
  const ttlSeconds = deps.config.idempotencyTtlSeconds;
  const keyOf = (l: L): KeyedRequest<R> | null => {
    const k = rules.kind ? rules.operationKey?.(l, p) : null;
    return k && rules.kind ? { ...k, kind: rules.kind, resourceType: rules.resourceType as OperationResourceType, hash: operationRequestHash(rules.kind, k) } : null;
  };
  const opKey = keyOf(loaded);
  if (opKey) {
    const earlier = await replayOperation(em, opKey, ttlSeconds);
    if (earlier) return earlier;
  }
  const done = await rules.settled?.(em, loaded, p);
  if (done) {
    // An equal keyed request committed between the look-up and `settled`: its operation is the answer.
    const earlier = opKey && (await replayOperation(em, opKey, ttlSeconds));
    return earlier || done;
  }
  const operationId = randomUUID();
  const attempts = rules.attempts ?? 1;
  for (let attempt = 1; ; attempt++) {
    if (rules.check) loaded = await rules.check(em, loaded, p);
    try {
      const { changed, operation } = await em.transactional(async (tx) => {
        let changed = await rules.transition(tx, loaded, operationId);
        if (changed === null) throw new Refused(rules.whyNot ? await rules.whyNot(tx, loaded, attempt) : new ConflictError('The resource changed while this request ran; retry.'));
        const claim = rules.quota?.(changed, loaded);
        if (claim) {
          await tx.flush(); // the triggers count the new rows now
          await enforceClaim(tx, deps.config.quotaDefaults, claim);
        }
        const operation = rules.kind ? newOperation(tx, rules.kind, rules.resourceType, rules.operation(changed, loaded, operationId), operationId) : null;
        if (operation && opKey) {
          operation.idempotencyKey = opKey.key;
          operation.requestHash = opKey.hash;
        }
        if (rules.alsoRecord) changed = await rules.alsoRecord(tx, changed, loaded, p);
        return { changed, operation };
      });
      await rules.announce?.(deps, changed, loaded, operation);
      if (operation) announceOperation(deps, operation);
      return rules.result(changed, operation, loaded);
    } catch (err) {
      // Two creates with one key raced: the loser answers with the winner's resource.
      if (idem && (err instanceof UniqueConstraintViolationException || err instanceof Refused)) {
        const earlier = await replay(deps.db.fork(), idem, rules.kind, rules.resourceType, deps.config.idempotencyTtlSeconds);
        if (earlier) return earlier;
      }
      // Two changes with one key raced: the loser answers with the winner's operation and the resource as it is now.
      if (opKey && (err instanceof UniqueConstraintViolationException || err instanceof Refused)) {
        const fresh = deps.db.fork();
        const now = await rules.load(fresh, p).catch(() => loaded);
        const earlier = await replayOperation(fresh, keyOf(now) ?? opKey, ttlSeconds);
        if (earlier) return earlier;
      }
      if (!(err instanceof Refused)) throw err;
      // An equal request won the race (two deletes at once): its work is this caller's answer.
      if (rules.settled) {
        const fresh = deps.db.fork();
        const now = await rules.load(fresh, p).catch(() => null);
        const done = now === null ? null : await rules.settled(fresh, now, p);
        if (done) return done;
      }
      if (err.reason !== RETRY) throw err.reason;
      if (attempt >= attempts) throw new ConflictError(`The ${rules.resourceType} kept changing while this request ran; retry.`);
      loaded = await rules.load(em, p);
    }
  }
}

/** The states in which a resource made with a key is gone for good (a replay would hand back a corpse), and the word for it. */
const GONE: Record<string, { states: readonly string[]; word: string }> = {
  volume: { states: ['deleting', 'deleted'], word: 'deleted' },
  snapshot: { states: ['deleting', 'deleted'], word: 'deleted' },
  backup: { states: ['deleting', 'deleted'], word: 'deleted' },
  attachment: { states: ['detaching', 'detached'], word: 'detached' },
};

/**
 * The resource created earlier with the key, answered again; null when there is none, or when
 * the key expired (`ttlSeconds` after that create): then the key is taken off the old row, by a
 * compare-and-set on (id, key), so this create can insert with it. Two creates after the expiry
 * both get past here; the unique (project, key) index lets one insert, and the other replays it.
 * @throws ConflictError when the key was used for a request with other parameters, or for a
 *   resource that has been deleted since (DELETING or DELETED; an attachment DETACHING or DETACHED).
 */
async function replay<R>(
  em: EntityManager,
  idem: Idempotency<R>,
  kind: OperationKind | undefined,
  resourceType: MutationResourceType,
  ttlSeconds: number,
): Promise<R | null> {
  const row = await em.findOne(idem.entity, { projectId: idem.projectId, idempotencyKey: idem.key } as FilterQuery<IdempotentRow>, { disableIdentityMap: true });
  if (!row) return null;
  if (Date.now() - new Date(row.createdAt).getTime() >= ttlSeconds * 1000) {
    // Whoever clears it first, the outcome is the same: the key is free for one new row.
    await em.nativeUpdate(idem.entity, { id: row.id, idempotencyKey: idem.key } as FilterQuery<IdempotentRow>, { idempotencyKey: null });
    return null;
  }
  const details = { [`${resourceType}Id`]: row.id };
  const gone = GONE[resourceType];
  if (gone?.states.includes(row.status)) {
    throw new ConflictError(`idempotencyKey "${idem.key}" was used for ${resourceType} ${row.id}, which has been ${gone.word}; use a new key to create another.`, details);
  }
  const operation = await em.findOne(Operation, { resourceId: row.id, ...(kind ? { kind } : {}) }, { disableIdentityMap: true, orderBy: { createdAt: 'asc' } });
  // Another hash, or the key was used by another mutation (a manageVolume's key given to createVolume).
  if (row.requestHash !== idem.requestHash || !operation) {
    throw new ConflictError(`idempotencyKey "${idem.key}" was already used for ${resourceType} ${row.id} with other parameters; use a new key for a different ${resourceType}.`, details);
  }
  return idem.replayed(row, operation);
}

/** An `OperationKey` with what the kernel adds: the mutation's kind and resource, and the request's hash. */
interface KeyedRequest<R> extends OperationKey<R> {
  kind: OperationKind;
  resourceType: OperationResourceType;
  hash: string;
}

/** sha256 of a keyed change: its kind, its resource and its resolved request (objects with their keys sorted, so `{a, b}` and `{b, a}` are one request). */
export function operationRequestHash(kind: OperationKind, k: Pick<OperationKey<unknown>, 'resourceId' | 'request'>): string {
  return createHash('sha256').update(canonicalJson([kind, k.resourceId, k.request])).digest('hex');
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * The operation recorded earlier with the key, answered again; null when there is none, or when
 * the key expired (`ttlSeconds` after that operation was created): then the key is taken off it,
 * by a compare-and-set on (id, key), so this request can record it again. As with creates, two
 * requests after the expiry both get past here, and the unique index lets one record it.
 * @throws ConflictError when the key was used for another request (other parameters, another
 *   resource, or another mutation), naming its operation in `operationId`.
 */
async function replayOperation<R>(em: EntityManager, k: KeyedRequest<R>, ttlSeconds: number): Promise<R | null> {
  const operation = await em.findOne(Operation, { projectId: k.projectId, idempotencyKey: k.key }, { disableIdentityMap: true });
  if (!operation) return null;
  if (Date.now() - new Date(operation.createdAt).getTime() >= ttlSeconds * 1000) {
    await em.nativeUpdate(Operation, { id: operation.id, idempotencyKey: k.key }, { idempotencyKey: null });
    return null;
  }
  if (operation.requestHash !== k.hash) {
    const what = operation.kind === k.kind && operation.resourceId === k.resourceId ? 'with other parameters' : `for ${operation.kind} of ${operation.resourceType} ${operation.resourceId}`;
    throw new ConflictError(`idempotencyKey "${k.key}" was already used ${what} (operation ${operation.id}); use a new key for a different request.`, { operationId: operation.id });
  }
  return k.replayed(operation);
}

/** A new operation row in the caller's transaction: PENDING with its command, or done at once without one. */
export function newOperation(tx: EntityManager, kind: OperationKind, resourceType: OperationResourceType, spec: OperationSpec, id: string = randomUUID()): Operation {
  const operation = tx.create(Operation, { id, projectId: spec.projectId, kind, resourceType, resourceId: spec.resourceId, command: spec.command ?? null });
  if (spec.deadlineAt) operation.deadlineAt = spec.deadlineAt;
  if (!spec.command && !spec.pending) {
    operation.status = 'succeeded';
    operation.finishedAt = new Date();
  }
  return operation;
}

/** After the commit: announces the operation and sends its command (a failure is left to the outbox sweeper). */
export function announceOperation(deps: GatewayDeps, operation: Operation): void {
  hop(deps.log, 'gateway.committed', operation.id);
  deps.live.publishOperation(operation);
  if (operation.command) void dispatchOrDefer(deps.bus, deps.db, operation, deps.log);
}
