/**
 * Contracts of volume migration (Cinder's migrate; also a retype that must move the
 * volume). The gateway orchestrates (src/gateway/mutations/volume-migration.ts): it asks the
 * source agent to export the image over NBD (`migration_export`), and when the source
 * says where (`migration.exporting`), asks the destination agent to copy it
 * (`migration_import`); the destination reports the verified copy (`migration.copied`)
 * or a failure (`migration.failed`), the gateway switches the volume over in one
 * compare-and-set and asks the source to stop its export and delete the old image
 * (`migration_cleanup`, answered by `migration.cleaned`). Events go to the volume's
 * subject `flint.evt.agent.<host>.volume.<id>`.
 */
import { z } from 'zod';
import { MIGRATION_STAGES } from '../../domain/migration.js';
import { volumeEncryption } from './encryption-messages.js';

const id = z.string().min(1).max(128);
const gib = z.number().int().positive();
const place = z.object({ host: z.string().min(1), pool: z.string().min(1) });

/**
 * How far the destination's copy is, on **core NATS** `flint.progress.agent.<host>.migration.<volumeId>`
 * at most once a second (like backup progress: a lost report costs nothing, the next one
 * says more). Gateways push the migration's deadline while the bytes grow.
 */
export const migrationProgress = z.object({
  operationId: id,
  volumeId: id,
  /** Bytes copied and then checked: `totalBytes` is twice the volume's size. */
  doneBytes: z.number().int().nonnegative(),
  totalBytes: z.number().int().nonnegative(),
  at: z.string(),
});
export type MigrationProgress = z.infer<typeof migrationProgress>;

/** To the source host: serve the volume's image read-only over NBD for the destination. */
export const migrationExport = z.object({
  operationId: id,
  volumeId: id,
  /** The volume's pool on this host. */
  pool: z.string(),
  sizeGiB: gib,
  destination: place,
  /** ISO time after which the migration was given up (its deadline): the agent then refuses. */
  notAfter: z.string(),
});
export type MigrationExport = z.infer<typeof migrationExport>;

/** To the destination host: copy the image from `source.uri` into `pool`, verify it, report. */
export const migrationImport = z.object({
  operationId: id,
  volumeId: id,
  pool: z.string(),
  sizeGiB: gib,
  /** Where the source serves it: `nbd://address:port/name` (raw bytes, read-only). */
  source: place.extend({ uri: z.string().min(1) }),
  notAfter: z.string(),
  /** An encrypted volume (served as plaintext): the copy is encrypted with its key, sealed. */
  encryption: volumeEncryption.optional(),
});
export type MigrationImport = z.infer<typeof migrationImport>;

/**
 * To the source (after a switch, or a failure) or the destination (a stray copy): stop the
 * migration's export if this host runs one, and delete the volume's image on `pool` when
 * `deleteImage`. `operationId` is the cleanup's own operation.
 */
export const migrationCleanup = z.object({
  operationId: id,
  migrationOperationId: id,
  volumeId: id,
  pool: z.string(),
  deleteImage: z.boolean(),
});
export type MigrationCleanup = z.infer<typeof migrationCleanup>;

/** The source serves the image at `uri`. */
export const migrationExporting = z.object({
  operationId: id,
  volumeId: id,
  host: z.string(),
  pool: z.string(),
  uri: z.string().min(1),
  /** Echoed from the export command: where the copy goes. */
  destination: place,
});
export type MigrationExporting = z.infer<typeof migrationExporting>;

/** The destination holds a copy verified against the source (`qemu-img compare`). */
export const migrationCopied = z.object({
  operationId: id,
  volumeId: id,
  host: z.string(),
  pool: z.string(),
  format: z.enum(['raw', 'qcow2']),
});
export type MigrationCopied = z.infer<typeof migrationCopied>;

/** The source or the destination failed; what it made is removed already. */
export const migrationFailed = z.object({
  operationId: id,
  volumeId: id,
  host: z.string(),
  stage: z.enum(MIGRATION_STAGES),
  /** Where the copy was to go (echoed from the command). */
  destination: place,
  error: z.object({ code: z.string(), message: z.string() }),
});
export type MigrationFailed = z.infer<typeof migrationFailed>;

/** A cleanup's outcome; `error` when the image could not be deleted. */
export const migrationCleaned = z.object({
  operationId: id,
  migrationOperationId: id,
  volumeId: id,
  host: z.string(),
  pool: z.string(),
  deletedImage: z.boolean(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type MigrationCleaned = z.infer<typeof migrationCleaned>;

/** Retype (`retypeVolume`): the scheduler decides in place, migrate, or refuse. */
export const MIGRATION_POLICIES = ['never', 'on_demand'] as const;

export const scheduleRetype = z.object({
  operationId: id,
  volumeId: id,
  projectId: id,
  host: z.string(),
  pool: z.string(),
  sizeGiB: gib,
  availabilityZone: z.string().nullable(),
  /** The new type. */
  volumeType: z.object({ name: z.string(), extraSpecs: z.record(z.string(), z.string()) }),
  policy: z.enum(MIGRATION_POLICIES),
  /** Snapshots the volume has (not DELETED): a volume with snapshots cannot migrate. */
  snapshotCount: z.number().int().nonnegative(),
});
export type ScheduleRetype = z.infer<typeof scheduleRetype>;

/** The scheduler's decision (on the volume's subject). For `migrate`, the destination's capacity is reserved under the operation id. */
export const retypeDecided = z.object({
  operationId: id,
  volumeId: id,
  decision: z.enum(['in_place', 'migrate', 'refuse']),
  destination: place.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type RetypeDecided = z.infer<typeof retypeDecided>;
