/**
 * Volume types: `volumeTypes`, `volumeType`, create, update and delete, and Cinder's
 * volume-type access for private types (`addVolumeTypeAccess`, `removeVolumeTypeAccess`,
 * `VolumeType.accessProjects`). The rules are in src/gateway/mutations/volume-type.ts.
 */
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { requireAdmin } from '../domain/index.js';
import type { Context } from './context.js';
import { CreateVolumeTypeInput, DeleteVolumeTypeInput, DeleteVolumeTypePayload, VolumeTypeObject } from './types/system.js';
import { UpdateVolumeTypeInput, VolumeTypeAccessInput } from './types/volume-type-inputs.js';

@Resolver(() => VolumeTypeObject)
export class VolumeTypeResolver {
  @Query(() => [VolumeTypeObject], {
    description: 'Volume types you may use in `createVolume`, by name: the public ones and the private ones your project was granted (admins see all).',
  })
  async volumeTypes(@Ctx() ctx: Context): Promise<VolumeTypeObject[]> {
    return (await ctx.ports.volumeTypes.usable(ctx.principal)).map(VolumeTypeObject.from);
  }

  @Query(() => VolumeTypeObject, {
    nullable: true,
    description:
      'A volume type by `id` or by `name` (give exactly one: BAD_USER_INPUT otherwise), or null when it does not exist or is private and your project has no access.',
  })
  async volumeType(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { nullable: true, description: 'Id of the volume type.' }) id?: string | null,
    @Arg('name', () => String, { nullable: true, description: 'Name of the volume type.' }) name?: string | null,
  ): Promise<VolumeTypeObject | null> {
    const t = await ctx.ports.volumeTypes.find(ctx.principal, { id, name });
    return t ? VolumeTypeObject.from(t) : null;
  }

  @FieldResolver(() => [ID], {
    description: 'Projects granted this private type (`addVolumeTypeAccess`), sorted; empty for a public type that has none. Admins only: FORBIDDEN for other tokens.',
  })
  async accessProjects(@Root() type: VolumeTypeObject, @Ctx() ctx: Context): Promise<string[]> {
    requireAdmin(ctx.principal, 'Reading the projects of a volume type');
    return ctx.loaders.accessProjectsOf(type.id);
  }

  @Mutation(() => VolumeTypeObject, {
    description: 'Defines a volume type (admins only). Errors: BAD_USER_INPUT, CONFLICT (the name is taken), FORBIDDEN, UNAUTHENTICATED.',
  })
  async createVolumeType(@Arg('input', () => CreateVolumeTypeInput, { description: 'The volume type to define.' }) input: CreateVolumeTypeInput, @Ctx() ctx: Context): Promise<VolumeTypeObject> {
    return VolumeTypeObject.from(await ctx.ports.volumeTypes.create(ctx.principal, input));
  }

  @Mutation(() => DeleteVolumeTypePayload, {
    description:
      'Deletes a volume type that no volume uses any more (admins only). Deleting one that is gone already succeeds with `alreadyDeleted: true`. ' +
      'Errors: INVALID_STATE (volumes still use it: says how many; delete or retype them first), FORBIDDEN, UNAUTHENTICATED.',
  })
  async deleteVolumeType(@Arg('input', () => DeleteVolumeTypeInput, { description: 'The volume type to delete.' }) input: DeleteVolumeTypeInput, @Ctx() ctx: Context): Promise<DeleteVolumeTypePayload> {
    const { id, alreadyDeleted } = await ctx.ports.volumeTypes.delete(ctx.principal, input);
    return Object.assign(new DeleteVolumeTypePayload(), { volumeTypeId: id, alreadyDeleted });
  }

  @Mutation(() => VolumeTypeObject, {
    description:
      'Changes a volume type (admins only): name, description, visibility, or extra specs (validated as on create). ' +
      'Errors: BAD_USER_INPUT (nothing to change, or a bad value), NOT_FOUND, CONFLICT (the name is taken, or `expectedVersion` is not the current version), ' +
      'INVALID_STATE (new extra specs while volumes use the type: create a new type and retype them), FORBIDDEN, UNAUTHENTICATED.',
  })
  async updateVolumeType(
    @Arg('input', () => UpdateVolumeTypeInput, { description: 'The volume type and what to change.' }) input: UpdateVolumeTypeInput,
    @Ctx() ctx: Context,
  ): Promise<VolumeTypeObject> {
    return VolumeTypeObject.from(await ctx.ports.volumeTypes.update(ctx.principal, input));
  }

  @Mutation(() => VolumeTypeObject, {
    description:
      'Lets a project see and use a private volume type (admins only; Cinder\'s type access). Granting a project that has access already changes nothing. ' +
      'Errors: NOT_FOUND (type or project), INVALID_STATE (the type is public: every project has it already), FORBIDDEN, UNAUTHENTICATED.',
  })
  async addVolumeTypeAccess(
    @Arg('input', () => VolumeTypeAccessInput, { description: 'The private type and the project to grant.' }) input: VolumeTypeAccessInput,
    @Ctx() ctx: Context,
  ): Promise<VolumeTypeObject> {
    return VolumeTypeObject.from(await ctx.ports.volumeTypes.grantAccess(ctx.principal, input));
  }

  @Mutation(() => VolumeTypeObject, {
    description:
      'Takes a private volume type away from a project (admins only); its existing volumes keep the type. ' +
      'Errors: NOT_FOUND (the type, or a project without access), FORBIDDEN, UNAUTHENTICATED.',
  })
  async removeVolumeTypeAccess(
    @Arg('input', () => VolumeTypeAccessInput, { description: 'The private type and the project to revoke.' }) input: VolumeTypeAccessInput,
    @Ctx() ctx: Context,
  ): Promise<VolumeTypeObject> {
    return VolumeTypeObject.from(await ctx.ports.volumeTypes.revokeAccess(ctx.principal, input));
  }
}
