/**
 * The stack file's schema, built from the volume model's own field schemas
 * (src/domain/resources/volume.ts), so a stack file meets the limits the API checks. Pure.
 */
import { z } from 'zod';
import { LIMITS } from '../domain/index.js';
import { rulesOf, VOLUME_FIELDS, VOLUME_MODEL } from '../domain/resources/index.js';
import { labelsFor, RESERVED_PREFIX } from './labels.js';

/**
 * Settable fields of the volume model a stack file does not take: the idempotency key is
 * `flint apply`'s own (./keys.ts), and volumes made from a snapshot or another volume are
 * not supported yet.
 */
const NOT_IN_STACK_FILES = new Set(['idempotencyKey', 'snapshotId', 'sourceVolumeId']);

/** The fields a stack file may set on a volume: the model's non-computed ones, less {@link NOT_IN_STACK_FILES}. */
export const STACK_VOLUME_FIELDS: readonly string[] = Object.entries(rulesOf(VOLUME_MODEL))
  .filter(([field, rule]) => rule.lifecycle !== 'computed' && !NOT_IN_STACK_FILES.has(field))
  .map(([field]) => field);

/** Names of stacks and of their resources: they become metadata values and parts of idempotency keys. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nameSchema = (what: string) => z.string().regex(NAME, `${what} must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`);

const userMetadata = VOLUME_FIELDS.shape.metadata.superRefine((m, ctx) => {
  for (const key of Object.keys(m)) {
    if (key.startsWith(RESERVED_PREFIX)) ctx.addIssue({ code: 'custom', path: [key], params: { at: 'key' }, message: `metadata keys starting with "${RESERVED_PREFIX}" are reserved for Flint (its stack labels)` });
  }
  const room = LIMITS.metadataMaxKeys - Object.keys(labelsFor('s', 'n')).length;
  if (Object.keys(m).length > room) ctx.addIssue({ code: 'custom', message: `at most ${room} metadata keys (Flint's stack labels take the other ${LIMITS.metadataMaxKeys - room})` });
});

const shape = VOLUME_FIELDS.shape as Record<string, z.ZodType>;
/** The model's own schema of each field, optional: nothing here restates a limit. */
const optionalFields = Object.fromEntries(STACK_VOLUME_FIELDS.map((f) => [f, shape[f]!.optional()]));

/** One volume of a stack file: `sizeGiB` required; the rest optional (see {@link VolumeSpec}). */
export const volumeSpecSchema = z.strictObject({
  ...optionalFields,
  metadata: userMetadata.optional(),
  sizeGiB: VOLUME_FIELDS.shape.sizeGiB,
});

/** The whole file. */
export const stackFileSchema = z.strictObject({
  stack: nameSchema('stack'),
  volumes: z.record(nameSchema('a volume\'s name'), volumeSpecSchema).default({}),
});

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
}

/** A parsed, valid stack file. */
export interface Stack {
  stack: string;
  volumes: Record<string, VolumeSpec>;
}
