import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, InputType, Int, ObjectType } from 'type-graphql';
import type { VolumeView } from '../../bus/index.js';
import type { Volume } from '../../db/index.js';
import { toVolumeView } from '../../db/index.js';
import { Node } from './node.js';
import { VolumeEventTypeEnum, VolumeStatusEnum } from './enums.js';

@ObjectType('Volume', { implements: Node, description: 'A block device managed by Flint.' })
export class VolumeType extends Node {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => Int, { description: 'Size in GiB.' })
  sizeGiB!: number;

  @Field(() => VolumeStatusEnum)
  status!: VolumeStatusEnum;

  @Field(() => String, { nullable: true, description: 'Name of the volume type it was created with.' })
  volumeType!: string | null;

  @Field()
  availabilityZone!: string;

  @Field(() => GraphQLJSONObject, { description: 'User metadata: an object of string values.' })
  metadata!: Record<string, string>;

  @Field(() => Int, { description: 'Increments on every change; pass it as `expectedVersion` to change only what you read.' })
  version!: number;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;

  /** Not a field: resolved for admins only (see the resolver). */
  hostValue!: string | null;
  poolValue!: string | null;
  projectIdValue!: string;

  static fromView(v: VolumeView): VolumeType {
    return Object.assign(new VolumeType(), {
      id: v.id,
      name: v.name,
      description: v.description,
      sizeGiB: v.sizeGiB,
      status: v.status as VolumeStatusEnum,
      volumeType: v.volumeType,
      availabilityZone: v.availabilityZone,
      metadata: v.metadata,
      version: v.version,
      createdAt: new Date(v.createdAt),
      updatedAt: new Date(v.updatedAt),
      hostValue: v.host,
      poolValue: v.pool,
      projectIdValue: v.projectId,
    });
  }

  static from(v: Volume): VolumeType {
    return VolumeType.fromView(toVolumeView(v));
  }
}

@ObjectType({ description: 'Relay page information.' })
export class PageInfo {
  @Field({ description: 'Whether more items follow `endCursor`.' })
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the last item; pass it as `after` for the next page.' })
  endCursor!: string | null;
}

@ObjectType()
export class VolumeEdge {
  @Field(() => VolumeType)
  node!: VolumeType;

  @Field()
  cursor!: string;
}

@ObjectType({ description: 'A page of volumes, oldest first.' })
export class VolumeConnection {
  @Field(() => [VolumeEdge])
  edges!: VolumeEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Volumes matching the filter, over all pages.' })
  totalCount!: number;
}

@InputType({ description: 'Conditions a volume must meet; all given ones apply.' })
export class VolumeFilter {
  @Field(() => [VolumeStatusEnum], { nullable: true, description: 'Any of these statuses (default: all but DELETED).' })
  status?: VolumeStatusEnum[];

  @Field({ nullable: true, description: 'Exact name.' })
  name?: string;

  @Field({ nullable: true })
  availabilityZone?: string;
}

@ObjectType({ description: 'A change of a volume, for dashboards.' })
export class VolumeEvent {
  @Field(() => VolumeEventTypeEnum)
  type!: VolumeEventTypeEnum;

  @Field(() => VolumeType, { description: 'The volume after the change.' })
  volume!: VolumeType;
}
