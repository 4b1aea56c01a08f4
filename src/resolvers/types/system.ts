import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { VolumeType as VolumeTypeRow } from '../../db/index.js';
import { Node } from './node.js';
import { RoleEnum, ServiceStateEnum } from './enums.js';

@ObjectType({ description: 'Storage an agent offers, as reported by its last heartbeat. Capacities in GiB.' })
export class Pool {
  @Field(() => ID, { description: '`host@pool`.' })
  id!: string;

  @Field()
  name!: string;

  @Field()
  host!: string;

  @Field({ description: 'Volume driver, e.g. file.' })
  driver!: string;

  @Field()
  availabilityZone!: string;

  @Field(() => Float)
  totalCapacityGiB!: number;

  @Field(() => Float)
  freeCapacityGiB!: number;

  @Field(() => Float, { description: 'Sum of the virtual sizes of the pool\'s volumes, as the driver sees them.' })
  provisionedCapacityGiB!: number;

  @Field(() => Float, { description: 'GiB Flint has promised to volumes on this pool.' })
  allocatedCapacityGiB!: number;

  @Field(() => Int)
  volumeCount!: number;

  @Field(() => Float)
  maxOverSubscriptionRatio!: number;

  @Field(() => Float)
  reservedPercentage!: number;

  @Field()
  thinProvisioningSupport!: boolean;

  @Field()
  thickProvisioningSupport!: boolean;

  @Field({ description: 'raw or qcow2.' })
  imageFormat!: string;

  @Field(() => GraphQLJSONObject, { description: 'What the pool advertises to volume types\' extra specs.' })
  capabilities!: Record<string, unknown>;

  @Field(() => ServiceStateEnum, { description: 'DOWN when its agent missed three heartbeats: the scheduler skips it.' })
  state!: ServiceStateEnum;

  @Field({ description: 'Time of the last heartbeat.' })
  updatedAt!: Date;
}

@ObjectType({ description: 'A running Flint process (gateway, scheduler or agent).' })
export class Service {
  @Field()
  host!: string;

  @Field({ description: 'gateway, scheduler or agent.' })
  role!: string;

  @Field({ description: 'Availability zone the service runs in.' })
  zone!: string;

  @Field(() => ServiceStateEnum)
  state!: ServiceStateEnum;

  @Field()
  lastHeartbeatAt!: Date;

  @Field()
  startedAt!: Date;

  @Field()
  version!: string;
}

@ObjectType('VolumeType', { implements: Node, description: 'A class of volume; its extra specs choose pools (Cinder\'s volume types).' })
export class VolumeTypeType extends Node {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => GraphQLJSONObject, { description: 'Keys such as `capabilities:compression` with values or operators (`<is> True`, `>= 10`, `<in> ssd`).' })
  extraSpecs!: Record<string, string>;

  @Field()
  isPublic!: boolean;

  @Field()
  createdAt!: Date;

  static from(t: VolumeTypeRow): VolumeTypeType {
    return Object.assign(new VolumeTypeType(), {
      id: t.id,
      name: t.name,
      description: t.description,
      extraSpecs: t.extraSpecs,
      isPublic: t.isPublic,
      createdAt: t.createdAt,
    });
  }
}

@InputType()
export class CreateVolumeTypeInput {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Object of string values.' })
  extraSpecs?: Record<string, unknown> | null;

  @Field({ nullable: true, defaultValue: true })
  isPublic!: boolean;
}

@InputType()
export class DeleteVolumeTypeInput {
  @Field(() => ID)
  id!: string;
}

@ObjectType({ description: 'Who the token stands for.' })
export class Viewer {
  @Field(() => ID)
  projectId!: string;

  @Field()
  projectName!: string;

  @Field(() => RoleEnum)
  role!: RoleEnum;
}
