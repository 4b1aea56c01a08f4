/** Manage / unmanage (admins; Cinder's manage_existing, unmanage, get_manageable_volumes). Thin wrappers over src/gateway/mutations/manage.ts. */
import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from './context.js';
import { ManageableVolumeObject, ManageVolumeInput, ManageVolumePayload, UnmanageVolumeInput, UnmanageVolumePayload } from './types/manage.js';
import { OperationObject } from './types/operation.js';
import { VolumeObject } from './types/volume.js';

const GiB = 1024 ** 3;

@Resolver()
export class ManageResolver {
  @Mutation(() => ManageVolumePayload, {
    description:
      'Adopts an existing image on an agent\'s pool as a volume (admins only). Returns at once with the volume CREATING; the agent checks the file ' +
      '(raw or qcow2, no backing file, not in use), renames it into the driver\'s naming, grows it to whole GiB and reports its size: the volume becomes ' +
      'AVAILABLE with its capacity counted on the pool, or ERROR with a message in `Volume.messages` (the file left untouched). ' +
      'Errors: BAD_USER_INPUT, NOT_FOUND (project, or volume type), NO_VALID_BACKEND (unknown host or pool, agent DOWN), CONFLICT (idempotency key reused), FORBIDDEN, UNAUTHENTICATED.',
  })
  async manageVolume(@Arg('input', () => ManageVolumeInput, { description: 'The image and the volume to make of it.' }) input: ManageVolumeInput, @Ctx() ctx: Context): Promise<ManageVolumePayload> {
    const r = await ctx.ports.manage.manage(ctx.principal, input);
    return { volume: VolumeObject.from(r.volume), operation: OperationObject.from(r.operation) };
  }

  @Mutation(() => UnmanageVolumePayload, {
    description:
      'Forgets a volume and keeps its bytes (admins only): the volume goes DELETING, the agent renames its image out of the driver\'s naming ' +
      '(the file driver: `unmanaged-volume-<id>.<fmt>` in the pool directory), then it is DELETED and its capacity released. ' +
      'Errors: NOT_FOUND, INVALID_STATE (not AVAILABLE, ERROR or ERROR_DELETING, or it has snapshots), CONFLICT (`expectedVersion`), FORBIDDEN, UNAUTHENTICATED.',
  })
  async unmanageVolume(@Arg('input', () => UnmanageVolumeInput, { description: 'The volume to forget.' }) input: UnmanageVolumeInput, @Ctx() ctx: Context): Promise<UnmanageVolumePayload> {
    const r = await ctx.ports.manage.unmanage(ctx.principal, input);
    return { volume: VolumeObject.from(r.volume), operation: OperationObject.from(r.operation) };
  }

  @Query(() => [ManageableVolumeObject], {
    description:
      'Files of a pool that are not Flint volumes, with their format and size and whether `manageVolume` would take them (admins only; asks the pool\'s agent). ' +
      'Errors: NO_VALID_BACKEND (unknown host or pool, agent DOWN), SERVICE_UNAVAILABLE (the agent did not answer), FORBIDDEN, UNAUTHENTICATED.',
  })
  async manageableVolumes(
    @Arg('host', { description: 'Storage host of the pool.' }) host: string,
    @Arg('pool', { description: 'Name of the pool on that host.' }) pool: string,
    @Ctx() ctx: Context,
  ): Promise<ManageableVolumeObject[]> {
    const images = await ctx.ports.manage.manageable(ctx.principal, host, pool);
    return images.map((i) => Object.assign(new ManageableVolumeObject(), { ...i, sizeGiB: Math.max(1, Math.ceil(i.sizeBytes / GiB)) }));
  }
}
