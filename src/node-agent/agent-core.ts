/**
 * The agent's command handling, free of NATS (STYLE.md, "Core plus thin adapters"):
 * given a decoded command it calls the pool's driver and decides the one message to
 * send: an outcome event, or for a failed create that may still succeed elsewhere,
 * the placement request sent back to the scheduler (Cinder's reschedule).
 *
 * Idempotence: the decided message is recorded in the `OutcomeStore` *before* it is
 * emitted. A redelivered command (same operation id and attempt) re-emits the
 * recorded message with the same msgId, which JetStream's duplicate window drops or
 * which completes a publish that a crash interrupted; the driver is not called again.
 */
import type { Logger } from '../config/index.js';
import {
  COMMAND,
  KIND,
  poolId,
  subjects,
  type AgentCreate,
  type AgentCreateSnapshot,
  type AgentDelete,
  type AgentDeleteSnapshot,
  type AgentExtend,
  type AgentRevert,
  MIGRATION_COMMAND,
  type MigrationCleanup,
  type MigrationExport,
  type MigrationImport,
  type AgentManage,
  type AgentUnmanage,
  MANAGE_COMMAND,
  type ScheduleCreate,
  type SnapshotOutcomeEvent,
  type VolumeOutcomeEvent,
} from '../bus/index.js';
import { DriverError, type VolumeDriver } from './drivers/index.js';
import { KeyedMutex } from './keyed-mutex.js';
import { ATTACHMENT_COMMANDS, type AttachmentCommand, type AttachmentCommandPayloads, type AttachmentHandler } from './attachments.js';
import type { OutcomeStore, RecordedMessage } from './outcome-store.js';
import type { MigrationAgent } from './migration.js';
import { AgentBackups } from './backups.js';
import { BACKUP_COMMANDS, isBackupCommand, type AgentBackupsOptions, type BackupCommandPayloads } from './backup-commands.js';
import { manageVolume, unmanageVolume } from './manage-commands.js';

/** Commands an agent understands: the last token of `flint.cmd.agent.<host>.<command>`. */
export const AGENT_COMMANDS = [
  COMMAND.createVolume,
  COMMAND.deleteVolume,
  COMMAND.extendVolume,
  COMMAND.createSnapshot,
  COMMAND.deleteSnapshot,
  COMMAND.revertVolume,
  MIGRATION_COMMAND.export,
  MIGRATION_COMMAND.import,
  MIGRATION_COMMAND.cleanup,
  ...ATTACHMENT_COMMANDS,
  ...BACKUP_COMMANDS,
  MANAGE_COMMAND.manageVolume,
  MANAGE_COMMAND.unmanageVolume,
] as const;
export type AgentCommand = (typeof AGENT_COMMANDS)[number];

/** Payload type of each command. */
export interface AgentCommandPayloads extends AttachmentCommandPayloads, BackupCommandPayloads {
  create_volume: AgentCreate;
  delete_volume: AgentDelete;
  extend_volume: AgentExtend;
  create_snapshot: AgentCreateSnapshot;
  delete_snapshot: AgentDeleteSnapshot;
  revert_volume: AgentRevert;
  migration_export: MigrationExport;
  migration_import: MigrationImport;
  migration_cleanup: MigrationCleanup;
  manage_volume: AgentManage;
  unmanage_volume: AgentUnmanage;
}

/** Publishes one message (to JetStream, in the adapter); must reject when the publish failed. */
export type Emit = (subject: string, kind: string, payload: unknown, msgId: string) => Promise<void>;

export interface AgentCoreOptions {
  /** This storage host's name, as in `flint.cmd.agent.<host>` and in `host@pool`. */
  host: string;
  availabilityZone: string;
  /** The host's drivers by pool name, already set up. */
  drivers: ReadonlyMap<string, VolumeDriver>;
  /** Pools a create may try before it fails (Cinder's `scheduler_max_attempts`). */
  maxAttempts: number;
  outcomes: OutcomeStore;
  emit: Emit;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** Migration commands (src/node-agent/migration.ts); absent: they fail as unsupported. */
  migration?: MigrationAgent;
  /** Attachment commands (src/node-agent/attachments.ts); without it they fail as unsupported. */
  attachments?: AttachmentHandler;
  /** Backup commands (src/node-agent/backups.ts); without it they fail for want of a repository. */
  backup?: Pick<AgentBackupsOptions, 'engine' | 'engineProblem' | 'repository' | 'repositoryId' | 'report' | 'progressIntervalMs'>;
}

/** Handles agent commands; one instance per agent process. */
export class AgentCore {
  private readonly opts: AgentCoreOptions;
  private readonly mutex = new KeyedMutex();
  /** The backup commands, sharing this core's per-volume lock. */
  readonly backups: AgentBackups;

