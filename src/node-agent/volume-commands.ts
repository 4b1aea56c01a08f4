/**
 * The agent's volume and snapshot commands: create (rescheduled to another pool when it
 * may succeed there), create as a copy, delete, extend, revert, and snapshot create and
 * delete. Each calls the pool's driver and returns the one message to send; `AgentCore`
 * (agent-core.ts) records and emits it.
 */
import type { Logger } from '../config/index.js';
import {
  KIND,
  poolId,
  subjects,
  type AgentCreate,
  type AgentCreateSnapshot,
  type AgentDelete,
  type AgentDeleteSnapshot,
  type AgentExtend,
  type AgentRevert,
  type ScheduleCreate,
} from '../bus/index.js';
import type { AttachmentHandler } from './attachments.js';
import { DriverError, type VolumeDriver } from './drivers/index.js';
import { errorMessage, failure } from './outcome-errors.js';
import type { RecordedMessage } from './outcome-store.js';
import { snapshotOutcome, volumeOutcome } from './volume-outcomes.js';

export interface VolumeCommandsOptions {
  /** This storage host's name. */
  host: string;
  /** The host's drivers by pool name, already set up. */
  drivers: ReadonlyMap<string, VolumeDriver>;
  /** Pools a create may try before it fails (Cinder's `scheduler_max_attempts`). */
  maxAttempts: number;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** Takes snapshots, and lets go of images while they grow, for exported volumes. */
  attachments?: AttachmentHandler;
}

/** Runs volume and snapshot commands on the host's drivers. */
export class VolumeCommands {
  constructor(private readonly opts: VolumeCommandsOptions) {}

  async create(p: AgentCreate): Promise<RecordedMessage> {
    if (p.source) return this.createCopy(p, p.source);
    const { host, log } = this.opts;
    const pool = poolId(host, p.pool);
    const driver = this.opts.drivers.get(p.pool);
    let reason: string;
    let retryable = true;
    if (!driver) {
      reason = this.unknownPool(p.pool);
    } else {
      try {
        const info = await driver.createVolume(p.volumeId, p.sizeGiB, p.request.encryption);
        log.info({ volumeId: p.volumeId, pool, attempt: p.attempt, location: info.location }, 'volume created');
        return volumeOutcome(host, p.operationId, 'create.succeeded', p.attempt, {
          volumeId: p.volumeId,
          host,
          pool: p.pool,
          sizeGiB: p.sizeGiB,
        });
      } catch (err) {
        reason = errorMessage(err);
        retryable = !(err instanceof DriverError) || err.retryable;
        log.warn({ err, volumeId: p.volumeId, pool, attempt: p.attempt, retryable }, 'volume create failed');
        // A refused request (e.g. the volume exists with another size) touched nothing:
        // only clean up after a failure that may have left bytes behind.
        if (retryable) await this.removePartial(driver, p.volumeId, pool);
      }
    }

    const excluded = [...p.excluded, { pool, reason }];
    if (retryable && p.attempt < this.opts.maxAttempts) {
      const request: ScheduleCreate = { operationId: p.operationId, request: p.request, attempt: p.attempt + 1, excluded };
      log.info({ volumeId: p.volumeId, nextAttempt: p.attempt + 1, excluded: excluded.map((e) => e.pool) }, 'sending the volume back to the scheduler');
      return {
        subject: subjects.agentEvent(this.opts.host, 'volume', p.volumeId),
        kind: KIND.volumeReschedule,
        payload: request,
        msgId: `${p.operationId}:schedule:${p.attempt + 1}`,
      };
    }
    const tried = excluded.map((e) => `${e.pool}: ${e.reason}`).join('; ');
    const advice = retryable
      ? `All ${excluded.length} attempt(s) allowed failed. Check the free space and health of those pools (an operator can read the agents' logs), then delete this volume and create it again.`
      : 'Trying another pool cannot help. Delete this volume and create it again (with a new id if one is reused).';
    return volumeOutcome(host, p.operationId, 'create.failed', p.attempt, {
      volumeId: p.volumeId,
      host,
      pool: p.pool,
      sizeGiB: p.sizeGiB,
      error: {
        code: 'NO_VALID_BACKEND',
        message: `Volume ${p.volumeId} (${p.sizeGiB} GiB) could not be created. Pools tried: ${tried}. ${advice}`,
      },
    });
  }

