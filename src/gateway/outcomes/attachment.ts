/**
 * The recorder's part for attachments (the recorder delegates `attachment.outcome` events
 * here): an agent's export/unexport outcome is declared for apply-outcome.ts (the guarded
 * transition of src/domain/attachment-states.ts, the user message of a failure, the volume's
 * status recomputed from its attachments after the commit); a refresh only ends its operation.
 * Also: an attachment operation that missed its deadline (`failOverdueAttachment`), and
 * the exports to refresh after an attached volume grew (`refreshAfterExtend`).
 */
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import {
  ATTACHMENT_COMMAND,
  ATTACHMENT_KIND,
  subjects,
  type AgentRefreshAttachment,
  type AttachmentOutcomeEvent,
  type VolumeOutcomeEvent,
} from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import {
  casAttachment,
  findOperation,
  finishOperation,
  Operation,
  syncVolumeStatus,
  type Attachment,
  type Volume,
  type AttachmentChanges,
  type Db,
  type UserMessage,
} from '../../db/index.js';
import { exportsOfVolume } from '../../db/attachment-store.js';
import { ATTACHMENT_OUTCOMES, type AttachmentOutcome } from '../../domain/attachment-states.js';
import { derivedId } from '../../domain/derived-id.js';
import { announceOperationNow, leaveMessage } from './messages.js';
import { applyOutcome } from './apply-outcome.js';
import { ATTACHMENT_RESOURCE } from './resources.js';
import type { LiveHub } from '../live/hub.js';
import { announceOperation as announceAndSend } from '../mutations/kernel.js';
import type { GatewayDeps } from '../deps.js';

export async function applyAttachmentOutcome(db: Db, live: LiveHub, log: Logger, e: AttachmentOutcomeEvent): Promise<void> {
  const em = db.fork();
  const op = await findOperation(em, e.operationId);
  const kind = op?.kind ?? 'attachment';
  const failed = e.outcome.endsWith('.failed');
  if (e.outcome === 'refresh.succeeded' || e.outcome === 'refresh.failed') {
    // The attachment's status does not change; a failure leaves a warning.
    let message: UserMessage | null = null;
    await em.transactional(async (tx) => {
      if (!(await finishOperation(tx, e.operationId, failed ? 'failed' : 'succeeded', failed ? e.error : undefined))) return;
      if (failed && op) {
        message = await leaveMessage(tx, {
          projectId: op.projectId,
          resourceType: 'attachment',
          resourceId: e.attachmentId,
          event: 'refresh_attachment',
          message: e.error?.message ?? 'The consumer may still see the old size.',
          level: 'WARNING',
        });
      }
    });
    await announceOperationNow(db.fork(), live, e.operationId);
    if (message) live.publishMessage(message);
    return;
  }
  const t = ATTACHMENT_OUTCOMES[e.outcome as AttachmentOutcome];
  const changes: AttachmentChanges = {};
  if (t.to) changes.status = t.to;
  if (e.outcome === 'export.succeeded' && e.connection) changes.connection = e.connection;
  if (e.outcome === 'unexport.succeeded') Object.assign(changes, { detachedAt: new Date(), connection: null });
  await applyOutcome(
    { db, live, log },
    {
      resource: ATTACHMENT_RESOURCE,
      resourceId: e.attachmentId,
      operationId: e.operationId,
      outcome: e.outcome,
      kind,
      failed,
      ...(e.error ? { error: e.error } : {}),
      from: t.from,
      changes,
      // The volume's status follows its attachments (IN_USE, RESERVED, AVAILABLE…), in the
      // same commit: done after it, a database lost in between left a volume DETACHING for
      // ever behind a DETACHED attachment (the redelivery found the attachment moved).
      alsoApply: async (tx, a) => {
        const volume = await syncVolumeStatus(tx, a.volumeId);
        return volume ? (l) => l.publish('UPDATED', volume) : undefined;
      },
      message: failed ? (e.error?.message ?? `The attachment could not be ${t.verb}.`) : null,
      // Overtaken (deleted meanwhile, deadline passed), or already applied: only the operation
      // ends, if still open, and the volume's status is brought in line with its attachments
      // (an earlier gateway may have committed the attachment and not the volume).
      late: async () => {
        if (e.outcome === 'unexport.succeeded' && (await detachedLate(db, live, log, e.attachmentId, changes))) return;
        log.info({ attachmentId: e.attachmentId, outcome: e.outcome }, 'attachment outcome matched no state; its operation was ended and its volume brought in line');
        const volume = await syncVolumeStatus(db.fork(), e.volumeId);
        if (volume) live.publish('UPDATED', volume);
      },
    },
  );
}

