/**
 * The agent's attachment commands (issue 4), free of NATS like `agent-core.ts`, which
 * delegates to this: export a volume for one attachment through the target of its kind
 * (iSCSI over tgt with CHAP and an initiator ACL, or NBD over qemu-nbd), remove the
 * export, make the consumer see a grown volume. Each returns the one outcome message
 * for `flint.evt.attachment.<id>`; AgentCore records it before emitting it, so a
 * redelivered command replays the outcome without touching the target again (and the
 * targets are idempotent besides). Also the start-up re-creation of the exports the DB
 * says this host should have (`reconcileExports`).
 */
import {
  ATTACHMENT_COMMAND,
  ATTACHMENT_KIND,
  subjects,
  type AgentExportAttachment,
  type AgentRefreshAttachment,
  type AgentUnexportAttachment,
  type AttachmentOutcomeEvent,
  type ReconcileAttachment,
} from '../bus/index.js';
import type { Logger } from '../config/index.js';
import { isSealed, type SecretBox } from '../domain/secret-box.js';
import type { TemporarySnapshots } from './backup-commands.js';
import { DriverError, type VolumeDriver } from './drivers/index.js';
// The file driver's name for a qcow2 internal snapshot: taken through an export, it must be the one the driver reads.
import { internalSnapshotName } from './drivers/file-util.js';
import type { RecordedMessage } from './outcome-store.js';
import type { ExportRequest, Target, TargetKind } from './targets/index.js';

export const ATTACHMENT_COMMANDS = [ATTACHMENT_COMMAND.exportAttachment, ATTACHMENT_COMMAND.unexportAttachment, ATTACHMENT_COMMAND.refreshAttachment] as const;
export type AttachmentCommand = (typeof ATTACHMENT_COMMANDS)[number];

export interface AttachmentCommandPayloads {
  export_attachment: AgentExportAttachment;
  unexport_attachment: AgentUnexportAttachment;
  refresh_attachment: AgentRefreshAttachment;
}

export interface AttachmentHandlerOptions {
  host: string;
  drivers: ReadonlyMap<string, VolumeDriver>;
  /** The host's targets; a kind whose setup failed maps to why. */
  targets: ReadonlyMap<TargetKind, Target | { unavailable: string }>;
  /** The export kinds each pool offers (its config's `targets`); an export of another kind is refused. A pool not in the map offers every kind. */
  poolTargets?: ReadonlyMap<string, readonly TargetKind[]>;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** Opens the sealed CHAP passwords of the commands (the gateway's key, src/config/secret-key.ts). */
  secrets: SecretBox;
}

export class AttachmentHandler {
  /** What this agent exported, by attachment: to release the image while its volume grows. */
  private readonly exported = new Map<string, { volumeId: string; kind: TargetKind }>();

  constructor(private readonly opts: AttachmentHandlerOptions) {}

  /**
   * Runs `grow` (the driver's extend) while the volume's exports let go of the image (a qemu
   * process serving it holds its lock): through `growWhileExported` of one export per target
   * kind, nested. Without exports it just runs `grow`.
   */
  growing<T>(volumeId: string, grow: () => Promise<T>): Promise<T> {
    const byKind = new Map<TargetKind, string>();
    for (const [id, e] of this.exported) if (e.volumeId === volumeId && !byKind.has(e.kind)) byKind.set(e.kind, id);
    let run = grow;
    for (const [kind, id] of byKind) {
      const t = this.opts.targets.get(kind);
      if (!t || 'unavailable' in t) continue;
      const inner = run;
      run = () => t.growWhileExported(id, inner);
    }
    return run();
  }

  /**
   * Snapshots of a volume this agent may export (a user's `createSnapshot` with force, or a
   * forced backup's temporary one): a qcow2 image that qemu-storage-daemon serves (behind an
   * iSCSI LUN, or as an NBD export) holds its write lock, so the snapshot is taken and removed through the daemon
   * (QMP) while the export keeps running; otherwise (not exported, raw, or a target that
   * cannot) through the driver.
   */
  snapshotsThroughExports(): TemporarySnapshots {
    return {
      create: async (driver, volumeId, snapshotId) => {
        if (!(await this.snapshotThroughExport(driver, volumeId, snapshotId, 'create'))) await driver.createSnapshot(volumeId, snapshotId);
      },
      remove: async (driver, volumeId, snapshotId) => {
        if (!(await this.snapshotThroughExport(driver, volumeId, snapshotId, 'delete'))) await driver.deleteSnapshot(volumeId, snapshotId);
      },
    };
  }

