/**
 * Operation deadlines (issue 3, "no stuck states"). Every operation created with a command
 * gets `deadlineAt = createdAt + FLINT_OPERATION_TIMEOUT_SECONDS`; every gateway runs a
 * sweeper that fails the operations still PENDING or RUNNING past it (SERVICE_UNAVAILABLE)
 * and moves their resource to the error state of `DEADLINE_RULES` (src/domain/deadlines.ts).
 * Safe with several gateways: the resource and the operation change by compare-and-set,
 * in one transaction, so only one gateway wins and a late outcome meets a resource that
 * is no longer transitional (see ../outcomes/late.ts).
 */
import type { EntityManager } from '@mikro-orm/knex';
import type { EventArgs, EventSubscriber } from '@mikro-orm/core';
import type { Logger } from '../../config/logger.js';
import { casSnapshotsOfVolume, commitUnlessOvertaken, Overtaken, capacity, findOperation, finishOperation, Operation, UserMessage, type Db, type Snapshot, type Volume } from '../../db/index.js';
import { DEADLINE_ERROR_CODE, deadlineMessage, deadlineRule, operationDeadline, sweepIntervalMs, type DeadlineRule } from '../../domain/deadlines.js';
import { SNAPSHOT_RESOURCE, VOLUME_RESOURCE } from '../outcomes/resources.js';
import { countOperation } from '../../metrics/index.js';
import { leaveMessage } from '../outcomes/messages.js';
import type { LiveHub } from '../live/hub.js';
import type { Bus } from '../../bus/index.js';
import { failMigrationOverdue } from '../outcomes/migration-steps.js';
import { isMigrationKind } from '../../domain/operations.js';
import { announceOverdueAttachment, failOverdueAttachment, syncVolumeOfOverdue } from '../outcomes/attachment.js';
import type { Attachment } from '../../db/index.js';

/** Operations failed per sweep at most (the next sweep takes the rest). @default 100 */
export const DEADLINE_SWEEP_BATCH = 100;

/**
 * Stamps `deadlineAt` on every operation inserted with a command and without a deadline,
 * whatever code path creates it (volume and snapshot services, deletes, admin actions).
 * Registered once on the ORM's shared event manager; forks and transactions inherit it.
 */
export function stampOperationDeadlines(db: Db, timeoutSeconds: number): void {
  const em = db.fork();
  const subscriber: EventSubscriber<Operation> & { flintDeadlines?: true } = {
    flintDeadlines: true,
    getSubscribedEntities: () => [Operation],
    // Runs before the INSERT; what it changes is part of the row written.
    beforeCreate: ({ entity: op }: EventArgs<Operation>) => {
      if (op.command && !op.deadlineAt) op.deadlineAt = operationDeadline(op.createdAt ?? new Date(), timeoutSeconds);
    },
  };
  const events = em.getEventManager();
  if ([...events.getSubscribers()].some((s) => (s as { flintDeadlines?: true }).flintDeadlines)) return;
  events.registerSubscriber(subscriber);
}

/** Operations still open past their deadline, oldest deadline first. */
export async function overdueOperations(em: EntityManager, now: Date, limit = DEADLINE_SWEEP_BATCH): Promise<Operation[]> {
  return em.find(
    Operation,
    { status: { $in: ['pending', 'running'] }, deadlineAt: { $ne: null, $lt: now } },
    { orderBy: { deadlineAt: 'asc' }, limit, disableIdentityMap: true },
  );
}

interface Failed {
  attachment?: Attachment;
  /** The volume of `attachment`, when its status followed. */
  attachmentVolume?: Volume | null;
  /** The volume or snapshot its rule moved, and how that is announced. */
  moved?: { row: Volume | Snapshot; announce(live: LiveHub): void };
  /** The snapshots a cascade delete of the volume had marked DELETING, now ERROR_DELETING with it. */
  snapshots?: Snapshot[];
  message?: UserMessage;
}

/**
 * The resource an overdue operation's rule moves to its error state, by compare-and-set
 * (outcomes/resources.ts), or null when it was not in a state the rule moves.
 */
async function moveByRule(tx: EntityManager, op: Operation, rule: DeadlineRule): Promise<Failed['moved'] | null> {
  if (rule.resourceType !== op.resourceType) return null;
  if (rule.resourceType === 'volume') {
    const v = await VOLUME_RESOURCE.cas(tx, op.resourceId, { from: rule.from }, { status: rule.to });
    return v && { row: v, announce: (live) => VOLUME_RESOURCE.announce(live, v) };
  }
  const s = await SNAPSHOT_RESOURCE.cas(tx, op.resourceId, { from: rule.from }, { status: rule.to });
  return s && { row: s, announce: (live) => SNAPSHOT_RESOURCE.announce(live, s) };
}

