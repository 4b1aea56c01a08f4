/**
 * Outcomes the recorder's regular transitions no longer match, because the deadline
 * sweeper (../sweepers/deadlines.ts) gave the operation up first, and volumes an agent found
 * without their image at start-up (src/node-agent/reconcile.ts). The rules are the pure
 * ones of src/domain/deadlines.ts; every change is a compare-and-set of the resource table
 * (resources.ts) that the regular outcomes and the deadline sweeper use too.
 */
import type { EntityManager } from '@mikro-orm/knex';
import type { SnapshotOutcomeEvent, VolumeMissing, VolumeOutcomeEvent } from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import { capacity, casSnapshotsOfVolume, casVolume, findOperation, findSnapshot, findVolume, UserMessage, type Db, type Snapshot, type Volume, type VolumeChanges } from '../../db/index.js';
import { IMAGE_EXPECTED_STATUSES, lateOutcomeRule, missingImageMessage, type LateRule } from '../../domain/deadlines.js';
import type { VolumeStatus } from '../../domain/volume-states.js';
import type { SnapshotStatus } from '../../domain/snapshot-states.js';
import { poolId } from '../../bus/index.js';
import { leaveMessage } from './messages.js';
import { SNAPSHOT_RESOURCE, VOLUME_RESOURCE } from './resources.js';
import type { LiveHub } from '../live/hub.js';

/** Reserved without a bound: the image exists already, whatever the pool's limit says. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

async function alreadySaid(tx: EntityManager, resourceType: string, resourceId: string, event: string): Promise<boolean> {
  return (await tx.count(UserMessage, { resourceType, resourceId, event })) > 0;
}

/**
 * Applies a volume outcome that matched no regular transition, when a late rule says so.
 * Returns whether it changed the volume (the caller then only ends the operation if open).
 */
export async function applyLateVolumeOutcome(db: Db, live: LiveHub, log: Logger, e: VolumeOutcomeEvent): Promise<boolean> {
  const em = db.fork();
  const current = await findVolume(em, e.volumeId);
  if (!current) return false;
  const rule = lateOutcomeRule('volume', e.outcome, current.status, await findOperation(em, e.operationId));
  if (!rule) return false;
  let volume: Volume | null = null;
  let message: UserMessage | null = null;
  let snapshots: Snapshot[] = [];
  await em.transactional(async (tx) => {
    const changes: VolumeChanges = {};
    if (rule.to === 'deleted') Object.assign(changes, { status: 'deleted', deletedAt: new Date() });
    if (rule.to === 'available') changes.status = 'available';
    if (e.outcome === 'extend.succeeded' && e.sizeGiB) changes.sizeGiB = e.sizeGiB;
    if (e.outcome === 'create.succeeded') {
      if (rule.event && (await alreadySaid(tx, 'volume', e.volumeId, rule.event))) return; // a redelivery
      if (e.host) changes.host = e.host;
      if (e.pool) changes.pool = e.pool;
    }
    volume = await VOLUME_RESOURCE.cas(tx, e.volumeId, { from: rule.from as VolumeStatus[], expectedVersion: current.version }, changes);
    if (!volume) return;
    const v: Volume = volume;
    await applyCapacity(tx, rule, v);
    if (rule.to === 'deleted') snapshots = await casSnapshotsOfVolume(tx, v.id, { $ne: 'deleted' }, { status: 'deleted', deletedAt: new Date() });
    const text = rule.message({ host: v.host ?? undefined, pool: v.pool ?? undefined });
    if (text && rule.event) {
      message = await leaveMessage(tx, { projectId: v.projectId, resourceType: 'volume', resourceId: v.id, event: rule.event, message: text, level: 'WARNING' });
    }
  });
  if (!volume) return false;
  const v: Volume = volume;
  log.warn({ volumeId: v.id, operationId: e.operationId, outcome: e.outcome, status: v.status }, 'late outcome after the deadline; recorded');
  VOLUME_RESOURCE.announce(live, v);
  for (const s of snapshots) live.publishSnapshot('DELETED', s);
  if (message) live.publishMessage(message);
  return true;
}

async function applyCapacity(tx: EntityManager, rule: LateRule, v: Volume): Promise<void> {
  if (rule.capacity === 'release') await capacity.release(tx, v.id);
  if (rule.capacity === 'reserve' && v.host && v.pool) await capacity.reserve(tx, v.id, poolId(v.host, v.pool), v.sizeGiB, NO_LIMIT);
  if (rule.capacity === 'grow' && v.host && v.pool) await capacity.grow(tx, v.id, poolId(v.host, v.pool), v.sizeGiB, NO_LIMIT);
}

/** The snapshot counterpart of `applyLateVolumeOutcome`. */
export async function applyLateSnapshotOutcome(db: Db, live: LiveHub, log: Logger, e: SnapshotOutcomeEvent): Promise<boolean> {
  const em = db.fork();
  const current = await findSnapshot(em, e.snapshotId);
  if (!current) return false;
  const rule = lateOutcomeRule('snapshot', e.outcome, current.status, await findOperation(em, e.operationId));
  if (!rule) return false;
  let snapshot: Snapshot | null = null;
  let message: UserMessage | null = null;
  await em.transactional(async (tx) => {
    if (rule.event && (await alreadySaid(tx, 'snapshot', e.snapshotId, rule.event))) return;
    snapshot = await SNAPSHOT_RESOURCE.cas(
      tx,
      e.snapshotId,
      { from: rule.from as SnapshotStatus[], expectedVersion: current.version },
      rule.to === 'deleted' ? { status: 'deleted', deletedAt: new Date() } : {},
    );
    if (!snapshot) return;
    const s: Snapshot = snapshot;
    const text = rule.message({});
    if (text && rule.event) {
      message = await leaveMessage(tx, { projectId: s.projectId, resourceType: 'snapshot', resourceId: s.id, event: rule.event, message: text, level: 'WARNING' });
    }
  });
  if (!snapshot) return false;
  const s: Snapshot = snapshot;
  log.warn({ snapshotId: s.id, operationId: e.operationId, outcome: e.outcome, status: s.status }, 'late snapshot outcome after the deadline; recorded');
  SNAPSHOT_RESOURCE.announce(live, s);
  if (message) live.publishMessage(message);
  return true;
}

/**
 * An agent did not find a volume's image: ERROR with a message, if the volume is still at
 * the status and version the agent was told (anything that happened since wins).
 */
export async function applyVolumeMissing(db: Db, live: LiveHub, log: Logger, e: VolumeMissing): Promise<void> {
  if (!IMAGE_EXPECTED_STATUSES.includes(e.status)) return;
  const em = db.fork();
  let volume: Volume | null = null;
  let message: UserMessage | null = null;
  await em.transactional(async (tx) => {
    volume = await casVolume(tx, e.volumeId, { from: [e.status], expectedVersion: e.version }, { status: 'error' });
    if (!volume) return;
    const v: Volume = volume;
    message = await leaveMessage(tx, {
      projectId: v.projectId,
      resourceType: 'volume',
      resourceId: v.id,
      event: 'image_missing',
      message: missingImageMessage(e.host, e.pool, e.poolConfigured),
    });
  });
  if (!volume) {
    log.info({ volumeId: e.volumeId }, 'missing image reported for a volume that changed since; ignored');
    return;
  }
  const v: Volume = volume;
  log.warn({ volumeId: v.id, host: e.host, pool: e.pool, was: e.status }, 'volume image missing on its host; volume is ERROR');
  live.publish('UPDATED', v);
  if (message) live.publishMessage(message);
}
