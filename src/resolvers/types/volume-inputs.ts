import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int } from 'type-graphql';
import { changeKeyDescription, resourcePayload, type PayloadResource } from './payload.js';
import { VolumeObject } from './volume.js';

/** Description of every `expectedVersion` argument. */
const VERSION = 'Optimistic concurrency: the volume\'s `version` as you last read it. When given and the volume has changed since, nothing happens and the error is CONFLICT (read it again and retry). Omit to apply regardless.';

@InputType({ description: 'A new volume (`createVolume`). Limits follow Cinder\'s; every problem with the input is reported at once as BAD_USER_INPUT.' })
export class CreateVolumeInput {
  @Field({ description: 'Name for people, 1 to 255 characters without control characters; need not be unique.' })
  name!: string;

  @Field(() => Int, {
    nullable: true,
    description:
      'Size in GiB (2^30 bytes), a whole number from 1 to 65536 (64 TiB). Required for a blank volume; with `snapshotId` or `sourceVolumeId` it defaults to the source\'s size and may not be smaller.',
  })
  sizeGiB?: number | null;

  @Field(() => ID, {
    nullable: true,
    description:
      'Create the volume with the data of this AVAILABLE snapshot (Cinder\'s create from snapshot), on the pool of the snapshot\'s volume. At most one of `snapshotId` and `sourceVolumeId`. ' +
      'NOT_FOUND when you cannot see it, INVALID_STATE when it is not AVAILABLE.',
  })
  snapshotId?: string | null;

  @Field(() => ID, {
    nullable: true,
    description:
      'Create the volume as a copy of this AVAILABLE volume (Cinder\'s clone), on its pool; its data is copied as it is when the copy is made. At most one of `snapshotId` and `sourceVolumeId`. ' +
      'NOT_FOUND when you cannot see it, INVALID_STATE when it is not AVAILABLE.',
  })
  sourceVolumeId?: string | null;

  @Field(() => String, { nullable: true, description: 'Free text for people, up to 1024 characters; default none.' })
  description?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'Allow several attachments at once (Cinder\'s multiattach); default false, or true when the volume type\'s extra spec multiattach is "<is> True". ' +
      'The consumers must coordinate their writes (a cluster file system).',
  })
  multiattach?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description: 'Name of a volume type (see `volumeTypes`); its extra specs choose the pool. Default none: any pool. An unknown type, and a private type your project was not granted, are both NOT_FOUND (one answer, so private names cannot be probed).',
  })
  volumeType?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Availability zone to place it in (letters, digits, `.`, `:`, `-`, `_`). When omitted any pool may hold it, and it is recorded in the gateway\'s zone (default nova).',
  })
  availabilityZone?: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Your own key/value pairs, e.g. `{"app": "pg"}`: an object of string values, at most 64 keys, keys and values up to 255 characters. Default `{}`.',
  })
  metadata?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Makes the create safe to retry (1 to 255 characters): the same key from the same project returns the first volume and its operation, never a second one. ' +
      'The same key with other parameters is CONFLICT. A key answers for one day after the create (FLINT_IDEMPOTENCY_TTL_SECONDS); after that the same key makes a new volume; a key whose volume has been deleted is CONFLICT (use a new key).',
  })
  idempotencyKey?: string | null;
}

@InputType({ description: 'Changes to a volume\'s name, description or metadata (`updateVolume`); give at least one. Fields left out keep their value.' })
export class UpdateVolumeInput {
  @Field(() => ID, { description: 'Id of the volume.' })
  id!: string;

  @Field(() => String, { nullable: true, description: 'New name, 1 to 255 characters without control characters.' })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'New description, up to 1024 characters; null clears it.' })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Replaces the whole metadata object (same limits as at creation); send every key you want to keep.' })
  metadata?: Record<string, unknown> | null;

  @Field(() => Int, { nullable: true, description: VERSION })
  expectedVersion?: number | null;
  @Field(() => String, { nullable: true, description: changeKeyDescription('update', 'volume') })
  idempotencyKey?: string | null;
}

@InputType({ description: 'Which volume to delete (`deleteVolume`).' })
export class DeleteVolumeInput {
  @Field(() => ID, { description: 'Id of the volume.' })
  id!: string;

  @Field(() => Int, { nullable: true, description: VERSION })
  expectedVersion?: number | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description:
      'Delete the volume\'s snapshots with it: they go DELETING at once and DELETED when the volume is. Without it, a volume that has snapshots (not DELETED) is INVALID_STATE.',
  })
  cascade?: boolean | null;
}

@InputType({ description: 'How much to grow a volume (`extendVolume`).' })
export class ExtendVolumeInput {
  @Field(() => ID, { description: 'Id of the volume.' })
  id!: string;

  @Field(() => Int, { description: 'New size in GiB: larger than the current size (volumes only grow), at most 65536.' })
  newSizeGiB!: number;

  @Field(() => Int, { nullable: true, description: VERSION })
  expectedVersion?: number | null;
  @Field(() => String, { nullable: true, description: changeKeyDescription('extend', 'volume') })
  idempotencyKey?: string | null;
}

@InputType({ description: 'A volume and the snapshot to revert it to (`revertVolumeToSnapshot`).' })
export class RevertVolumeToSnapshotInput {
  @Field(() => ID, { description: 'Id of the volume; it must be AVAILABLE.' })
  volumeId!: string;

  @Field(() => ID, { description: 'Id of the volume\'s latest snapshot (the newest not DELETED); it must be AVAILABLE and of the volume\'s current size.' })
  snapshotId!: string;
}


const VOLUME: PayloadResource = { field: 'volume', type: () => VolumeObject, follow: '`volumeChanged`' };
export const CreateVolumePayload = resourcePayload('CreateVolumePayload', 'The new volume (CREATING) and the operation creating it.', VOLUME);
export const UpdateVolumePayload = resourcePayload(
  'UpdateVolumePayload',
  'The updated volume (its `version` incremented) and the operation, already SUCCEEDED; or, when it already had those values, the volume as it is and no operation.',
  VOLUME,
  'change',
);
export const DeleteVolumePayload = resourcePayload(
  'DeleteVolumePayload',
  'The volume (DELETING; CREATING with the delete queued until its create ends; DELETED when it was already) and the operation deleting it.',
  VOLUME,
  'delete',
);
export const ExtendVolumePayload = resourcePayload(
  'ExtendVolumePayload',
  'The volume (EXTENDING) and the operation extending it; or, when it already has that size, the volume as it is and no operation.',
  VOLUME,
  'change',
);
export const RevertVolumeToSnapshotPayload = resourcePayload('RevertVolumeToSnapshotPayload', 'The volume (REVERTING) and the operation reverting it.', VOLUME);
