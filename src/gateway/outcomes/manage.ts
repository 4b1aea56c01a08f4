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
import { addUserMessage, capacity, casVolume, UserMessage, type Db, type Volume } from '../../db/index.js';
import type { LiveHub } from '../live/hub.js';
import { applyOutcome } from './apply-outcome.js';
import { VOLUME_RESOURCE } from './resources.js';

/** The bytes are on the pool already: a managed image is counted whatever the pool's limit. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;
const LATE_MANAGE_EVENT = 'manage_late';

/** The size an adopted image turned out to have is what the agent found, not a change the user made: the volume's generation stays. */
const MANAGED_VOLUME_RESOURCE: typeof VOLUME_RESOURCE = { ...VOLUME_RESOURCE, cas: (tx, id, guard, changes) => casVolume(tx, id, guard, changes, { observed: true }) };

export async function applyManageOutcome(db: Db, live: LiveHub, log: Logger, e: ManageOutcomeEvent): Promise<void> {
  const ok = e.outcome === 'manage.succeeded';
  await applyOutcome(
    { db, live, log },
    {
      resource: MANAGED_VOLUME_RESOURCE,
      resourceId: e.volumeId,
      operationId: e.operationId,
      outcome: e.outcome,
      kind: 'manage_volume',
      failed: !ok,
      ...(e.error ? { error: e.error } : {}),
      from: ['creating'],
      changes: ok ? { status: 'available', sizeGiB: e.sizeGiB!, host: e.host, pool: e.pool } : { status: 'error' },
      alsoApply: async (tx) => {
        if (ok) await capacity.reserve(tx, e.volumeId, poolId(e.host, e.pool), e.sizeGiB!, NO_LIMIT);
      },
      message: ok ? null : (e.error?.message ?? 'The existing image could not be managed.'),
      late: () => late(db, live, e),
    },
  );
}

/** The volume had moved on (a duplicate, or the deadline failed it): account for a late adoption. */
async function late(db: Db, live: LiveHub, e: ManageOutcomeEvent): Promise<void> {
  if (e.outcome !== 'manage.succeeded') return;
  let changed: Volume | null = null;
  await db.fork().transactional(async (tx) => {
    const already = await tx.count(UserMessage, { resourceType: 'volume', resourceId: e.volumeId, event: LATE_MANAGE_EVENT });
    if (already > 0) return;
    changed = await casVolume(tx, e.volumeId, { from: ['error'] }, { sizeGiB: e.sizeGiB!, host: e.host, pool: e.pool }, { observed: true });
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
  if (changed) VOLUME_RESOURCE.announce(live, changed);
}
