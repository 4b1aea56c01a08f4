/**
 * How an agent's outcome for a volume or a snapshot is recorded, once: a handler declares
 * the compare-and-set (the states it starts from and the changes, final state included),
 * what else moves with it in the transaction, and the user message a failure leaves; this
 * runs it, ends the operation, and announces after the commit. An outcome whose
 * compare-and-set matches nothing (a duplicate, or one the deadline sweeper overtook) goes
 * to the late rules the handler names, and only ends the operation if it is still open.
 */
import type { EntityManager } from '@mikro-orm/knex';
import type { Logger } from '../../config/logger.js';
import { finishOperation, type Db } from '../../db/index.js';
import { countOperation, hop } from '../../metrics/index.js';
import type { LivePublisher } from '../deps.js';
import { announceOperationNow, leaveMessage } from './messages.js';
import type { StatusResource } from './resources.js';

export interface OutcomeDeclaration<Row extends { id: string; projectId: string; status: S }, S extends string, Changes> {
  resource: StatusResource<Row, S, Changes>;
  resourceId: string;
  operationId: string;
  /** The outcome's name, for the log: `create.failed`. */
  outcome: string;
  /** The operation's kind: the metric's label and the user message's event. */
  kind: string;
  failed: boolean;
  /** The operation's error when it failed. */
  error?: { code: string; message: string };
  /** The compare-and-set: from these states… */
  from: readonly S[];
  /** …to these changes; `prepare` may complete them in the transaction first. */
  changes: Changes;
  prepare?(tx: EntityManager, changes: Changes): Promise<void>;
  /** After the compare-and-set applied, in its transaction (capacity, dependent rows); returns what to announce after the commit. */
  alsoApply?(tx: EntityManager, row: Row): Promise<((live: LivePublisher) => void) | void>;
  /** The user message this outcome leaves on the resource, if any (a failure's: the agent's error, or what failed). */
  message: string | null;
  /** When the compare-and-set matched nothing: the late rules (late.ts). */
  late(): Promise<unknown>;
}

export interface OutcomeDeps {
  db: Db;
  live: LivePublisher;
  log: Logger;
}

export async function applyOutcome<Row extends { id: string; projectId: string; status: S }, S extends string, Changes>(
  deps: OutcomeDeps,
  d: OutcomeDeclaration<Row, S, Changes>,
): Promise<void> {
  const { db, live, log } = deps;
  const result = d.failed ? 'failed' : 'succeeded';
  // What the transaction did, or null when the compare-and-set matched nothing.
  const done = await db.fork().transactional(async (tx) => {
    await d.prepare?.(tx, d.changes);
    const row = await d.resource.cas(tx, d.resourceId, { from: d.from }, d.changes);
    if (!row) return null; // already applied, or overtaken: the late rules below
    await finishOperation(tx, d.operationId, result, d.failed ? d.error : undefined);
    const announceMore = (await d.alsoApply?.(tx, row)) ?? undefined;
    const message = d.message === null ? null : await leaveMessage(tx, { projectId: row.projectId, resourceType: d.resource.type, resourceId: row.id, event: d.kind, message: d.message });
    return { row, announceMore, message };
  });
  if (!done) {
    await d.late();
    // Make sure the operation ends even if the resource had already moved on.
    const fork = db.fork();
    if (await finishOperation(fork, d.operationId, result, d.error)) countOperation(d.kind, result);
    // A redelivery: the gateway that committed this outcome may have died before announcing
    // it, and core NATS keeps nothing. Announce the row and the operation as they are now;
    // subscribers drop a version they were already sent.
    const row = await d.resource.find(fork, d.resourceId);
    if (row) d.resource.announce(live, row);
    await announceOperationNow(fork, live, d.operationId);
    return;
  }
  const { row: r, announceMore, message } = done;
  countOperation(d.kind, result);
  log.info({ ...d.resource.logFields(r), operationId: d.operationId, outcome: d.outcome, status: r.status }, `${d.resource.type} changed`);
  d.resource.announce(live, r);
  hop(log, 'gateway.recorded', d.operationId);
  announceMore?.(live);
  await announceOperationNow(db.fork(), live, d.operationId);
  if (message) live.publishMessage(message);
}
