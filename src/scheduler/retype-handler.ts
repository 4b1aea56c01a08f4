/**
 * The scheduler's `retype_volume` command: decide (`decideRetype`, pure), reserve the
 * destination's capacity under the operation id when the volume must move (trying the
 * candidates best first, as creates do), and publish the decision on the volume's subject
 * for the recorder (src/gateway/mutations/volume-retype.ts).
 */
import { poolId, RETYPE_KIND, splitPoolId, subjects, type PlacementRequest, type RetypeDecided, type ScheduleRetype } from '../bus/index.js';
import { capacityLimitGiB, isThin } from './placement/index.js';
import { decideRetype } from './migration-decision.js';
import type { SchedulerDeps } from './scheduler-core.js';

export async function scheduleRetype(deps: SchedulerDeps, cmd: ScheduleRetype, now: Date = new Date()): Promise<RetypeDecided> {
  const req: PlacementRequest = {
    volumeId: cmd.volumeId,
    projectId: cmd.projectId,
    sizeGiB: cmd.sizeGiB,
    availabilityZone: cmd.availabilityZone,
    volumeType: cmd.volumeType,
  };
  const pools = await deps.pools();
  const decision = decideRetype(req, { host: cmd.host, pool: cmd.pool }, pools, {
    staleBefore: new Date(now.getTime() - deps.staleAfterMs),
    policy: cmd.policy,
    snapshotCount: cmd.snapshotCount,
    weighers: deps.weighers,
  });
  let out: RetypeDecided;
  if (decision.kind === 'in_place') {
    out = { operationId: cmd.operationId, volumeId: cmd.volumeId, decision: 'in_place' };
  } else if (decision.kind === 'refuse') {
    out = { operationId: cmd.operationId, volumeId: cmd.volumeId, decision: 'refuse', error: { code: decision.code, message: decision.message } };
  } else {
    out = {
      operationId: cmd.operationId,
      volumeId: cmd.volumeId,
      decision: 'refuse',
      error: {
        code: 'NO_VALID_BACKEND',
        message: `Volume ${cmd.volumeId} would have to migrate to be retyped to ${cmd.volumeType.name}, but the capacity of every pool that satisfies it was just taken by other volumes. The volume is unchanged; retry later.`,
      },
    };
    for (const pool of decision.candidates) {
      // Keyed by the operation: the volume keeps its reservation on its pool until the switch.
      // Never moved: a reservation under this operation is another copy's decision, and it stands.
      const reserved = await deps.reserve(cmd.operationId, poolId(pool.host, pool.pool), cmd.sizeGiB, capacityLimitGiB(pool, isThin(pool, req)), []);
      if (reserved === 'full') continue;
      const destination = reserved === 'reserved' ? { host: pool.host, pool: pool.pool } : splitPoolId(reserved.heldOn);
      out = { operationId: cmd.operationId, volumeId: cmd.volumeId, decision: 'migrate', destination };
      break;
    }
  }
  await deps.emit(subjects.schedulerEvent('volume', cmd.volumeId), RETYPE_KIND.decided, out, `${cmd.operationId}:${RETYPE_KIND.decided}`);
  return out;
}
