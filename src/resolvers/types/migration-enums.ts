import { registerEnumType } from 'type-graphql';

/** GraphQL names in upper case; values are the stored names (src/domain/migration.ts). */
export enum MigrationStatusEnum {
  STARTING = 'starting',
  COPYING = 'copying',
  SUCCESS = 'success',
  ERROR = 'error',
}
registerEnumType(MigrationStatusEnum, {
  name: 'MigrationStatus',
  description: 'Progress of a volume\'s migration to another pool (Cinder\'s migration_status).',
  valuesConfig: {
    STARTING: { description: 'Accepted: the destination\'s capacity is reserved and the source agent is asked to export the image.' },
    COPYING: { description: 'The source serves the image over NBD and the destination copies it into its pool, then compares the copy with the source.' },
    SUCCESS: { description: 'The volume lives on the new pool (its id unchanged); the old image is being deleted.' },
    ERROR: { description: 'The migration failed or timed out; the volume is AVAILABLE on its old pool with its data unchanged. `Volume.messages` says why.' },
  },
});

export enum MigrationPolicyEnum {
  NEVER = 'never',
  ON_DEMAND = 'on_demand',
}
registerEnumType(MigrationPolicyEnum, {
  name: 'MigrationPolicy',
  description: 'Whether a retype may move the volume to another pool (Cinder\'s migration_policy).',
  valuesConfig: {
    NEVER: { description: 'Retype only in place: when the volume\'s pool does not satisfy the new type, the retype fails (NO_VALID_BACKEND) and the volume is unchanged.' },
    ON_DEMAND: { description: 'Migrate the volume to the best pool that satisfies the new type when its own pool does not.' },
  },
});

