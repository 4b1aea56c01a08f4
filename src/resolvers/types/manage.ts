import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { OperationObject } from './operation.js';
import { VolumeObject } from './volume.js';

@InputType({ description: 'An existing image to adopt as a volume (`manageVolume`, Cinder\'s manage).' })
export class ManageVolumeInput {
  @Field({ description: 'Storage host of the pool holding the image (see `pools`).' })
  host!: string;

  @Field({ description: 'Name of the pool on that host. An unknown host or pool, or one whose agent is DOWN, is NO_VALID_BACKEND.' })
  pool!: string;

  @Field({
    description:
      'The image: a file name inside the pool directory (see `manageableVolumes`), raw or qcow2 without a backing file and not in use. ' +
      'A path, a hidden file or a volume\'s own image is BAD_USER_INPUT.',
  })
  reference!: string;

  @Field({ description: 'Name of the new volume, 1 to 255 characters.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free text for people, up to 1024 characters.' })
  description?: string | null;

  @Field(() => String, { nullable: true, description: 'Name of a volume type to record on the volume (its extra specs are not checked against the pool); default none. An unknown type is NOT_FOUND.' })
  volumeType?: string | null;

  @Field(() => String, { nullable: true, description: 'Availability zone; default (and the only one allowed) the pool\'s.' })
  availabilityZone?: string | null;

  @Field(() => ID, { nullable: true, description: 'Project the volume goes to; default yours. An unknown project is NOT_FOUND.' })
  projectId?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Metadata of the volume, a flat object of strings as in `createVolume`.' })
  metadata?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description: 'Makes the request safe to retry: the same key with the same parameters returns the volume made the first time; with other parameters it is CONFLICT. A key answers for one day after the create (FLINT_IDEMPOTENCY_TTL_SECONDS); after that the same key makes a new volume; a key whose volume has been deleted is CONFLICT (use a new key).',
  })
  idempotencyKey?: string | null;
}

@InputType({ description: 'A volume to forget while keeping its bytes (`unmanageVolume`, Cinder\'s unmanage).' })
export class UnmanageVolumeInput {
  @Field(() => ID, { description: 'Id of the volume: AVAILABLE, ERROR or ERROR_DELETING, without snapshots.' })
  id!: string;

  @Field(() => Int, { nullable: true, description: 'The `version` you last read; a volume changed since is CONFLICT.' })
  expectedVersion?: number | null;
}

@ObjectType({ description: 'The volume being managed (CREATING, `sizeGiB` 1 until the agent has measured the image) and the operation.' })
export class ManageVolumePayload {
  @Field(() => VolumeObject, { description: 'The volume as the mutation left it.' })
  volume!: VolumeObject;

  @Field(() => OperationObject, { description: 'The work started; follow it with `operation(id)`, or the volume with `volumeChanged`, until it ends.' })
  operation!: OperationObject;
}

@ObjectType({ description: 'The volume being unmanaged (DELETING) and the operation.' })
export class UnmanageVolumePayload {
  @Field(() => VolumeObject, { description: 'The volume as the mutation left it.' })
  volume!: VolumeObject;

  @Field(() => OperationObject, { description: 'The work started; follow it with `operation(id)`, or the volume with `volumeChanged`, until it ends.' })
  operation!: OperationObject;
}

@ObjectType('ManageableVolume', { description: 'A file of a pool that is not a Flint volume (Cinder\'s manageable volumes).' })
export class ManageableVolumeObject {
  @Field({ description: 'Pass it as `ManageVolumeInput.reference`.' })
  reference!: string;

  @Field(() => Float, { description: 'Virtual size in bytes as qemu-img reads it (0 when unreadable).' })
  sizeBytes!: number;

  @Field(() => Int, { description: 'The size the volume will have: the virtual size rounded up to whole GiB (the image is grown to it).' })
  sizeGiB!: number;

  @Field(() => String, { nullable: true, description: 'Image format qemu-img detects (raw, qcow2, …); null when unreadable.' })
  format!: string | null;

  @Field({ description: 'Whether `manageVolume` would adopt it.' })
  safeToManage!: boolean;

  @Field(() => String, { nullable: true, description: 'Why it is not safe to manage; null when it is.' })
  reasonNotSafe!: string | null;
}
