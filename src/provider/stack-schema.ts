/**
 * The stack file's schema, built from the resource models' own field schemas
 * (src/domain/resources/), so a stack file meets the limits the API checks. Pure.
 *
 * A stack declares volumes (each with an optional backup policy), snapshots of its volumes,
 * and attachments of its volumes; snapshots and attachments name their volume by its name in
 * the file (`volume: db`), so a plan knows what depends on what.
 */
import { z } from 'zod';
import { LIMITS } from '../domain/index.js';
import { ATTACHMENT_FIELDS, rulesOf, SNAPSHOT_FIELDS, SNAPSHOT_MODEL, VOLUME_FIELDS, VOLUME_MODEL, type ResourceModel } from '../domain/resources/index.js';
import { parseDuration } from './duration.js';
import { labelsFor, RESERVED_PREFIX } from './labels.js';

/**
 * Settable fields of the models a stack file does not take: the idempotency key is
 * `flint apply`'s own (./keys.ts); a snapshot's volume is named by `volume:`; volumes made
 * from a snapshot or another volume are not supported yet.
 */
const NOT_IN_STACK_FILES = new Set(['idempotencyKey', 'snapshotId', 'sourceVolumeId', 'volumeId']);

/** The fields of `model` a stack file may set: its non-computed ones, less {@link NOT_IN_STACK_FILES}. */
function stackFields(model: ResourceModel): string[] {
  return Object.entries(rulesOf(model))
    .filter(([field, rule]) => rule.lifecycle !== 'computed' && !NOT_IN_STACK_FILES.has(field))
    .map(([field]) => field);
}

/** The fields a stack file may set on a volume. */
export const STACK_VOLUME_FIELDS: readonly string[] = stackFields(VOLUME_MODEL);
/** The fields a stack file may set on a snapshot (besides `volume` and `force`). */
export const STACK_SNAPSHOT_FIELDS: readonly string[] = stackFields(SNAPSHOT_MODEL);

/** Names of stacks and of their resources: they become metadata values and parts of idempotency keys. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nameSchema = (what: string) => z.string().regex(NAME, `${what} must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`);

/** A metadata map of the user's own: no key in Flint's reserved namespace, room left for the stack's labels. */
const userMetadata = VOLUME_FIELDS.shape.metadata.superRefine((m, ctx) => {
  for (const key of Object.keys(m)) {
    if (key.startsWith(RESERVED_PREFIX)) ctx.addIssue({ code: 'custom', path: [key], params: { at: 'key' }, message: `metadata keys starting with "${RESERVED_PREFIX}" are reserved for Flint (its stack labels)` });
  }
  const room = LIMITS.metadataMaxKeys - Object.keys(labelsFor('s', 'n')).length;
  if (Object.keys(m).length > room) ctx.addIssue({ code: 'custom', message: `at most ${room} metadata keys (Flint's stack labels take the other ${LIMITS.metadataMaxKeys - room})` });
});

/** The model's own schema of each of `fields`, optional: nothing here restates a limit. */
function optionalFields(shape: Record<string, z.ZodType>, fields: readonly string[]): Record<string, z.ZodType> {
  return Object.fromEntries(fields.map((f) => [f, f === 'metadata' ? userMetadata.optional() : shape[f]!.optional()]));
}

/** A backup policy, kept by `flint apply`: a backup when the newest is older than `every`, and the newest `keep` kept. */
export const backupPolicySchema = z.strictObject({
  every: z.string().refine((s) => parseDuration(s) !== null, 'every must be a duration of at least 1m: a whole number and m, h or d (30m, 6h, 1d)'),
  keep: z.number().int().min(1).max(1000),
  incremental: z.boolean().optional(),
  force: z.boolean().optional(),
});

