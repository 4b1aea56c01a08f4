/**
 * Applies an agent's manage outcome (src/bus/contract/manage-messages.ts), delegated from the event
 * recorder: CREATING → AVAILABLE with the size the agent measured and the capacity
 * reserved on the pool, or CREATING → ERROR with a user message. A duplicate matches no
 * row and changes nothing. An adoption reported after the deadline sweeper failed the
 * volume keeps it ERROR but counts its capacity and tells the user how to get the file back.
 */
import type { ManageOutcomeEvent } from '../../bus/index.js';
import { poolId } from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import { addUserMessage, capacity, casVolume, findOperation, finishOperation, UserMessage, type Db, type Volume } from '../../db/index.js';
import { countOperation } from '../../metrics/index.js';
import type { LiveHub } from '../live/hub.js';

/** The bytes are on the pool already: a managed image is counted whatever the pool's limit. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;
const LATE_MANAGE_EVENT = 'manage_late';

export async function applyManageOutcome(db: Db, live: LiveHub, log: Logger, e: ManageOutcomeEvent): Promise<void> {
  const ok = e.outcome === 'manage.succeeded';
  const em = db.fork();
  let volume: Volume | null = null;
  let message: UserMessage | null = null;
  await em.transactional(async (tx) => {
    volume = ok
      ? await casVolume(tx, e.volumeId, { from: ['creating'] }, { status: 'available', sizeGiB: e.sizeGiB!, host: e.host, pool: e.pool })
      : await casVolume(tx, e.volumeId, { from: ['creating'] }, { status: 'error' });
    if (!volume) return;
    await finishOperation(tx, e.operationId, ok ? 'succeeded' : 'failed', ok ? undefined : e.error);
    if (ok) await capacity.reserve(tx, e.volumeId, poolId(e.host, e.pool), e.sizeGiB!, NO_LIMIT);
    else {
      await addUserMessage(tx, {
        projectId: volume.projectId,
        resourceType: 'volume',
        resourceId: volume.id,
        event: 'manage_volume',
        message: e.error?.message ?? 'The existing image could not be managed.',
      });
      message = await tx.findOne(UserMessage, { resourceType: 'volume', resourceId: volume.id }, { orderBy: { createdAt: 'desc', id: 'desc' } });
    }
  });
  if (!volume) {
    await late(db, live, e);
    return;
  }
  const v: Volume = volume;
  countOperation('manage_volume', ok ? 'succeeded' : 'failed');
  log.info({ volumeId: v.id, operationId: e.operationId, outcome: e.outcome, status: v.status, sizeGiB: v.sizeGiB }, 'volume changed');
  live.publish('UPDATED', v);
  const op = await findOperation(db.fork(), e.operationId);
  if (op) live.publishOperation(op);
  if (message) live.publishMessage(message);
}

/** The volume had moved on (duplicate, or the deadline failed it): end the operation, and account for a late adoption. */
async function late(db: Db, live: LiveHub, e: ManageOutcomeEvent): Promise<void> {
  const em = db.fork();
  let changed: Volume | null = null;
  if (e.outcome === 'manage.succeeded') {
    await em.transactional(async (tx) => {
      const already = await tx.count(UserMessage, { resourceType: 'volume', resourceId: e.volumeId, event: LATE_MANAGE_EVENT });
      if (already > 0) return;
      changed = await casVolume(tx, e.volumeId, { from: ['error'] }, { sizeGiB: e.sizeGiB!, host: e.host, pool: e.pool });
      if (!changed) return;
      await capacity.reserve(tx, e.volumeId, poolId(e.host, e.pool), e.sizeGiB!, NO_LIMIT);
      await addUserMessage(tx, {
        projectId: changed.projectId,
        resourceType: 'volume',
        resourceId: e.volumeId,
        event: LATE_MANAGE_EVENT,
        level: 'WARNING',
        message:
          `The agent adopted the file as this volume's image after the deadline had passed (host ${e.host}, pool ${e.pool}). ` +
          'The volume stays ERROR: unmanage it to give the file back, or delete it to remove the bytes.',
      });
    });
  }
  if (changed) live.publish('UPDATED', changed);
  if (await finishOperation(em, e.operationId, e.outcome === 'manage.succeeded' ? 'succeeded' : 'failed', e.error)) {
    countOperation('manage_volume', e.outcome === 'manage.succeeded' ? 'succeeded' : 'failed');
    const op = await findOperation(em, e.operationId);
    if (op) live.publishOperation(op);
  }
}