  /**
   * A new volume from a snapshot or a clone: the driver copies within the source's pool,
   * so another pool cannot help and a failure fails the volume (no reschedule).
   */
  private createCopy(p: AgentCreate, source: NonNullable<AgentCreate['source']>): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    const pool = poolId(host, p.pool);
    const from = source.snapshotId ? `snapshot ${source.snapshotId} of volume ${source.volumeId}` : `volume ${source.volumeId}`;
    return this.onDriver(
      p.pool,
      async (driver) => {
        const info = source.snapshotId
          ? await driver.createVolumeFromSnapshot(p.volumeId, p.sizeGiB, source.volumeId, source.snapshotId, p.request.encryption)
          : await driver.cloneVolume(p.volumeId, p.sizeGiB, source.volumeId, p.request.encryption);
        log.info({ volumeId: p.volumeId, pool, source, location: info.location }, 'volume created as a copy');
        return volumeOutcome(host, p.operationId, 'create.succeeded', p.attempt, { volumeId: p.volumeId, host, pool: p.pool, sizeGiB: p.sizeGiB });
      },
      async (err, refused, driver) => {
        log.error({ err, volumeId: p.volumeId, pool, source, refused }, 'creating a volume as a copy failed');
        if (driver && !refused) await this.removePartial(driver, p.volumeId, pool);
        return volumeOutcome(host, p.operationId, 'create.failed', p.attempt, {
          volumeId: p.volumeId,
          host,
          pool: p.pool,
          sizeGiB: p.sizeGiB,
          error: failure(
            refused,
            `Volume ${p.volumeId} (${p.sizeGiB} GiB) could not be created from ${from} on ${pool}: ${errorMessage(err)}. ` +
              'A copy can only be made on the source\'s pool, so it was not tried elsewhere. ' +
              (refused
                ? 'Check that the source still exists and is AVAILABLE, then delete this volume and create it again.'
                : 'Delete this volume and create it again; if that fails too, an operator should check that pool on its host.'),
          ),
        });
      },
    );
  }

  revert(p: AgentRevert): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    const pool = poolId(host, p.pool);
    return this.onDriver(
      p.pool,
      async (driver) => {
        await driver.revertToSnapshot(p.volumeId, p.snapshotId);
        log.info({ volumeId: p.volumeId, snapshotId: p.snapshotId, pool }, 'volume reverted to its snapshot');
        return volumeOutcome(host, p.operationId, 'revert.succeeded', 1, { volumeId: p.volumeId, host, pool: p.pool });
      },
      (err, refused) => {
        log.error({ err, volumeId: p.volumeId, snapshotId: p.snapshotId, pool, refused }, 'volume revert failed');
        return volumeOutcome(host, p.operationId, 'revert.failed', 1, {
          volumeId: p.volumeId,
          host,
          pool: p.pool,
          error: failure(
            refused,
            `Reverting volume ${p.volumeId} to snapshot ${p.snapshotId} on ${pool} failed: ${errorMessage(err)}. ` +
              'Its data may be partly reverted, so it is in ERROR: create a new volume from the snapshot instead, ' +
              'or ask an operator to check that pool and reset the volume\'s status.',
          ),
        });
      },
    );
  }

  delete(p: AgentDelete): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    return this.onDriver(
      p.pool,
      async (driver) => {
        await driver.deleteVolume(p.volumeId);
        log.info({ volumeId: p.volumeId, pool: poolId(host, p.pool) }, 'volume deleted');
        return volumeOutcome(host, p.operationId, 'delete.succeeded', 1, { volumeId: p.volumeId, host, pool: p.pool });
      },
      (err) => {
        log.error({ err, volumeId: p.volumeId, pool: poolId(host, p.pool) }, 'volume delete failed');
        return volumeOutcome(host, p.operationId, 'delete.failed', 1, {
          volumeId: p.volumeId,
          host,
          pool: p.pool,
          // Always INTERNAL: a delete is not refused for its input.
          error: failure(
            false,
            `Deleting volume ${p.volumeId} on ${poolId(host, p.pool)} failed: ${errorMessage(err)}. ` +
              'Retry the delete; if it fails again, an operator should check that pool on its host.',
          ),
        });
      },
    );
  }

  extend(p: AgentExtend): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    return this.onDriver(
      p.pool,
      async (driver) => {
        // An exported volume's image is held by its target's qemu process: let go of it while it grows.
        const grow = () => driver.extendVolume(p.volumeId, p.newSizeGiB);
        await (this.opts.attachments ? this.opts.attachments.growing(p.volumeId, grow) : grow());
        log.info({ volumeId: p.volumeId, pool: poolId(host, p.pool), sizeGiB: p.newSizeGiB }, 'volume extended');
        return volumeOutcome(host, p.operationId, 'extend.succeeded', 1, { volumeId: p.volumeId, host, pool: p.pool, sizeGiB: p.newSizeGiB });
      },
      (err, refused) => {
        log.error({ err, volumeId: p.volumeId, pool: poolId(host, p.pool) }, 'volume extend failed');
        return volumeOutcome(host, p.operationId, 'extend.failed', 1, {
          volumeId: p.volumeId,
          host,
          pool: p.pool,
          error: failure(
            refused,
            `Extending volume ${p.volumeId} to ${p.newSizeGiB} GiB on ${poolId(host, p.pool)} failed: ${errorMessage(err)}. ` +
              (refused ? 'Check the requested size (volumes only grow) and retry.' : 'Retry the extend; if it fails again, an operator should check that pool.'),
          ),
        });
      },
    );
  }

  createSnapshot(p: AgentCreateSnapshot): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    const pool = poolId(host, p.pool);
    return this.onDriver(
      p.pool,
      async (driver) => {
        // An attached volume's image may be held by its export: the attachment handler takes the snapshot through it.
        const exports = this.opts.attachments?.snapshotsThroughExports();
        if (exports) await exports.create(driver, p.volumeId, p.snapshotId);
        else await driver.createSnapshot(p.volumeId, p.snapshotId);
        log.info({ snapshotId: p.snapshotId, volumeId: p.volumeId, pool }, 'snapshot created');
        return snapshotOutcome(host, p, 'create.succeeded');
      },
      (err, refused) => {
        log.error({ err, snapshotId: p.snapshotId, volumeId: p.volumeId, pool, refused }, 'snapshot create failed');
        return snapshotOutcome(
          host,
          p,
          'create.failed',
          failure(
            refused,
            `Taking snapshot ${p.snapshotId} of volume ${p.volumeId} on ${pool} failed: ${errorMessage(err)}. ` +
              (refused
                ? 'The request cannot succeed as it is: check that the volume still exists and is usable, then delete this snapshot and take a new one.'
                : 'Delete this snapshot and take it again; if that fails too, an operator should check that pool on its host.'),
          ),
        );
      },
    );
  }

  deleteSnapshot(p: AgentDeleteSnapshot): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    const pool = poolId(host, p.pool);
    return this.onDriver(
      p.pool,
      async (driver) => {
        const exports = this.opts.attachments?.snapshotsThroughExports();
        if (exports) await exports.remove(driver, p.volumeId, p.snapshotId);
        else await driver.deleteSnapshot(p.volumeId, p.snapshotId);
        log.info({ snapshotId: p.snapshotId, volumeId: p.volumeId, pool }, 'snapshot deleted');
        return snapshotOutcome(host, p, 'delete.succeeded');
      },
      (err, refused) => {
        log.error({ err, snapshotId: p.snapshotId, volumeId: p.volumeId, pool, refused }, 'snapshot delete failed');
        return snapshotOutcome(
          host,
          p,
          'delete.failed',
          failure(
            refused,
            `Deleting snapshot ${p.snapshotId} of volume ${p.volumeId} on ${pool} failed: ${errorMessage(err)}. ` +
              (refused
                ? 'The request cannot succeed as it is; check the snapshot and volume ids.'
                : 'Retry the delete; if it fails again, an operator should check that pool on its host.'),
          ),
        );
      },
    );
  }

  /**
   * Runs `succeeded` with the pool's driver (an unknown pool fails like a driver error
   * would) and returns its message; when it throws, returns `failed`'s message for the
   * error, told whether the driver refused the request (a DriverError not retryable)
   * and given the driver when there is one.
   */
  private async onDriver(
    poolName: string,
    succeeded: (driver: VolumeDriver) => Promise<RecordedMessage>,
    failed: (err: unknown, refused: boolean, driver: VolumeDriver | undefined) => RecordedMessage | Promise<RecordedMessage>,
  ): Promise<RecordedMessage> {
    const driver = this.opts.drivers.get(poolName);
    try {
      if (!driver) throw new DriverError(this.unknownPool(poolName));
      return await succeeded(driver);
    } catch (err) {
      return failed(err, err instanceof DriverError && !err.retryable, driver);
    }
  }

  private unknownPool(pool: string): string {
    const known = [...this.opts.drivers.keys()].join(', ') || 'none';
    return `pool ${pool} is not configured on host ${this.opts.host} (its pools: ${known})`;
  }

  private async removePartial(driver: VolumeDriver, volumeId: string, pool: string): Promise<void> {
    try {
      await driver.deleteVolume(volumeId);
    } catch (err) {
      this.opts.log.error({ err, volumeId, pool }, 'could not remove what a failed create left; remove it by hand');
    }
  }
}
