import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int } from 'type-graphql';
import { changeKeyDescription, resourcePayload, type PayloadResource } from './payload.js';
import { SnapshotObject } from './snapshot.js';

/** Description of every `expectedVersion` argument of snapshots. */
const VERSION = 'Optimistic concurrency: the snapshot\'s `version` as you last read it. When given and the snapshot has changed since, nothing happens and the error is CONFLICT (read it again and retry). Omit to apply regardless.';

@InputType({ description: 'A new snapshot of a volume (`createSnapshot`); every problem with the input is reported at once as BAD_USER_INPUT.' })
export class CreateSnapshotInput {
  @Field(() => ID, { description: 'Id of the volume to snapshot; it must be visible to you (NOT_FOUND otherwise) and AVAILABLE (INVALID_STATE otherwise).' })
  volumeId!: string;

  @Field({ description: 'Name for people, 1 to 255 characters without control characters; need not be unique.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free text for people, up to 1024 characters; default none.' })
  description?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description: 'Snapshot an IN_USE (attached) volume too, as Cinder\'s `force` does. The snapshot is crash-consistent: what the consumer has not flushed is not in it.',
  })
  force?: boolean | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Your own key/value pairs, e.g. `{"app": "pg"}`: an object of string values, at most 64 keys, keys and values up to 255 characters (as a volume\'s). Default `{}`.',
  })
  metadata?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Makes the create safe to retry (1 to 255 characters): the same key from the same project returns the first snapshot and its operation, never a second one. ' +
      'The same key with other parameters is CONFLICT. A key answers for one day after the create (FLINT_IDEMPOTENCY_TTL_SECONDS); after that the same key makes a new snapshot; a key whose snapshot has been deleted is CONFLICT (use a new key).',
  })
  idempotencyKey?: string | null;
}

@InputType({ description: 'Changes to a snapshot\'s name, description or metadata (`updateSnapshot`); give at least one. Fields left out keep their value.' })
export class UpdateSnapshotInput {
  @Field(() => ID, { description: 'Id of the snapshot.' })
  id!: string;

  @Field(() => String, { nullable: true, description: 'New name, 1 to 255 characters without control characters.' })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'New description, up to 1024 characters; null clears it.' })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Replaces the whole metadata object (same limits as at creation); send every key you want to keep.' })
  metadata?: Record<string, unknown> | null;

  @Field(() => Int, { nullable: true, description: VERSION })
  expectedVersion?: number | null;
  @Field(() => String, { nullable: true, description: changeKeyDescription('update', 'snapshot') })
  idempotencyKey?: string | null;
}

@InputType({ description: 'Which snapshot to delete (`deleteSnapshot`).' })
export class DeleteSnapshotInput {
  @Field(() => ID, { description: 'Id of the snapshot.' })
  id!: string;

  @Field(() => Int, { nullable: true, description: VERSION })
  expectedVersion?: number | null;
}


const SNAPSHOT: PayloadResource = { field: 'snapshot', type: () => SnapshotObject, follow: '`snapshotChanged`' };
export const CreateSnapshotPayload = resourcePayload('CreateSnapshotPayload', 'The new snapshot (CREATING) and the operation taking it.', SNAPSHOT);
export const UpdateSnapshotPayload = resourcePayload(
  'UpdateSnapshotPayload',
  'The updated snapshot (its `version` incremented) and the operation, already SUCCEEDED; or, when it already had those values, the snapshot as it is and no operation.',
  SNAPSHOT,
  'change',
);
export const DeleteSnapshotPayload = resourcePayload(
  'DeleteSnapshotPayload',
  'The snapshot (DELETING, or DELETED when there was nothing to remove on a host or it was deleted already) and the operation deleting it.',
  SNAPSHOT,
  'delete',
);