/** One volume of a stack file: `sizeGiB` required; the rest optional (see {@link VolumeSpec}). */
export const volumeSpecSchema = z.strictObject({
  ...optionalFields(VOLUME_FIELDS.shape as Record<string, z.ZodType>, STACK_VOLUME_FIELDS),
  sizeGiB: VOLUME_FIELDS.shape.sizeGiB,
  backupPolicy: backupPolicySchema.optional(),
});

/** One snapshot of a stack file: of volume `volume` (a name under `volumes:`). */
export const snapshotSpecSchema = z.strictObject({
  ...optionalFields(SNAPSHOT_FIELDS.shape as Record<string, z.ZodType>, STACK_SNAPSHOT_FIELDS),
  volume: z.string(),
  force: z.boolean().optional(),
});

const attachmentShape = ATTACHMENT_FIELDS.shape;
/** One attachment of a stack file: volume `volume` exported to `instanceId` (at `connector.host`). */
export const attachmentSpecSchema = z.strictObject({
  volume: z.string(),
  instanceId: attachmentShape.instanceId,
  connector: attachmentShape.connector.unwrap().strict(),
  mode: attachmentShape.mode.optional(),
  targetKind: attachmentShape.targetKind.optional(),
});

/** The whole file. References to volumes must name one the file declares. */
export const stackFileSchema = z
  .strictObject({
    stack: nameSchema('stack'),
    volumes: z.record(nameSchema("a volume's name"), volumeSpecSchema).default({}),
    snapshots: z.record(nameSchema("a snapshot's name"), snapshotSpecSchema).default({}),
    attachments: z.record(nameSchema("an attachment's name"), attachmentSpecSchema).default({}),
  })
  .superRefine((file, ctx) => {
    const volumes = Object.keys(file.volumes);
    const check = (kind: 'snapshots' | 'attachments', specs: Record<string, { volume: string }>) => {
      for (const [name, spec] of Object.entries(specs)) {
        if (!(spec.volume in file.volumes)) {
          ctx.addIssue({ code: 'custom', path: [kind, name, 'volume'], message: `no volume "${spec.volume}" in this stack file (it declares: ${volumes.join(', ') || 'none'})` });
        }
      }
    };
    check('snapshots', file.snapshots);
    check('attachments', file.attachments);
  });

/** A backup policy as written (`every` a duration string). */
export interface BackupPolicySpec {
  every: string;
  keep: number;
  incremental?: boolean;
  force?: boolean;
}

/**
 * A volume as a stack file declares it. Omitted fields: `name` is `<stack>-<resource>`,
 * `description` none, `metadata` none (besides the labels); `volumeType`, `availabilityZone`
 * and `multiattach` are then whatever Flint chose, and a plan does not compare them.
 */
export interface VolumeSpec {
  name?: string;
  description?: string | null;
  metadata?: Record<string, string>;
  sizeGiB: number;
  volumeType?: string | null;
  availabilityZone?: string;
  multiattach?: boolean;
  backupPolicy?: BackupPolicySpec;
}

/** A snapshot as a stack file declares it; `name` defaults to `<stack>-<resource>`. */
export interface SnapshotSpec {
  volume: string;
  name?: string;
  description?: string | null;
  metadata?: Record<string, string>;
  /** Take it even when the volume is attached (create only; not compared). */
  force?: boolean;
}

/** The consumer's connector, as createAttachment takes it. */
export interface ConnectorSpec {
  host: string;
  initiator?: string | null;
  ip?: string | null;
  multipath?: boolean;
  osType?: string | null;
  platform?: string | null;
}

/** An attachment as a stack file declares it; `mode` and `targetKind` are Flint's choice when omitted. */
export interface AttachmentSpec {
  volume: string;
  instanceId: string;
  connector: ConnectorSpec;
  mode?: 'RW' | 'RO';
  targetKind?: 'ISCSI' | 'NBD';
}

/** A parsed, valid stack file. */
export interface Stack {
  stack: string;
  volumes: Record<string, VolumeSpec>;
  snapshots?: Record<string, SnapshotSpec>;
  attachments?: Record<string, AttachmentSpec>;
}
