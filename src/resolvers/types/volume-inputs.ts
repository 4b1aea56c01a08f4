import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { OperationType } from './operation.js';
import { VolumeType } from './volume.js';

@InputType({ description: 'A new volume.' })
export class CreateVolumeInput {
  @Field({ description: '1 to 255 characters.' })
  name!: string;

  @Field(() => Int, { description: 'Size in GiB, from 1 to 65536.' })
  sizeGiB!: number;

  @Field(() => String, { nullable: true, description: 'Up to 1024 characters.' })
  description?: string | null;

  @Field(() => String, { nullable: true, description: 'Name of a volume type; its extra specs choose the pool.' })
  volumeType?: string | null;

  @Field(() => String, { nullable: true, description: 'Zone to create it in; any zone when omitted.' })
  availabilityZone?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Object of string values; at most 64 keys of 255 characters.' })
  metadata?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description: 'Repeat a create safely: the same key from the same project returns the same volume, never a second one.',
  })
  idempotencyKey?: string | null;
}

@InputType()
export class UpdateVolumeInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Replaces the whole metadata object.' })
  metadata?: Record<string, unknown> | null;

  @Field(() => Int, { nullable: true, description: 'Fail with CONFLICT unless the volume is still at this version.' })
  expectedVersion?: number | null;
}

@InputType()
export class DeleteVolumeInput {
  @Field(() => ID)
  id!: string;

  @Field(() => Int, { nullable: true, description: 'Fail with CONFLICT unless the volume is still at this version.' })
  expectedVersion?: number | null;
}

@InputType()
export class ExtendVolumeInput {
  @Field(() => ID)
  id!: string;

  @Field(() => Int, { description: 'New size in GiB, larger than the current one.' })
  newSizeGiB!: number;

  @Field(() => Int, { nullable: true, description: 'Fail with CONFLICT unless the volume is still at this version.' })
  expectedVersion?: number | null;
}

function payload(name: string, description: string) {
  @ObjectType(name, { description })
  class Payload {
    @Field(() => VolumeType)
    volume!: VolumeType;

    @Field(() => OperationType, { description: 'Follow it, or the volume, until it ends.' })
    operation!: OperationType;
  }
  return Payload;
}

export const CreateVolumePayload = payload('CreateVolumePayload', 'The new volume (CREATING) and the operation creating it.');
export const UpdateVolumePayload = payload('UpdateVolumePayload', 'The updated volume.');
export const DeleteVolumePayload = payload('DeleteVolumePayload', 'The volume (DELETING) and the operation deleting it.');
export const ExtendVolumePayload = payload('ExtendVolumePayload', 'The volume (EXTENDING) and the operation extending it.');