  constructor(opts: AgentCoreOptions) {
    this.opts = opts;
    this.backups = new AgentBackups({
      engine: null,
      repository: 'none',
      report: () => undefined,
      ...opts.backup,
      // Snapshots of exported volumes go through the export (src/node-agent/attachments.ts).
      ...(opts.attachments ? { temporarySnapshots: opts.attachments.snapshotsThroughExports() } : {}),
      host: opts.host,
      drivers: opts.drivers,
      outcomes: opts.outcomes,
      emit: opts.emit,
      mutex: this.mutex,
      log: opts.log,
    });
  }

  /**
   * Does the command (or replays its recorded answer) and emits the resulting message.
   * Resolves once the message is published: only then may the command be acked.
   * Rejects only when recording or publishing failed (the command should be redelivered).
   * Commands of one volume (its snapshots' included) run one at a time; different
   * volumes run in parallel.
   */
  handle<C extends AgentCommand>(command: C, payload: AgentCommandPayloads[C]): Promise<void> {
    if (isBackupCommand(command)) return this.backups.handle(command, payload as BackupCommandPayloads[typeof command]);
    const attempt = command === COMMAND.createVolume ? (payload as AgentCreate).attempt : 1;
    // A migration within one host sends its export and its import to the same agent with one operation id.
    const recordId = command.startsWith('migration_') ? `${payload.operationId}_${command}` : payload.operationId;
    return this.mutex.run(payload.volumeId, async () => {
      const { outcomes, emit, log } = this.opts;
      const recorded = await outcomes.get(recordId, attempt);
      if (recorded) {
        log.info({ command, operationId: payload.operationId, attempt, msgId: recorded.msgId }, 'command seen before: replaying its recorded outcome');
        await emit(recorded.subject, recorded.kind, recorded.payload, recorded.msgId);
        return;
      }
      const message = await this.decide(command, payload);
      await outcomes.put(recordId, attempt, message);
      await emit(message.subject, message.kind, message.payload, message.msgId);
    });
  }

  private decide(command: AgentCommand, payload: AgentCommandPayloads[AgentCommand]): Promise<RecordedMessage> {
    switch (command) {
      case COMMAND.createVolume:
        return this.create(payload as AgentCreate);
      case COMMAND.deleteVolume:
        return this.delete(payload as AgentDelete);
      case COMMAND.extendVolume:
        return this.extend(payload as AgentExtend);
      case COMMAND.createSnapshot:
        return this.createSnapshot(payload as AgentCreateSnapshot);
      case COMMAND.deleteSnapshot:
        return this.deleteSnapshot(payload as AgentDeleteSnapshot);
      case COMMAND.revertVolume:
        return this.revert(payload as AgentRevert);
      case MIGRATION_COMMAND.export:
        return this.migration().export(payload as MigrationExport);
      case MIGRATION_COMMAND.import:
        return this.migration().import(payload as MigrationImport);
      case MIGRATION_COMMAND.cleanup:
        return this.migration().cleanup(payload as MigrationCleanup);
      case MANAGE_COMMAND.manageVolume:
        return manageVolume(this.opts, payload as AgentManage);
      case MANAGE_COMMAND.unmanageVolume:
        return unmanageVolume(this.opts, payload as AgentUnmanage);
      default:
        if (!this.opts.attachments) return Promise.reject(new Error(`this agent does not handle ${command}`));
        return this.opts.attachments.decide(command as AttachmentCommand, payload as AttachmentCommandPayloads[AttachmentCommand]);
    }
  }

  private migration(): MigrationAgent {
    if (!this.opts.migration) throw new Error('this agent was started without migration support');
    return this.opts.migration;
  }

