/**
 * The agent's command handling, free of NATS (STYLE.md, "Core plus thin adapters"):
 * given a decoded command it has the command's handler decide the one message to send
 * (volume-commands.ts, migration.ts, attachments.ts, manage-commands.ts; backups.ts
 * sends its own), then records and emits it.
 *
 * Idempotence: the decided message is recorded in the `OutcomeStore` *before* it is
 * emitted. A redelivered command (same operation id and attempt) re-emits the
 * recorded message with the same msgId, which JetStream's duplicate window drops or
 * which completes a publish that a crash interrupted; the driver is not called again.
 */
import type { Logger } from '../config/index.js';
import {
  COMMAND,
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
} from '../bus/index.js';
import type { VolumeDriver } from './drivers/index.js';
import { KeyedMutex } from './keyed-mutex.js';
import { ATTACHMENT_COMMANDS, type AttachmentCommand, type AttachmentCommandPayloads, type AttachmentHandler } from './attachments.js';
import type { OutcomeStore, RecordedMessage } from './outcome-store.js';
import type { MigrationAgent } from './migration.js';
import { AgentBackups } from './backups.js';
import { BACKUP_COMMANDS, isBackupCommand, type AgentBackupsOptions, type BackupCommandPayloads } from './backup-commands.js';
import { manageVolume, unmanageVolume } from './manage-commands.js';
import { VolumeCommands } from './volume-commands.js';

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
  private readonly volumes: VolumeCommands;
  /** The backup commands, sharing this core's per-volume lock. */
  readonly backups: AgentBackups;

  constructor(opts: AgentCoreOptions) {
    this.opts = opts;
    this.volumes = new VolumeCommands(opts);
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
        return this.volumes.create(payload as AgentCreate);
      case COMMAND.deleteVolume:
        return this.volumes.delete(payload as AgentDelete);
      case COMMAND.extendVolume:
        return this.volumes.extend(payload as AgentExtend);
      case COMMAND.createSnapshot:
        return this.volumes.createSnapshot(payload as AgentCreateSnapshot);
      case COMMAND.deleteSnapshot:
        return this.volumes.deleteSnapshot(payload as AgentDeleteSnapshot);
      case COMMAND.revertVolume:
        return this.volumes.revert(payload as AgentRevert);
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
}