  private async snapshotThroughExport(driver: VolumeDriver, volumeId: string, snapshotId: string, action: 'create' | 'delete'): Promise<boolean> {
    const kinds = new Set([...this.exported.values()].filter((e) => e.volumeId === volumeId).map((e) => e.kind));
    if (kinds.size === 0) return false;
    const image = await driver.imageSource(volumeId);
    if (image.format !== 'qcow2') return false;
    for (const kind of kinds) {
      const t = this.opts.targets.get(kind);
      if (!t || 'unavailable' in t || !t.internalSnapshot) continue;
      if (await t.internalSnapshot(image.path, internalSnapshotName(snapshotId), action)) {
        this.opts.log.info({ volumeId, snapshotId, kind, action }, 'snapshot handled through the running export');
        return true;
      }
    }
    // Every qcow2 volume attached over NBD is served by qemu-storage-daemon, which takes the snapshot above. Not here: its
    // daemon is down (the agent's reconcile re-creates it) or the target never started; qemu-img would meet a lock or race the restart.
    if (kinds.has('nbd')) {
      throw new DriverError(
        `volume ${volumeId} is a qcow2 image attached over NBD, but no qemu-storage-daemon serves it on this agent now, so its snapshot ${snapshotId} cannot be ${action === 'create' ? 'taken' : 'removed'} through the export. ` +
          'Retry once the attachment is served again (the agent restores its exports), or detach it (deleteAttachment) and retry',
        { retryable: true },
      );
    }
    return false;
  }

  decide<C extends AttachmentCommand>(command: C, payload: AttachmentCommandPayloads[C]): Promise<RecordedMessage> {
    switch (command) {
      case ATTACHMENT_COMMAND.exportAttachment:
        return this.export(payload as AgentExportAttachment);
      case ATTACHMENT_COMMAND.unexportAttachment:
        return this.unexport(payload as AgentUnexportAttachment);
      default:
        return this.refresh(payload as AgentRefreshAttachment);
    }
  }

  private async export(p: AgentExportAttachment): Promise<RecordedMessage> {
    const { log, host } = this.opts;
    try {
      const target = this.target(p.targetKind);
      const driver = this.opts.drivers.get(p.pool);
      if (!driver) throw new DriverError(`pool ${p.pool} is not configured on host ${host}`);
      const offered = this.opts.poolTargets?.get(p.pool);
      if (offered && !offered.includes(p.targetKind)) {
        throw new DriverError(`pool ${p.pool} on host ${host} does not offer ${p.targetKind} exports (it offers ${offered.join(' and ')}); attach with a targetKind the pool offers`, { retryable: false });
      }
      const image = await driver.imageSource(p.volumeId);
      const connection = await target.export(exportRequest(p, image, this.opts.secrets));
      this.exported.set(p.attachmentId, { volumeId: p.volumeId, kind: p.targetKind });
      log.info({ attachmentId: p.attachmentId, volumeId: p.volumeId, kind: p.targetKind, mode: p.mode }, 'volume exported');
      // Told by what opened the image: the export serves plaintext of an encrypted volume.
      return outcome(this.opts.host, p, 'export.succeeded', { connection: { ...connection, encrypted: image.key !== undefined } });
    } catch (err) {
      const refused = err instanceof DriverError && !err.retryable;
      log.error({ err, attachmentId: p.attachmentId, volumeId: p.volumeId, kind: p.targetKind }, 'export failed');
      return outcome(this.opts.host, p, 'export.failed', {
        error: {
          code: refused ? 'BAD_USER_INPUT' : 'INTERNAL',
          message:
            `Exporting volume ${p.volumeId} over ${p.targetKind} on host ${host} for attachment ${p.attachmentId} failed: ${message(err)}. ` +
            'The attachment is ERROR_ATTACHING: delete it and attach again; if that fails too, an operator should check the agent\'s target on that host.',
        },
      });
    }
  }

  private async unexport(p: AgentUnexportAttachment): Promise<RecordedMessage> {
    const { log, host } = this.opts;
    try {
      await this.target(p.targetKind).unexport(p.attachmentId);
      this.exported.delete(p.attachmentId);
      log.info({ attachmentId: p.attachmentId, volumeId: p.volumeId, kind: p.targetKind }, 'export removed');
      return outcome(this.opts.host, p, 'unexport.succeeded', {});
    } catch (err) {
      log.error({ err, attachmentId: p.attachmentId, volumeId: p.volumeId }, 'removing an export failed');
      return outcome(this.opts.host, p, 'unexport.failed', {
        error: {
          code: 'INTERNAL',
          message:
            `Removing the ${p.targetKind} export of attachment ${p.attachmentId} on host ${host} failed: ${message(err)}. ` +
            'The attachment is ERROR_DETACHING: delete it again to retry; an admin can forceDetach it.',
        },
      });
    }
  }

