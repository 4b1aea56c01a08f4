import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { VolumeType as VolumeTypeRow } from '../../db/index.js';
import { Node } from './node.js';
import { RoleEnum, ServiceStateEnum } from './enums.js';
import { TargetKindEnum } from './attachment.js';
import { VolumeTypeEncryptionInput, VolumeTypeEncryptionObject } from './encryption.js';

@ObjectType('Pool', {
  description:
    'Storage an agent offers (a directory of images for the file driver), as reported by its last heartbeat. ' +
    'Capacities are in GiB (2^30 bytes) and may be fractional. The scheduler places volumes on pools with Cinder\'s filters and weighers.',
})
export class PoolObject {
  @Field(() => ID, { description: '`host@pool`, e.g. `storage-1@ssd`: unique in the cluster.' })
  id!: string;

  @Field({ description: 'Name of the pool on its host (FLINT_POOLS `name`).' })
  name!: string;

  @Field({ description: 'Storage host of the agent serving it (FLINT_AGENT_HOST).' })
  host!: string;

  @Field({ description: 'Volume driver that manages its images: file.' })
  driver!: string;

  @Field({ description: 'Availability zone of its agent (FLINT_AVAILABILITY_ZONE, default nova); volumes asking for a zone only go to its pools.' })
  availabilityZone!: string;

  @Field(() => Float, { description: 'Size of the pool in GiB: its filesystem\'s, or the `capacityGiB` cap when one is configured.' })
  totalCapacityGiB!: number;

  @Field(() => Float, { description: 'GiB still free on the pool\'s storage, as the driver measures it.' })
  freeCapacityGiB!: number;

  @Field(() => Float, { description: 'Sum of the virtual sizes (GiB) of the pool\'s volumes, as the driver sees them.' })
  provisionedCapacityGiB!: number;

  @Field(() => Float, { description: 'GiB Flint has reserved for volumes on this pool in its database, including ones still being created.' })
  allocatedCapacityGiB!: number;

  @Field(() => Int, { description: 'Number of volume images on the pool.' })
  volumeCount!: number;

  @Field(() => Float, {
    description: 'How far thin volumes may over-commit the pool: provisioned GiB may reach total × ratio (at least 1; default 20, Cinder\'s).',
  })
  maxOverSubscriptionRatio!: number;

  @Field(() => Float, { description: 'Percentage of the total kept free; the scheduler never allocates it (0 to 100, default 0).' })
  reservedPercentage!: number;

  @Field({ description: 'Whether the pool makes thin volumes (space allocated on write).' })
  thinProvisioningSupport!: boolean;

  @Field({ description: 'Whether the pool makes thick volumes (all space allocated at creation; raw images only).' })
  thickProvisioningSupport!: boolean;

  @Field({ description: 'Image format of its volumes: raw or qcow2.' })
  imageFormat!: string;

  @Field(() => GraphQLJSONObject, {
    description: 'What the pool advertises (FLINT_POOLS `capabilities`, e.g. `{"tier": "gold"}`), matched by volume types\' `capabilities:*` extra specs.',
  })
  capabilities!: Record<string, unknown>;

  @Field(() => [TargetKindEnum], { description: 'How its volumes can be exported to consumers (FLINT_POOLS `targets`, default both); `createAttachment` refuses another `targetKind`.' })
  targets!: TargetKindEnum[];

  @Field(() => TargetKindEnum, { description: 'The target of an attachment that asks for none (FLINT_POOLS `defaultTarget`, default ISCSI); a connector without an initiator gets NBD when the pool offers it.' })
  defaultTarget!: TargetKindEnum;

  @Field(() => ServiceStateEnum, { description: 'DOWN when its agent missed three heartbeats: the scheduler skips it.' })
  state!: ServiceStateEnum;

  @Field({ description: 'Time of the last heartbeat (UTC, ISO 8601).' })
  updatedAt!: Date;
}

@ObjectType('Service', { description: 'A Flint process (gateway, scheduler or agent) that sends heartbeats, Cinder\'s `service list`.' })
export class ServiceObject {
  @Field({ description: 'Host name it runs as (FLINT_AGENT_HOST, default the machine\'s hostname).' })
  host!: string;

  @Field({ description: 'What it is: gateway, scheduler or agent.' })
  role!: string;

  @Field({ description: 'Availability zone the service runs in.' })
  zone!: string;

  @Field(() => ServiceStateEnum, { description: 'UP while heartbeats arrive; DOWN after three missed.' })
  state!: ServiceStateEnum;

  @Field({ description: 'Time of its last heartbeat (UTC, ISO 8601).' })
  lastHeartbeatAt!: Date;