/**
 * Fails one overdue operation and moves its resource by the rule of its kind; returns
 * whether this gateway did it (false: someone else finished it first).
 */
export async function failOverdue(db: Db, live: LiveHub, log: Logger, op: Operation, timeoutSeconds: number, bus?: Bus): Promise<boolean> {
  // Migrations and retypes go back to the old pool and stop the source's export (volume-migration.ts).
  if (bus && isMigrationKind(op.kind)) return failMigrationOverdue({ db, bus, live, log }, op, timeoutSeconds);
  const rule = deadlineRule(op.kind);
  const error = { code: DEADLINE_ERROR_CODE, message: deadlineMessage(op.kind, timeoutSeconds) };
  const em = db.fork();
  let done = false;
  let out: Failed = {};
  const committed = await commitUnlessOvertaken(em, async (tx) => {
    out = {};
    // The resource first, then the operation: the recorder's order, so the two never deadlock.
    if (rule) out.moved = (await moveByRule(tx, op, rule)) ?? undefined;
    else if (op.resourceType === 'attachment') out.attachment = (await failOverdueAttachment(tx, op)) ?? undefined;
    if (out.attachment) out.attachmentVolume = await syncVolumeOfOverdue(tx, out.attachment);
    // Still overdue now: progress may have pushed the deadline since the sweep read it.
    done = await finishOperation(tx, op.id, 'failed', error, new Date());
    if (!done) {
      // The outcome was recorded meanwhile, or progress pushed the deadline: undo our move of the resource.
      if (out.moved || out.attachment) throw new Overtaken();
      return;
    }
    // A cascade delete marked the volume's snapshots DELETING: they fail with it, as a delete.failed outcome leaves them (found by the chaos suite: one stayed DELETING for ever).
    if (out.moved && op.resourceType === 'volume' && out.moved.row.status === 'error_deleting') out.snapshots = await casSnapshotsOfVolume(tx, out.moved.row.id, { $in: ['deleting'] }, { status: 'error_deleting' });
    if (out.moved && rule?.capacity === 'release') await capacity.release(tx, out.moved.row.id);
    if (out.moved && rule?.capacity === 'shrink') await capacity.shrink(tx, out.moved.row.id, (out.moved.row as Volume).sizeGiB);
    const resource = out.moved?.row ?? out.attachment;
    if (resource) {
      out.message = await leaveMessage(tx, {
        projectId: resource.projectId,
        resourceType: op.resourceType,
        resourceId: resource.id,
        event: op.kind,
        message: error.message,
      });
    }
  });
  if (!committed || !done) return false;
  countOperation(op.kind, 'failed');
  log.warn(
    { operationId: op.id, kind: op.kind, resourceType: op.resourceType, resourceId: op.resourceId, deadlineAt: op.deadlineAt, status: out.moved?.row.status },
    'operation missed its deadline; failed it',
  );
  out.moved?.announce(live);
  for (const snap of out.snapshots ?? []) live.publishSnapshot('UPDATED', snap);
  if (out.attachment) announceOverdueAttachment(live, out.attachment, out.attachmentVolume ?? null);
  const now = await findOperation(db.fork(), op.id);
  if (now) live.publishOperation(now);
  if (out.message) live.publishMessage(out.message);
  return true;
}

/**
 * Sweeps every `sweepIntervalMs(timeout)`; one sweep at a time per gateway. With `busAnswers`
 * (a probe of JetStream, ./bus-watch.ts), overdue operations are failed only once the bus has
 * answered: while it is down, the probe holds their deadlines instead.
 */
export function startDeadlineSweeper(
  db: Db,
  live: LiveHub,
  log: Logger,
  timeoutSeconds: number,
  bus?: Bus,
  busAnswers?: () => Promise<boolean>,
): { stop(): void; sweep(): Promise<number> } {
  let running = false;
  const sweep = async (): Promise<number> => {
    if (running) return 0;
    running = true;
    let n = 0;
    try {
      const overdue = await overdueOperations(db.fork(), new Date());
      if (overdue.length > 0 && busAnswers && !(await busAnswers())) return 0;
      for (const op of overdue) {
        if (await failOverdue(db, live, log, op, timeoutSeconds, bus)) n++;
      }
    } catch (err) {
      log.warn({ err }, 'deadline sweep failed; will retry');
    } finally {
      running = false;
    }
    return n;
  };
  const timer = setInterval(() => void sweep(), sweepIntervalMs(timeoutSeconds));
  timer.unref();
  return { stop: () => clearInterval(timer), sweep };
}