/**
 * A removal that came after its deadline (the chaos suite: the command stream was down for
 * longer than the deadline after a NATS node died): the export is gone, so the attachment in
 * ERROR_DETACHING is DETACHED after all, and its volume follows in the same commit. As a
 * late delete makes a volume in ERROR_DELETING DELETED (src/domain/deadlines.ts).
 */
async function detachedLate(db: Db, live: LiveHub, log: Logger, attachmentId: string, changes: AttachmentChanges): Promise<boolean> {
  const done = await db.fork().transactional(async (tx) => {
    const a = await ATTACHMENT_RESOURCE.cas(tx, attachmentId, { from: ['error_detaching'] }, changes);
    return a ? { a, volume: await syncVolumeStatus(tx, a.volumeId) } : null;
  });
  if (!done) return false;
  log.warn({ attachmentId, volumeId: done.a.volumeId }, 'late removal after the deadline: the export is gone, the attachment is DETACHED');
  ATTACHMENT_RESOURCE.announce(live, done.a);
  if (done.volume) live.publish('UPDATED', done.volume);
  return true;
}

/**
 * An attachment operation past its deadline (called by the deadline sweeper inside its
 * transaction, before it fails the operation): ATTACHING → ERROR_ATTACHING for an export,
 * DETACHING → ERROR_DETACHING for a removal. Returns the attachment when it moved.
 */
export async function failOverdueAttachment(tx: EntityManager, op: Operation): Promise<Attachment | null> {
  if (op.resourceType !== 'attachment') return null;
  const outcome: AttachmentOutcome | null =
    op.kind === 'create_attachment' || op.kind === 'update_attachment' ? 'export.timeout' : op.kind === 'delete_attachment' || op.kind === 'force_detach' ? 'unexport.timeout' : null;
  if (!outcome) return null;
  const t = ATTACHMENT_OUTCOMES[outcome];
  return casAttachment(tx, op.resourceId, { from: t.from }, { status: t.to });
}

/**
 * In the deadline sweeper's transaction, after the attachment moved: the volume's status
 * follows its attachments in the same commit (RESERVED again when its export timed out), so
 * nobody reads an ERROR_ATTACHING attachment of a volume still ATTACHING.
 */
export function syncVolumeOfOverdue(tx: EntityManager, a: Attachment): Promise<Volume | null> {
  return syncVolumeStatus(tx, a.volumeId);
}

/** After the deadline sweeper committed: the announcements (the volume when the transaction moved it). */
export function announceOverdueAttachment(live: LiveHub, a: Attachment, volume: Volume | null): void {
  if (volume) live.publish('UPDATED', volume);
  live.publishAttachment('UPDATED', a);
}

/**
 * After a volume outcome: an extend of an attached volume ends with the volume's status
 * recomputed from its attachments (IN_USE again), and on success every export of the
 * volume is told to show the new size (`refresh_attachment`).
 */
export async function afterVolumeOutcome(deps: Pick<GatewayDeps, 'db' | 'bus' | 'live' | 'log'>, e: VolumeOutcomeEvent): Promise<void> {
  if (!e.outcome.startsWith('extend.')) return;
  const volume = await syncVolumeStatus(deps.db.fork(), e.volumeId);
  if (volume) deps.live.publish('UPDATED', volume);
  if (e.outcome === 'extend.succeeded') await refreshAfterExtend(deps, e.volumeId, e.operationId);
}

async function refreshAfterExtend(deps: Pick<GatewayDeps, 'db' | 'bus' | 'live' | 'log'>, volumeId: string, extendOperationId: string): Promise<void> {
  const em = deps.db.fork();
  const extend = await findOperation(em, extendOperationId);
  // Each export is refreshed where it is: its attachment's host (for a backend host's volume, the member agent that exports it).
  const exported = await exportsOfVolume(em, volumeId);
  for (const a of exported) {
    const host = a.host!;
    // One refresh per attachment and extend, with an id derived from both: a redelivered extend outcome inserts nothing.
    const operationId = derivedId(`${extendOperationId}:${a.id}:refresh`);
    const payload: AgentRefreshAttachment = { operationId, attachmentId: a.id, volumeId, targetKind: a.targetKind };
    let operation: Operation;
    try {
      operation = await em.fork().transactional(async (tx) =>
        tx.create(Operation, {
          id: operationId,
          projectId: extend?.projectId ?? a.projectId,
          kind: 'refresh_attachment',
          resourceType: 'attachment',
          resourceId: a.id,
          command: {
            subject: subjects.agent(host, ATTACHMENT_COMMAND.refreshAttachment),
            kind: ATTACHMENT_KIND.agentRefresh,
            payload,
            msgId: `${operationId}:${ATTACHMENT_KIND.agentRefresh}`,
          },
        }),
      );
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) continue;
      throw err;
    }
    announceAndSend(deps as GatewayDeps, operation);
    deps.log.info({ attachmentId: a.id, volumeId, operationId }, 'attached volume grew: export refresh sent');
  }
}