  @Field({ description: 'When the process started (UTC, ISO 8601).' })
  startedAt!: Date;

  @Field({ description: 'Flint version the process runs, e.g. 0.1.0.' })
  version!: string;
}

@ObjectType('VolumeType', {
  implements: Node,
  description: 'A class of volume, e.g. gold or bulk (Cinder\'s volume types): its extra specs choose the pools its volumes go to. Admins define them.',
})
export class VolumeTypeObject extends Node {
  @Field({ description: 'Unique name; pass it as `CreateVolumeInput.volumeType`.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free text for people; null when none was given.' })
  description!: string | null;

  @Field(() => GraphQLJSONObject, {
    description:
      'Object of string values. `capabilities:<name>` (or bare `<name>`) keys must match the pools\' capabilities, by a plain value (equality) or ' +
      'Cinder\'s operators (`<is> True`, `>= 10`, `s== abc`, `<in> ssd`, `<or> a <or> b`); `provisioning:type` (thin, the default, or thick) picks the provisioning.',
  })
  extraSpecs!: Record<string, string>;

  @Field({
    description:
      'Whether every project may use it; a private type is visible to and usable by admins and the projects granted access (`addVolumeTypeAccess`, `accessProjects`) only.',
  })
  isPublic!: boolean;

  @Field(() => VolumeTypeEncryptionObject, {
    nullable: true,
    description: 'Encryption at rest of its volumes; null when they are not encrypted. Set when the type is created, fixed afterwards (retype between encrypted and plain types is refused).',
  })
  encryption!: VolumeTypeEncryptionObject | null;

  @Field(() => Int, { description: 'Increments on every change; pass it as `UpdateVolumeTypeInput.expectedVersion` to change it safely.' })
  version!: number;

  @Field({ description: 'When it was defined (UTC, ISO 8601).' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it was last changed (UTC, ISO 8601); null when never.' })
  updatedAt!: Date | null;

  static from(t: VolumeTypeRow): VolumeTypeObject {
    return Object.assign(new VolumeTypeObject(), {
      id: t.id,
      name: t.name,
      description: t.description,
      extraSpecs: t.extraSpecs,
      isPublic: t.isPublic,
      encryption: VolumeTypeEncryptionObject.from(t.encryption),
      version: t.version,
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
    });
  }
}

@InputType({ description: 'A new volume type (`createVolumeType`).' })
export class CreateVolumeTypeInput {
  @Field({ description: 'Unique name, 1 to 255 characters without control characters. A name in use is CONFLICT.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free text for people, up to 1024 characters.' })
  description?: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      'Object of string values (at most 64 keys of up to 255 characters), e.g. `{"capabilities:tier": "gold", "provisioning:type": "thin"}`; default none (any pool). ' +
      'Capability specs must use a known operator with its operand (`<is> True`, `>= 10`, `<in> ssd`, `<or> a <or> b`, …) and `provisioning:type` must be thin or thick: BAD_USER_INPUT otherwise.',
  })
  extraSpecs?: Record<string, unknown> | null;

  @Field(() => Boolean, { nullable: true, defaultValue: true, description: 'Whether every project may use it (default true; null means the default); false keeps it to admins.' })
  isPublic?: boolean | null;

  @Field(() => VolumeTypeEncryptionInput, {
    nullable: true,
    description: 'Encrypt its volumes at rest (Cinder\'s encryption type); default none. It cannot be changed afterwards: create another type instead.',
  })
  encryption?: VolumeTypeEncryptionInput | null;
}

@InputType({ description: 'Which volume type to delete (`deleteVolumeType`).' })
export class DeleteVolumeTypeInput {
  @Field(() => ID, { description: 'Id of the volume type (from `volumeTypes`).' })
  id!: string;
}

@ObjectType('DeleteVolumeTypePayload', { description: 'Which volume type `deleteVolumeType` removed, and whether it was gone already.' })
export class DeleteVolumeTypePayload {
  @Field(() => ID, { description: 'Id of the volume type asked to delete.' })
  volumeTypeId!: string;

  @Field(() => Boolean, {
    description: 'True when no type had that id (it was deleted before, or never existed): nothing was done, and that is success (deletes are idempotent).',
  })
  alreadyDeleted!: boolean;
}

@ObjectType('Viewer', { description: 'Who your token stands for: its project and role.' })
export class ViewerObject {
  @Field(() => ID, { description: 'Id of the token\'s project; the volumes you create belong to it.' })
  projectId!: string;

  @Field({ description: 'Name of the project, as given to `flint token create --project`.' })
  projectName!: string;

  @Field(() => RoleEnum, { description: 'What the token may do: ADMIN, MEMBER or READER.' })
  role!: RoleEnum;
}
