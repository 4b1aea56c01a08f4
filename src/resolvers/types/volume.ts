import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { VolumeView } from '../../bus/index.js';
import type { Volume } from '../../db/index.js';
import { toVolumeView } from '../../db/index.js';
import { Node } from './node.js';
import { VolumeEventTypeEnum, VolumeStatusEnum } from './enums.js';
import { MigrationStatusEnum } from './migration-enums.js';
import { relayConnection } from './relay.js';

export { PageInfo } from './relay.js';

@ObjectType('Volume', {
  implements: Node,
  description:
    'A block device managed by Flint: an image on a storage pool (raw or qcow2 with the file driver), owned by one project. ' +
    'Members and admins create, update, extend and delete it; its `status` follows Cinder\'s states.',
})
export class VolumeObject extends Node {
  @Field({ description: 'Name for people, 1 to 255 characters; not necessarily unique.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free text for people; null when none was given.' })
  description!: string | null;

  @Field(() => Int, { description: 'Size in GiB (2^30 bytes). During EXTENDING it is still the old size until the extension succeeds.' })
  sizeGiB!: number;

  @Field(() => VolumeStatusEnum, { description: 'Where it is in its life: AVAILABLE when usable; see VolumeStatus for what each state allows.' })
  status!: VolumeStatusEnum;

  @Field(() => String, { nullable: true, description: 'Name of the volume type it was created with; null when none.' })
  volumeType!: string | null;

  @Field({ description: 'Availability zone it lives in: the one asked for, or the gateway\'s default zone (nova unless configured).' })
  availabilityZone!: string;

  @Field(() => GraphQLJSONObject, { description: 'Your key/value pairs: an object of string values (`{}` when none).' })
  metadata!: Record<string, string>;

  @Field(() => Int, { description: 'Starts at 1 and grows by one on every change; pass it as `expectedVersion` to change only what you read.' })
  version!: number;

  @Field(() => Int, {
    description:
      'Starts at 1 and grows by one only when a field you set takes a new value (name, description, metadata, sizeGiB once an extension succeeds, volumeType once a retype succeeds, multiattach), ' +
      'like Kubernetes\' metadata.generation; `version` grows on every change, status moves included. Compare it with the generation you last applied to tell your changes from the volume\'s own life.',
  })
  generation!: number;

  @Field(() => Float, {
    description:
      'The seq of its latest change in its project\'s change feed (an integer, exact to 2^53; Float because it can pass GraphQL\'s 32-bit Int). ' +
      'Compare it with a list\'s `changeSeq`; see `volumeEvents(sinceSeq:)`.',
  })
  changeSeq!: number;

  @Field(() => String, { nullable: true, description: 'The `idempotencyKey` it was created with, so a tool can find what its key made; null when none was given, or once the key expired (FLINT_IDEMPOTENCY_TTL_SECONDS after the create, one day by default) and was given to a new create.' })
  idempotencyKey!: string | null;

  @Field(() => ID, { nullable: true, description: 'The snapshot it was created from (`createVolume` with `snapshotId`); null otherwise.' })
  snapshotId!: string | null;

  @Field(() => ID, { nullable: true, description: 'The volume it was cloned from (`createVolume` with `sourceVolumeId`); null otherwise.' })
  sourceVolumeId!: string | null;

  @Field(() => MigrationStatusEnum, {
    nullable: true,
    description: 'Progress of its last migration (`migrateVolume`, or `retypeVolume` that had to move it): STARTING, COPYING, then SUCCESS or ERROR; null when it was never migrated.',
  })
  migrationStatus!: MigrationStatusEnum | null;
  @Field({
    description:
      'Whether it may be attached to several consumers at once (Cinder\'s multiattach): set with `createVolume(multiattach: true)` or by its volume type\'s extra spec multiattach="<is> True". ' +
      'Without it a second attachment is INVALID_STATE.',
  })
  multiattach!: boolean;

  @Field({
    description:
      'Whether its bytes are encrypted at rest (its volume type has an `encryption`): the pool holds only ciphertext, consumers see plaintext through their attachments. Its key is never shown.',
  })
  encrypted!: boolean;

  @Field({ description: 'When it was requested (UTC, ISO 8601).' })
  createdAt!: Date;

  @Field({ description: 'When it last changed (UTC, ISO 8601).' })
  updatedAt!: Date;

  /** Not a field: resolved for admins only (see the resolver). */
  hostValue!: string | null;
  poolValue!: string | null;
  projectIdValue!: string;

  static fromView(v: VolumeView): VolumeObject {
    return Object.assign(new VolumeObject(), {
      id: v.id,
      name: v.name,
      description: v.description,
      sizeGiB: v.sizeGiB,
      status: v.status as VolumeStatusEnum,
      volumeType: v.volumeType,
      availabilityZone: v.availabilityZone,
      metadata: v.metadata,
      version: v.version,
      changeSeq: v.changeSeq ?? 0,
      generation: v.generation ?? 1,
      idempotencyKey: v.idempotencyKey ?? null,
      snapshotId: v.snapshotId ?? null,
      sourceVolumeId: v.sourceVolumeId ?? null,
      migrationStatus: (v.migrationStatus ?? null) as MigrationStatusEnum | null,
      multiattach: v.multiattach ?? false,
      encrypted: v.encrypted ?? false,
      createdAt: new Date(v.createdAt),
      updatedAt: new Date(v.updatedAt),
      hostValue: v.host,
      poolValue: v.pool,
      projectIdValue: v.projectId,
    });
  }

  static from(v: Volume): VolumeObject {
    return VolumeObject.fromView(toVolumeView(v));
  }
}

const volumePage = relayConnection(VolumeObject, { name: 'Volume', one: 'volume', many: 'volumes', order: 'oldest first', changeFeed: 'volumeEvents' });
export const VolumeConnection = volumePage.Connection;
export type VolumeConnection = InstanceType<typeof VolumeConnection>;

/** Description of the `metadata` condition of the volume and snapshot lists. */
export const METADATA_FILTER = (one: 'volume' | 'snapshot') =>
  `Only ${one}s whose metadata has every one of these keys with exactly this value, e.g. \`{"flint.stack": "web"}\` (other keys may be there too); \`{}\` matches every ${one}. ` +
  'An object of string values, with the limits of metadata (at most 64 keys, keys and values up to 255 characters); anything else is BAD_USER_INPUT.';

@InputType({ description: 'Conditions a volume must meet; all given ones apply.' })
export class VolumeFilter {
  @Field(() => [VolumeStatusEnum], { nullable: true, description: 'Any of these statuses (default: all but DELETED).' })
  status?: VolumeStatusEnum[];

  @Field({ nullable: true, description: 'Exact name.' })
  name?: string;

  @Field({ nullable: true, description: 'Exact availability zone.' })
  availabilityZone?: string;

  @Field(() => ID, {
    nullable: true,
    description:
      'Only volumes of this project (admins: any project). For other tokens it only narrows their own project: another project\'s id matches nothing (no error, as for the other conditions).',
  })
  projectId?: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: METADATA_FILTER('volume') })
  metadata?: Record<string, unknown>;
}

@ObjectType('VolumeEvent', { description: 'A change of a volume, as `volumeEvents` sends it (for dashboards).' })
export class VolumeEventObject {
  @Field(() => VolumeEventTypeEnum, { description: 'CREATED, UPDATED or DELETED.' })
  type!: VolumeEventTypeEnum;

  @Field(() => VolumeObject, { description: 'The volume after the change (in a replay: as it is now).' })
  volume!: VolumeObject;
}
