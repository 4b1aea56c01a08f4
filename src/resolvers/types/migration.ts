import { Field, ID, InputType, Int } from 'type-graphql';
import { changeKeyDescription, resourcePayload, type PayloadResource } from './payload.js';
import { VolumeObject } from './volume.js';
import { MigrationPolicyEnum } from './migration-enums.js';

export { MigrationPolicyEnum, MigrationStatusEnum } from './migration-enums.js';

@InputType({ description: 'A volume and where to move it (`migrateVolume`, admins).' })
export class MigrateVolumeInput {
  @Field(() => ID, { description: 'Id of the volume; it must be AVAILABLE and have no snapshots.' })
  id!: string;

  @Field({ description: 'Storage host to move it to (as in `pools { host }`).' })
  host!: string;

  @Field({ description: 'Pool on that host (as in `pools { pool }`); another pool of the same host is fine.' })
  pool!: string;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description:
      'Skip the scheduler\'s filters (zone, capacity, capabilities of the volume\'s type) for this pool. The pool must still exist and be UP, and its capacity is still reserved within its limit.',
  })
  force?: boolean | null;
  @Field(() => String, { nullable: true, description: changeKeyDescription('migration', 'volume') })
  idempotencyKey?: string | null;
}

@InputType({ description: 'A volume and its new type (`retypeVolume`).' })
export class RetypeVolumeInput {
  @Field(() => ID, { description: 'Id of the volume; it must be AVAILABLE (IN_USE volumes will follow with attachments).' })
  id!: string;

  @Field({ description: 'Name of the new volume type (see `volumeTypes`); NOT_FOUND when it does not exist or is private and your project was not granted it (one answer for both), BAD_USER_INPUT when it is the current one.' })
  volumeType!: string;

  @Field(() => MigrationPolicyEnum, {
    nullable: true,
    defaultValue: MigrationPolicyEnum.NEVER,
    description: 'Whether the volume may move to another pool when its own does not satisfy the new type. Default NEVER.',
  })
  migrationPolicy?: MigrationPolicyEnum | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Optimistic concurrency: the volume\'s `version` as you last read it. When given and the volume has changed since, nothing happens and the error is CONFLICT.',
  })
  expectedVersion?: number | null;
  @Field(() => String, { nullable: true, description: changeKeyDescription('retype', 'volume') })
  idempotencyKey?: string | null;
}


const VOLUME: PayloadResource = { field: 'volume', type: () => VolumeObject, follow: '`volumeChanged`' };
export const MigrateVolumePayload = resourcePayload('MigrateVolumePayload', 'The volume (MAINTENANCE, migrationStatus STARTING) and the operation migrating it.', VOLUME);
export const RetypeVolumePayload = resourcePayload(
  'RetypeVolumePayload',
  'The volume (RETYPING) and the operation retyping it; or, when it already is of that type, the volume as it is and no operation.',
  VOLUME,
  'change',
);
