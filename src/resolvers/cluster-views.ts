/**
 * Pool and service heartbeats as the API shows them, shared by the `pools`/`services`
 * queries and the `poolsChanged`/`servicesChanged` subscriptions.
 */
import { isUp } from '../domain/liveness.js';
import { poolId, type PoolStats, type ServiceHeartbeat } from '../bus/index.js';
import { ServiceStateEnum } from './types/enums.js';
import { offerOf } from '../domain/attachment-target-choice.js';
import type { TargetKindEnum } from './types/attachment.js';
import type { PoolObject, ServiceObject } from './types/system.js';

/** UP or DOWN by the liveness rule (src/domain/liveness.ts). */
function heartbeatState(at: string | Date, intervalSeconds: number, now = Date.now()): ServiceStateEnum {
  return isUp(at, intervalSeconds, now) ? ServiceStateEnum.UP : ServiceStateEnum.DOWN;
}

/** Pools from their heartbeats and Flint's allocations (`host@pool` → GiB), sorted by id. */
export function toPools(stats: PoolStats[], allocated: Map<string, number>, heartbeatSeconds: number, now = Date.now()): PoolObject[] {
  return stats
    .map((s) => ({
      ...s,
      ...(offerOf(s) as { targets: TargetKindEnum[]; defaultTarget: TargetKindEnum }),
      id: poolId(s.host, s.pool),
      name: s.pool,
      allocatedCapacityGiB: allocated.get(poolId(s.host, s.pool)) ?? 0,
      state: heartbeatState(s.updatedAt, heartbeatSeconds, now),
      updatedAt: new Date(s.updatedAt),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Services from their heartbeats, sorted by role and host. */
export function toServices(beats: ServiceHeartbeat[], now = Date.now()): ServiceObject[] {
  return beats
    .map((b) => ({
      host: b.host,
      role: b.role,
      zone: b.availabilityZone,
      state: heartbeatState(b.heartbeatAt, b.intervalSeconds, now),
      lastHeartbeatAt: new Date(b.heartbeatAt),
      startedAt: new Date(b.startedAt),
      version: b.version,
    }))
    .sort((a, b) => `${a.role}/${a.host}`.localeCompare(`${b.role}/${b.host}`));
}
