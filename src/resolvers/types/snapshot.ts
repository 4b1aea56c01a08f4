import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { SnapshotView } from '../../bus/index.js';
import type { Snapshot } from '../../db/index.js';
import { toSnapshotView } from '../../db/index.js';
import { Node } from './node.js';
import { SnapshotEventTypeEnum, SnapshotStatusEnum } from './enums.js';
import { relayConnection } from './relay.js';
import { METADATA_FILTER } from './volume.js';

@ObjectType('Snapshot', {
  implements: Node,
  description:
    'A point-in-time copy of a volume, kept by the volume\'s driver on the volume\'s pool. ' +
    'It belongs to the volume\'s project; members and admins take, rename and delete it.',
})
export class SnapshotObject extends Node {
  @Field({ description: 'Name for people, 1 to 255 characters; not necessarily unique.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free text for people; null when none was given.' })
  description!: string | null;

  @Field(() => GraphQLJSONObject, { description: 'Your key/value pairs (Cinder\'s snapshot metadata): an object of string values (`{}` when none).' })
  metadata!: Record<string, string>;

  @Field(() => SnapshotStatusEnum, { description: 'Where it is in its life: AVAILABLE once taken; see SnapshotStatus.' })
  status!: SnapshotStatusEnum;

  @Field(() => Int, { description: 'Size in GiB of the volume when the snapshot was taken.' })
  sizeGiB!: number;

  @Field(() => ID, { description: 'Id of the volume it was taken of (kept after the volume is deleted).' })
  volumeId!: string;

  @Field(() => Int, { description: 'Starts at 1 and grows by one on every change; pass it as `expectedVersion` to change only what you read.' })
  version!: number;

  @Field(() => Int, {
    description:
      'Starts at 1 and grows by one only when its name, description or metadata takes a new value (Kubernetes\' metadata.generation); `version` grows on every change, status moves included.',
  })
  generation!: number;

  @Field(() => Float, {
    description:
      'The seq of its latest change in its project\'s change feed (an integer, exact to 2^53; Float because it can pass GraphQL\'s 32-bit Int). ' +
      'Compare it with a list\'s `changeSeq`; see `snapshotEvents(sinceSeq:)`.',
  })
  changeSeq!: number;

  @Field(() => String, { nullable: true, description: 'The `idempotencyKey` it was created with, so a tool can find what its key made; null when none was given, or once the key expired (FLINT_IDEMPOTENCY_TTL_SECONDS after the create, one day by default) and was given to a new create.' })
  idempotencyKey!: string | null;

  @Field({ description: 'When it was requested (UTC, ISO 8601).' })
  createdAt!: Date;

  @Field({ description: 'When it last changed (UTC, ISO 8601).' })
  updatedAt!: Date;

  /** Not a field: for authorisation checks. */
  projectIdValue!: string;

  static fromView(v: SnapshotView): SnapshotObject {
    return Object.assign(new SnapshotObject(), {
      id: v.id,
      name: v.name,
      description: v.description,
      metadata: v.metadata ?? {},
      status: v.status as SnapshotStatusEnum,
      sizeGiB: v.sizeGiB,
      volumeId: v.volumeId,
      version: v.version,
      changeSeq: v.changeSeq ?? 0,
      generation: v.generation ?? 1,
      idempotencyKey: v.idempotencyKey ?? null,
      createdAt: new Date(v.createdAt),
      updatedAt: new Date(v.updatedAt),
      projectIdValue: v.projectId,
    });
  }

  static from(s: Snapshot): SnapshotObject {
    return SnapshotObject.fromView(toSnapshotView(s));
  }
}

const snapshotPage = relayConnection(SnapshotObject, { name: 'Snapshot', one: 'snapshot', many: 'snapshots', order: 'oldest first', changeFeed: 'snapshotEvents' });
export const SnapshotConnection = snapshotPage.Connection;
export type SnapshotConnection = InstanceType<typeof SnapshotConnection>;

@InputType({ description: 'Conditions a snapshot must meet; all given ones apply.' })
export class SnapshotFilter {
  @Field(() => [SnapshotStatusEnum], { nullable: true, description: 'Any of these statuses (default: all but DELETED).' })
  status?: SnapshotStatusEnum[];

  @Field(() => ID, { nullable: true, description: 'Only snapshots of this volume.' })
  volumeId?: string;

  @Field({ nullable: true, description: 'Exact name.' })
  name?: string;

  @Field(() => ID, {
    nullable: true,
    description:
      'Only snapshots of this project (admins: any project). For other tokens it only narrows their own project: another project\'s id matches nothing (no error, as for the other conditions).',
  })
  projectId?: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: METADATA_FILTER('snapshot') })
  metadata?: Record<string, unknown>;
}

@ObjectType('SnapshotEvent', { description: 'A change of a snapshot, as `snapshotEvents` sends it.' })
export class SnapshotEventObject {
  @Field(() => SnapshotEventTypeEnum, { description: 'CREATED, UPDATED or DELETED.' })
  type!: SnapshotEventTypeEnum;

  @Field(() => SnapshotObject, { description: 'The snapshot after the change (in a replay: as it is now).' })
  snapshot!: SnapshotObject;
}