  private async refresh(p: AgentRefreshAttachment): Promise<RecordedMessage> {
    const { log, host } = this.opts;
    try {
      await this.target(p.targetKind).refreshSize(p.attachmentId);
      log.info({ attachmentId: p.attachmentId, volumeId: p.volumeId }, 'export shows the new size');
      return outcome(this.opts.host, p, 'refresh.succeeded', {});
    } catch (err) {
      log.error({ err, attachmentId: p.attachmentId, volumeId: p.volumeId }, 'refreshing an export\'s size failed');
      return outcome(this.opts.host, p, 'refresh.failed', {
        error: {
          code: 'INTERNAL',
          message: `The consumer of attachment ${p.attachmentId} may still see the old size: refreshing the export on host ${host} failed: ${message(err)}. Detach and attach again to see the new size.`,
        },
      });
    }
  }

  private target(kind: TargetKind): Target {
    const t = this.opts.targets.get(kind);
    if (!t) throw new DriverError(`host ${this.opts.host} has no ${kind} target`);
    if ('unavailable' in t) throw new DriverError(`the ${kind} target of host ${this.opts.host} is not available: ${t.unavailable}`, { retryable: false });
    return t;
  }

  /**
   * Makes each target's exports exactly what the DB says this host should have (after an
   * agent or tgtd restart): builds the export requests (skipping volumes whose pool or image
   * is gone, with a warning) and calls `reconcile` on every available target.
   */
  async reconcileExports(wanted: readonly ReconcileAttachment[]): Promise<{ exported: number; skipped: number }> {
    const { log } = this.opts;
    const byKind = new Map<TargetKind, ExportRequest[]>();
    this.exported.clear();
    let skipped = 0;
    for (const a of wanted) {
      const driver = this.opts.drivers.get(a.pool);
      const image = driver ? await driver.imageSource(a.volumeId).catch(() => undefined) : undefined;
      if (!image) {
        skipped++;
        log.warn({ attachmentId: a.attachmentId, volumeId: a.volumeId, pool: a.pool }, 'attachment not re-exported: its volume\'s image is not on this host');
        continue;
      }
      if (this.opts.poolTargets?.get(a.pool)?.includes(a.targetKind) === false) {
        // Made when the pool offered it: keep serving the consumer, but say the config changed.
        log.warn({ attachmentId: a.attachmentId, pool: a.pool, kind: a.targetKind }, 'attachment re-exported over a target its pool no longer offers; new attachments cannot use it');
      }
      let req: ExportRequest;
      try {
        req = exportRequest(a, image, this.opts.secrets);
      } catch (err) {
        skipped++;
        log.error({ err, attachmentId: a.attachmentId, volumeId: a.volumeId }, 'attachment not re-exported: its CHAP secret does not open');
        continue;
      }
      const list = byKind.get(a.targetKind) ?? [];
      list.push(req);
      this.exported.set(a.attachmentId, { volumeId: a.volumeId, kind: a.targetKind });
      byKind.set(a.targetKind, list);
    }
    let exported = 0;
    for (const [kind, t] of this.opts.targets) {
      if ('unavailable' in t) continue;
      const list = byKind.get(kind) ?? [];
      await t.reconcile(list);
      exported += list.length;
    }
    log.info({ exported, skipped }, 'exports re-created from the database');
    return { exported, skipped };
  }
}

/**
 * The target's request, with the CHAP password opened (a clear one, from a command queued
 * before secrets were sealed, is used as it is).
 * @throws SecretBoxError naming the key file when the password does not open.
 */
function exportRequest(
  p: Pick<AgentExportAttachment, 'attachmentId' | 'volumeId' | 'mode' | 'initiator' | 'chap'>,
  image: ExportRequest['image'],
  secrets: SecretBox,
): ExportRequest {
  const chap = p.chap && { username: p.chap.username, password: isSealed(p.chap.password) ? secrets.open(p.chap.password, p.attachmentId) : p.chap.password };
  return {
    attachmentId: p.attachmentId,
    volumeId: p.volumeId,
    image,
    mode: p.mode,
    ...(p.initiator ? { initiator: p.initiator } : {}),
    ...(chap ? { chap } : {}),
  };
}

function outcome(
  host: string,
  p: { operationId: string; attachmentId: string; volumeId: string },
  name: AttachmentOutcomeEvent['outcome'],
  rest: Pick<AttachmentOutcomeEvent, 'connection' | 'error'>,
): RecordedMessage {
  const payload: AttachmentOutcomeEvent = { operationId: p.operationId, attachmentId: p.attachmentId, volumeId: p.volumeId, outcome: name, ...rest };
  return { subject: subjects.agentEvent(host, 'attachment', p.attachmentId), kind: ATTACHMENT_KIND.attachmentOutcome, payload, msgId: `${p.operationId}:${name}` };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
