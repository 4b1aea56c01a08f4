/** Agents' snapshot outcomes, applied as the volume's are (volume.ts). */
import { type SnapshotOutcomeEvent } from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import { addUserMessage, casSnapshot, finishOperation, UserMessage, type Db, type Snapshot, type SnapshotChanges } from '../../db/index.js';
import { SNAPSHOT_OUTCOMES } from '../../domain/snapshot-states.js';
import { announceOperationNow, newestMessage } from './messages.js';
import type { LiveHub } from '../live/hub.js';
import { countOperation } from '../../metrics/index.js';
import { applyLateSnapshotOutcome } from './late.js';


const SNAPSHOT_EVENT_OF: Record<string, string> = { create: 'create_snapshot', delete: 'delete_snapshot' };

/** Applies an agent's snapshot outcome, like `applyOutcome` does for volumes. */
export async function applySnapshotOutcome(db: Db, live: LiveHub, log: Logger, e: SnapshotOutcomeEvent): Promise<void> {
  const t = SNAPSHOT_OUTCOMES[e.outcome];
  const changes: SnapshotChanges = { status: t.to };
  if (e.outcome === 'delete.succeeded') changes.deletedAt = new Date();
  const failed = e.outcome.endsWith('.failed');
  const kind = SNAPSHOT_EVENT_OF[e.outcome.split('.')[0]!] ?? e.outcome;

  const em = db.fork();
  let snapshot: Snapshot | null = null;
  let message: UserMessage | null = null;
  await em.transactional(async (tx) => {
    snapshot = await casSnapshot(tx, e.snapshotId, { from: t.from }, changes);
    if (!snapshot) return; // already applied, or overtaken (e.g. deleted with its volume)
    await finishOperation(tx, e.operationId, failed ? 'failed' : 'succeeded', failed ? e.error : undefined);
    if (failed) {
      await addUserMessage(tx, {
        projectId: snapshot.projectId,
        resourceType: 'snapshot',
        resourceId: snapshot.id,
        event: kind,
        message: e.error?.message ?? `The snapshot could not be ${t.verb}.`,
      });
      message = await newestMessage(tx, snapshot.id, 'snapshot');
    }
  });
  if (!snapshot) {
    await applyLateSnapshotOutcome(db, live, log, e);
    const fork = db.fork();
    if (await finishOperation(fork, e.operationId, failed ? 'failed' : 'succeeded', e.error)) {
      countOperation(kind, failed ? 'failed' : 'succeeded');
      await announceOperationNow(fork, live, e.operationId);
    }
    return;
  }
  countOperation(kind, failed ? 'failed' : 'succeeded');
  const s: Snapshot = snapshot;
  log.info({ snapshotId: s.id, volumeId: s.volumeId, operationId: e.operationId, outcome: e.outcome, status: s.status }, 'snapshot changed');
  live.publishSnapshot(s.status === 'deleted' ? 'DELETED' : 'UPDATED', s);
  await announceOperationNow(db.fork(), live, e.operationId);
  if (message) live.publishMessage(message);
}
