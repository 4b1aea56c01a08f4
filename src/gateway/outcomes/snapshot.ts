/** Agents' snapshot outcomes, declared for apply-outcome.ts as the volume's are (volume.ts). */
import { applyOutcome } from './apply-outcome.js';
import { SNAPSHOT_RESOURCE } from './resources.js';
import { type SnapshotOutcomeEvent } from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import { type Db, type SnapshotChanges } from '../../db/index.js';
import { SNAPSHOT_OUTCOMES } from '../../domain/snapshot-states.js';
import type { LiveHub } from '../live/hub.js';
import { applyLateSnapshotOutcome } from './late.js';


const SNAPSHOT_EVENT_OF: Record<string, string> = { create: 'create_snapshot', delete: 'delete_snapshot' };

/** Applies an agent's snapshot outcome, as volume.ts does for volumes. */
export async function applySnapshotOutcome(db: Db, live: LiveHub, log: Logger, e: SnapshotOutcomeEvent): Promise<void> {
  const t = SNAPSHOT_OUTCOMES[e.outcome];
  const changes: SnapshotChanges = { status: t.to };
  if (e.outcome === 'delete.succeeded') changes.deletedAt = new Date();
  const failed = e.outcome.endsWith('.failed');
  await applyOutcome(
    { db, live, log },
    {
      resource: SNAPSHOT_RESOURCE,
      resourceId: e.snapshotId,
      operationId: e.operationId,
      outcome: e.outcome,
      kind: SNAPSHOT_EVENT_OF[e.outcome.split('.')[0]!] ?? e.outcome,
      failed,
      ...(e.error ? { error: e.error } : {}),
      from: t.from,
      changes,
      message: failed ? (e.error?.message ?? `The snapshot could not be ${t.verb}.`) : null,
      // Overtaken, e.g. deleted with its volume, or given up by the deadline sweeper.
      late: () => applyLateSnapshotOutcome(db, live, log, e),
    },
  );
}