  private async create(p: AgentCreate): Promise<RecordedMessage> {
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
        const info = await driver.createVolume(p.volumeId, p.sizeGiB);
        log.info({ volumeId: p.volumeId, pool, attempt: p.attempt, location: info.location }, 'volume created');
        return this.outcome(p.operationId, 'create.succeeded', p.attempt, {
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
    return this.outcome(p.operationId, 'create.failed', p.attempt, {
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
          ? await driver.createVolumeFromSnapshot(p.volumeId, p.sizeGiB, source.volumeId, source.snapshotId)
          : await driver.cloneVolume(p.volumeId, p.sizeGiB, source.volumeId);
        log.info({ volumeId: p.volumeId, pool, source, location: info.location }, 'volume created as a copy');
        return this.outcome(p.operationId, 'create.succeeded', p.attempt, { volumeId: p.volumeId, host, pool: p.pool, sizeGiB: p.sizeGiB });
      },
      async (err, refused, driver) => {
        log.error({ err, volumeId: p.volumeId, pool, source, refused }, 'creating a volume as a copy failed');
        if (driver && !refused) await this.removePartial(driver, p.volumeId, pool);
        return this.outcome(p.operationId, 'create.failed', p.attempt, {
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

  private revert(p: AgentRevert): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    const pool = poolId(host, p.pool);
    return this.onDriver(
      p.pool,
      async (driver) => {
        await driver.revertToSnapshot(p.volumeId, p.snapshotId);
        log.info({ volumeId: p.volumeId, snapshotId: p.snapshotId, pool }, 'volume reverted to its snapshot');
        return this.outcome(p.operationId, 'revert.succeeded', 1, { volumeId: p.volumeId, host, pool: p.pool });
      },
      (err, refused) => {
        log.error({ err, volumeId: p.volumeId, snapshotId: p.snapshotId, pool, refused }, 'volume revert failed');
        return this.outcome(p.operationId, 'revert.failed', 1, {
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

  private delete(p: AgentDelete): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    return this.onDriver(
      p.pool,
      async (driver) => {
        await driver.deleteVolume(p.volumeId);
        log.info({ volumeId: p.volumeId, pool: poolId(host, p.pool) }, 'volume deleted');
        return this.outcome(p.operationId, 'delete.succeeded', 1, { volumeId: p.volumeId, host, pool: p.pool });
      },
      (err) => {
        log.error({ err, volumeId: p.volumeId, pool: poolId(host, p.pool) }, 'volume delete failed');
        return this.outcome(p.operationId, 'delete.failed', 1, {
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

  private extend(p: AgentExtend): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    return this.onDriver(
      p.pool,
      async (driver) => {
        // An exported volume's image is held by its target's qemu process: let go of it while it grows.
        const grow = () => driver.extendVolume(p.volumeId, p.newSizeGiB);
        await (this.opts.attachments ? this.opts.attachments.growing(p.volumeId, grow) : grow());
        log.info({ volumeId: p.volumeId, pool: poolId(host, p.pool), sizeGiB: p.newSizeGiB }, 'volume extended');
        return this.outcome(p.operationId, 'extend.succeeded', 1, { volumeId: p.volumeId, host, pool: p.pool, sizeGiB: p.newSizeGiB });
      },
      (err, refused) => {
        log.error({ err, volumeId: p.volumeId, pool: poolId(host, p.pool) }, 'volume extend failed');
        return this.outcome(p.operationId, 'extend.failed', 1, {
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

  private createSnapshot(p: AgentCreateSnapshot): Promise<RecordedMessage> {
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
        return this.snapshotOutcome(p, 'create.succeeded');
      },
      (err, refused) => {
        log.error({ err, snapshotId: p.snapshotId, volumeId: p.volumeId, pool, refused }, 'snapshot create failed');
        return this.snapshotOutcome(
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

  private deleteSnapshot(p: AgentDeleteSnapshot): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    const pool = poolId(host, p.pool);
    return this.onDriver(
      p.pool,
      async (driver) => {
        const exports = this.opts.attachments?.snapshotsThroughExports();
        if (exports) await exports.remove(driver, p.volumeId, p.snapshotId);
        else await driver.deleteSnapshot(p.volumeId, p.snapshotId);
        log.info({ snapshotId: p.snapshotId, volumeId: p.volumeId, pool }, 'snapshot deleted');
        return this.snapshotOutcome(p, 'delete.succeeded');
      },
      (err, refused) => {
        log.error({ err, snapshotId: p.snapshotId, volumeId: p.volumeId, pool, refused }, 'snapshot delete failed');
        return this.snapshotOutcome(
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

  /** Snapshot outcomes go to the snapshot's subject; msgId `<operationId>:<outcome>` (snapshot commands have no attempts). */
  private snapshotOutcome(
    p: AgentCreateSnapshot | AgentDeleteSnapshot,
    outcome: SnapshotOutcomeEvent['outcome'],
    error?: SnapshotOutcomeEvent['error'],
  ): RecordedMessage {
    const payload: SnapshotOutcomeEvent = {
      operationId: p.operationId,
      snapshotId: p.snapshotId,
      volumeId: p.volumeId,
      outcome,
      ...(error ? { error } : {}),
    };
    return { subject: subjects.agentEvent(this.opts.host, 'snapshot', p.snapshotId), kind: KIND.snapshotOutcome, payload, msgId: `${p.operationId}:${outcome}` };
  }

  private outcome(
    operationId: string,
    outcome: VolumeOutcomeEvent['outcome'],
    attempt: number,
    rest: Omit<VolumeOutcomeEvent, 'operationId' | 'outcome'>,
  ): RecordedMessage {
    const payload: VolumeOutcomeEvent = { operationId, outcome, ...rest };
    return {
      subject: subjects.agentEvent(this.opts.host, 'volume', rest.volumeId),
      kind: KIND.volumeOutcome,
      payload,
      msgId: `${operationId}:${outcome}:${attempt}`,
    };
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

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A failed outcome's error: BAD_USER_INPUT when the driver refused the request, else INTERNAL. */
function failure(refused: boolean, message: string): { code: string; message: string } {
  return { code: refused ? 'BAD_USER_INPUT' : 'INTERNAL', message };
}
