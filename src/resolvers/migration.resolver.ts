/** migrateVolume (admins) and retypeVolume (members), see src/gateway/mutations/volume-migration.ts. */
import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { Context } from './context.js';
import { MigrateVolumeInput, MigrateVolumePayload, MigrationPolicyEnum, RetypeVolumeInput, RetypeVolumePayload } from './types/migration.js';
import { OperationObject } from './types/operation.js';
import { VolumeObject } from './types/volume.js';
import type { VolumeChangeResult } from './ports/volumes.js';

const payload = (r: VolumeChangeResult) => ({ volume: VolumeObject.from(r.volume), operation: r.operation && OperationObject.from(r.operation) });

@Resolver(() => VolumeObject)
export class MigrationResolver {
  @Mutation(() => MigrateVolumePayload, {
    description:
      'Admins only. Moves a volume\'s data to another pool (of another host, or of the same one) and switches the volume over; its id never changes (Cinder\'s migrate). ' +
      'The volume goes MAINTENANCE (every other action waits) with `migrationStatus` STARTING, then COPYING: the source agent serves the image over NBD, the destination copies it in its own format and compares it with the source. ' +
      'It ends AVAILABLE on the new pool with SUCCESS (the old image is then deleted), or AVAILABLE on its old pool, data unchanged, with ERROR and a message in `Volume.messages`. ' +
      'Errors: BAD_USER_INPUT (the same pool, an unknown pool), NO_VALID_BACKEND (the pool is DOWN, refused by a filter unless `force`, or full), INVALID_STATE (not AVAILABLE, or has snapshots), NOT_FOUND, CONFLICT (idempotencyKey used for another request), FORBIDDEN (not an admin), UNAUTHENTICATED.',
  })
  async migrateVolume(@Arg('input', () => MigrateVolumeInput, { description: 'The volume and its destination.' }) input: MigrateVolumeInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.migration.migrate(ctx.principal, input));
  }

  @Mutation(() => RetypeVolumePayload, {
    description:
      'Changes a volume\'s type. The volume goes RETYPING and the scheduler decides: when its pool satisfies the new type (zone, provisioning type, capabilities, capacity) the type changes in place; ' +
      'otherwise, with `migrationPolicy: ON_DEMAND`, the volume migrates to the best pool that does (as `migrateVolume`, `migrationStatus` shows it) and gets the type at the switch. ' +
      'It ends AVAILABLE; when it could not be retyped (NEVER and its pool does not satisfy the type, no pool does, or it has snapshots and would have to move) it is unchanged and the operation FAILED ' +
      '(NO_VALID_BACKEND or INVALID_STATE) with a message saying which filter refused. ' +
      'Errors: NOT_FOUND (volume, or unknown or private type), BAD_USER_INPUT (the current type), INVALID_STATE (not AVAILABLE), CONFLICT (expectedVersion, or idempotencyKey used for another request), FORBIDDEN (reader token), UNAUTHENTICATED.',
  })
  async retypeVolume(@Arg('input', () => RetypeVolumeInput, { description: 'The volume, its new type and the migration policy.' }) input: RetypeVolumeInput, @Ctx() ctx: Context) {
    return payload(
      await ctx.ports.migration.retype(ctx.principal, {
        id: input.id,
        volumeType: input.volumeType,
        migrationPolicy: input.migrationPolicy ?? MigrationPolicyEnum.NEVER,
        expectedVersion: input.expectedVersion ?? null,
        idempotencyKey: input.idempotencyKey ?? null,
      }),
    );
  }
}
