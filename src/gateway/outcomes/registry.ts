/**
 * The outcome registry: every event kind the recorder applies, with its payload schema and
 * its handler, in one table. The recorder (recorder.ts) looks an event's kind up here; a
 * new outcome is one entry. Handlers apply guarded transitions, so a duplicate event changes
 * nothing. A volume's or snapshot's outcome is a declaration (its compare-and-set from/to,
 * what moves with it, its user message, its late rules) run by apply-outcome.ts; late
 * outcomes (late.ts) and missed deadlines (../sweepers/deadlines.ts) move the same resources
 * through the same table (resources.ts).
 */
import type { ZodType } from 'zod';
import {
  ATTACHMENT_KIND,
  attachmentOutcome,
  BACKUP_KIND,
  backupOutcome,
  backupVerified,
  KIND,
  MANAGE_KIND,
  manageOutcome,
  MIGRATION_KIND,
  migrationCleaned,
  migrationCopied,
  migrationExporting,
  migrationFailed,
  RECOVERY_KIND,
  RETYPE_KIND,
  retypeDecided,
  scheduleCreate,
  snapshotOutcome,
  volumeMissing,
  volumeOutcome,
  volumeScheduled,
  type Bus,
} from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import type { Db } from '../../db/index.js';
import type { BackupLive } from '../live/backup.js';
import type { LiveHub } from '../live/hub.js';
import { afterVolumeOutcome, applyAttachmentOutcome } from './attachment.js';
import { applyBackupOutcome, applyBackupVerified } from './backup.js';
import { applyVolumeMissing } from './late.js';
import { applyManageOutcome } from './manage.js';
import { applyCleaned, applyCopied, applyExporting, applyFailed } from './migration-steps.js';
import { applyRetypeDecided } from './retype.js';
import { applySnapshotOutcome } from './snapshot.js';
import { applyScheduled, applyVolumeOutcome, reschedule } from './volume.js';
import { startQueuedDelete } from '../sweepers/queued-deletes.js';

/** What a handler works with; `log` carries the event's request id. */
export interface OutcomeContext {
  db: Db;
  bus: Bus;
  live: LiveHub;
  backupLive: BackupLive;
  log: Logger;
}

/** One kind of event: how its payload is read and what applying it does. */
export interface OutcomeHandler<P = unknown> {
  payload: ZodType<P>;
  apply(ctx: OutcomeContext, payload: P): Promise<void>;
}

function on<P>(payload: ZodType<P>, apply: (ctx: OutcomeContext, payload: P) => Promise<void>): OutcomeHandler {
  return { payload, apply } as OutcomeHandler;
}

/** Event kind → its handler. */
export const OUTCOMES: ReadonlyMap<string, OutcomeHandler> = new Map([
  // The scheduler.
  [KIND.volumeScheduled, on(volumeScheduled, (c, e) => applyScheduled(c.db, c.live, e))],
  [KIND.volumeReschedule, on(scheduleCreate, (c, e) => reschedule(c.bus, c.db, c.log, e))],
  [RETYPE_KIND.decided, on(retypeDecided, (c, e) => applyRetypeDecided(c, e))],
  // Volumes and snapshots.
  [
    KIND.volumeOutcome,
    on(volumeOutcome, async (c, e) => {
      await applyVolumeOutcome(c.db, c.live, c.log, e, c.bus);
      // A delete asked for while it was being created starts now (../sweepers/queued-deletes.ts).
      if (e.outcome === 'create.succeeded' || e.outcome === 'create.failed') await startQueuedDelete(c, e.volumeId);
      // Attachments: an extended volume's status and exports (attachment.ts).
      await afterVolumeOutcome(c, e);
    }),
  ],
  [KIND.snapshotOutcome, on(snapshotOutcome, (c, e) => applySnapshotOutcome(c.db, c.live, c.log, e))],
  [RECOVERY_KIND.volumeMissing, on(volumeMissing, (c, e) => applyVolumeMissing(c.db, c.live, c.log, e))],
  [MANAGE_KIND.manageOutcome, on(manageOutcome, (c, e) => applyManageOutcome(c.db, c.live, c.log, e))],
  // Attachments.
  [ATTACHMENT_KIND.attachmentOutcome, on(attachmentOutcome, (c, e) => applyAttachmentOutcome(c.db, c.live, c.log, e))],
  // Migrations (and retypes that migrate): migration-steps.ts.
  [MIGRATION_KIND.exporting, on(migrationExporting, (c, e) => applyExporting(c, e))],
  [MIGRATION_KIND.copied, on(migrationCopied, (c, e) => applyCopied(c, e))],
  [MIGRATION_KIND.failed, on(migrationFailed, (c, e) => applyFailed(c, e))],
  [MIGRATION_KIND.cleaned, on(migrationCleaned, (c, e) => applyCleaned(c, e))],
  // Backups: backup.ts.
  [BACKUP_KIND.backupOutcome, on(backupOutcome, (c, e) => applyBackupOutcome(c.db, c.live, c.backupLive, c.log, e))],
  [BACKUP_KIND.backupVerified, on(backupVerified, (c, e) => applyBackupVerified(c.db, c.live, c.log, e))],
]);
