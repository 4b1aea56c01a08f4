/**
 * The scheduler role: a replica of the shared durable consumer on
 * `flint.cmd.scheduler.>`. Any number may run; the database's conditional
 * reservations keep them from promising the same capacity twice.
 */
import type { FlintConfig } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import {
  COMMAND,
  PoolView,
  decodeEnvelope,
  decodePayload,
  publish,
  runConsumer,
  SCHEDULER_DURABLE,
  scheduleCreate,
  scheduleExtend,
  scheduleRetype as scheduleRetypeSchema,
  RETYPE_COMMAND,
  STREAM_CMD,
  subjects,
  type Bus,
} from '../bus/index.js';
import { capacity, findOperation, findVolume, type Db } from '../db/index.js';
import { operationEnded } from '../domain/operations.js';
import { silenceLimitMs } from '../domain/index.js';
import { countPlacement, hop, inCommandScope, noteEmitted, operationIdOf, schedulerMetrics } from '../metrics/index.js';

import { SchedulerCore, type SchedulerDeps } from './scheduler-core.js';
import { scheduleRetype } from './retype-handler.js';
import { AllocatedCapacityWeigher, CapacityWeigher, VolumeNumberWeigher, type PoolWeigher, type WeigherSetting } from './placement/index.js';

const WEIGHERS: Record<string, PoolWeigher> = { CapacityWeigher, AllocatedCapacityWeigher, VolumeNumberWeigher };

/** The configured weighers (names were checked with the configuration); none means the default. */
export function configuredWeighers(config: Pick<FlintConfig, 'schedulerWeighers'>): WeigherSetting[] | undefined {
  if (config.schedulerWeighers.length === 0) return undefined;
  return config.schedulerWeighers.map((w) => ({ weigher: WEIGHERS[w.name]!, multiplier: w.multiplier }));
}

export interface RunningRole {
  stop(): Promise<void>;
}

export async function startScheduler(config: FlintConfig, bus: Bus, db: Db, log: Logger): Promise<RunningRole> {
  schedulerMetrics();
  const view = await PoolView.start(bus.pools, (err) => log.warn({ err }, 'ignored an unreadable pool heartbeat'));
  const deps: SchedulerDeps = {
    pools: async () => view.withAllocations(await capacity.allocations(db.fork())),
    reserve: (key, pool, size, limit, movableFrom) => capacity.reservePlacement(db.fork(), key, pool, size, limit, movableFrom),
    grow: (volumeId, pool, size, limit) => capacity.grow(db.fork(), volumeId, pool, size, limit),
    stillCreating: async (volumeId) => (await findVolume(db.fork(), volumeId))?.status === 'creating',
    reservedPool: (volumeId) => capacity.reservedPool(db.fork(), volumeId),
    operationOpen: async (operationId) => {
      const op = await findOperation(db.fork(), operationId);
      return op !== null && !operationEnded(op.status);
    },
    emit: (subject, kind, payload, msgId) => {
      noteEmitted(kind, payload);
      return publish(bus, subject, kind, payload, msgId);
    },
    staleAfterMs: silenceLimitMs(config.heartbeatSeconds),
    staleGraceMs: Math.max(30_000, config.heartbeatSeconds * 6 * 1000),
    weighers: configuredWeighers(config),
  };
  const core = new SchedulerCore(deps);
  const runner = await runConsumer(
    bus,
    {
      stream: STREAM_CMD,
      durable: SCHEDULER_DURABLE,
      filterSubject: subjects.schedulerAll,
      concurrency: 16,
      onError: (err, msg) => log.error({ err, subject: msg.subject, redelivered: msg.redelivered }, 'scheduler command failed; will retry'),
      onResubscribe: (err) => log.warn({ err }, 'command subscription lost; subscribing again'),
    },
    async (msg) => {
      const env = decodeEnvelope(msg.data);
      // Log lines of this command carry its request and operation; what it publishes carries the request on.
      return inCommandScope(log, { requestId: env.requestId, operationId: operationIdOf(env.payload) }, async ({ log, emitted }) => {
        const command = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
        hop(log, 'scheduler.received');
        if (command === COMMAND.createVolume) {
          const cmd = decodePayload(env, scheduleCreate);
          log.debug({ volumeId: cmd.request.volumeId, attempt: cmd.attempt }, 'placing volume');
          const published = new Date(Math.floor(msg.info.timestampNanos / 1_000_000));
          const decision = await core.createVolume(cmd, published);
          countPlacement(decision, emitted);
          hop(log, 'scheduler.placed');
          if (decision !== 'done') {
            log.info({ volumeId: cmd.request.volumeId }, 'only silent pools could take the volume; waiting for their heartbeats');
            return decision;
          }
        } else if (command === COMMAND.extendVolume) {
          const cmd = decodePayload(env, scheduleExtend);
          log.debug({ volumeId: cmd.volumeId }, 'checking room to extend');
          await core.extendVolume(cmd);
        } else if (command === RETYPE_COMMAND) {
          const cmd = decodePayload(env, scheduleRetypeSchema);
          const decided = await scheduleRetype(deps, cmd);
          log.info({ volumeId: cmd.volumeId, type: cmd.volumeType.name, decision: decided.decision, destination: decided.destination }, 'retype decided');
        } else {
          log.error({ subject: msg.subject }, 'unknown scheduler command; dropped');
          return 'drop';
        }
        return 'ack';
      });
    },
  );
  log.info('scheduler ready');
  return {
    stop: async () => {
      await runner.stop();
      view.stop();
    },
  };
}
