/**
 * Volume type administration beyond create/delete (src/resolvers/system.resolver.ts):
 * `volumeType`, `updateVolumeType`, and Cinder's volume-type access for private types
 * (`addVolumeTypeAccess`, `removeVolumeTypeAccess`, `VolumeType.accessProjects`).
 */
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import {
  addAccess,
  casVolumeType,
  countVolumesOfType,
  findVolumeType,
  findVolumeTypeByName,
  mayUseVolumeType,
  Project,
  removeAccess,
  Volume,
  type VolumeTypeChanges,
} from '../db/index.js';
import {
  BadInputError,
  checkDescription,
  checkExtraSpecs,
  checkName,
  ConflictError,
  InvalidStateError,
  NotFoundError,
  Problems,
  requireAdmin,
  requirePrincipal,
} from '../domain/index.js';
import type { Context } from './context.js';
import { VolumeTypeType } from './types/system.js';
import { UpdateVolumeTypeInput, VolumeTypeAccessInput } from './types/volume-type-inputs.js';

function sameSpecs(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

@Resolver(() => VolumeTypeType)
export class VolumeTypeResolver {
  @Query(() => VolumeTypeType, {
    nullable: true,
    description:
      'A volume type by `id` or by `name` (give exactly one: BAD_USER_INPUT otherwise), or null when it does not exist or is private and your project has no access.',
  })
  async volumeType(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { nullable: true, description: 'Id of the volume type.' }) id?: string | null,
    @Arg('name', () => String, { nullable: true, description: 'Name of the volume type.' }) name?: string | null,
  ): Promise<VolumeTypeType | null> {
    const p = requirePrincipal(ctx.principal);
    if ((id == null) === (name == null)) throw new BadInputError(['give exactly one of id and name']);
    const em = ctx.services.db.fork();
    const t = id != null ? await findVolumeType(em, id) : await findVolumeTypeByName(em, name!);
    return t && (await mayUseVolumeType(em, p, t)) ? VolumeTypeType.from(t) : null;
  }

  @FieldResolver(() => [ID], {
    description: 'Projects granted this private type (`addVolumeTypeAccess`), sorted; empty for a public type that has none. Admins only: FORBIDDEN for other tokens.',
  })
  async accessProjects(@Root() type: VolumeTypeType, @Ctx() ctx: Context): Promise<string[]> {
    requireAdmin(ctx.principal, 'Reading the projects of a volume type');
    return ctx.loaders.accessProjectsOf(type.id);
  }

  @Mutation(() => VolumeTypeType, {
    description:
      'Changes a volume type (admins only): name, description, visibility, or extra specs (validated as on create). ' +
      'Errors: BAD_USER_INPUT (nothing to change, or a bad value), NOT_FOUND, CONFLICT (the name is taken, or `expectedVersion` is not the current version), ' +
      'INVALID_STATE (new extra specs while volumes use the type: create a new type and retype them), FORBIDDEN, UNAUTHENTICATED.',
  })
  async updateVolumeType(
    @Arg('input', () => UpdateVolumeTypeInput, { description: 'The volume type and what to change.' }) input: UpdateVolumeTypeInput,
    @Ctx() ctx: Context,
  ): Promise<VolumeTypeType> {
    requireAdmin(ctx.principal, 'Changing volume types');
    const problems = new Problems();
    checkName(problems, 'name', input.name, false);
    checkDescription(problems, input.description);
    const extraSpecs = checkExtraSpecs(problems, input.extraSpecs);
    problems.throwIfAny();
    const changes: VolumeTypeChanges = {};
    if (input.name != null) changes.name = input.name;
    if (input.description != null) changes.description = input.description === '' ? null : input.description;
    if (extraSpecs !== undefined) changes.extraSpecs = extraSpecs;
    if (input.isPublic != null) changes.isPublic = input.isPublic;
    if (Object.keys(changes).length === 0) throw new BadInputError(['give at least one of name, description, extraSpecs, isPublic to change']);

    const em = ctx.services.db.fork();
    const current = await findVolumeType(em, input.id);
    if (!current) throw new NotFoundError('VolumeType', input.id);
    const expected = input.expectedVersion ?? undefined;
    if (expected !== undefined && expected !== current.version) {
      throw new ConflictError(`Volume type ${current.id} is at version ${current.version}, not ${expected}; read it again and retry.`, {
        currentVersion: current.version,
      });
    }
    try {
      // The write comes first: a SQLite transaction that reads first cannot upgrade while another process writes.
      const updated = await em.transactional(async (tx) => {
        const t = await casVolumeType(tx, current.id, current.version, changes);
        if (!t) throw new ConflictError(`Volume type ${current.id} changed while the update ran; read it again and retry.`);
        if (changes.extraSpecs && !sameSpecs(changes.extraSpecs, current.extraSpecs)) {
          const n = await countVolumesOfType(tx, current.name);
          if (n > 0) {
            throw new InvalidStateError(
              `Volume type "${current.name}" is used by ${n} volume${n === 1 ? '' : 's'}, so its extra specs cannot change (the volumes were placed by them). ` +
                'Create a new volume type with these extra specs and retype the volumes to it instead.',
              { volumeCount: n },
            );
          }
        }
        // Volumes name their type: a rename carries them along.
        if (changes.name !== undefined && changes.name !== current.name) {
          await tx.nativeUpdate(Volume, { volumeType: current.name }, { volumeType: changes.name });
        }
        return t;
      });
      return VolumeTypeType.from(updated);
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new ConflictError(`A volume type named "${input.name}" exists already; pick another name.`);
      throw err;
    }
  }

  @Mutation(() => VolumeTypeType, {
    description:
      'Lets a project see and use a private volume type (admins only; Cinder\'s type access). Granting a project that has access already changes nothing. ' +
      'Errors: NOT_FOUND (type or project), INVALID_STATE (the type is public: every project has it already), FORBIDDEN, UNAUTHENTICATED.',
  })
  async addVolumeTypeAccess(
    @Arg('input', () => VolumeTypeAccessInput, { description: 'The private type and the project to grant.' }) input: VolumeTypeAccessInput,
    @Ctx() ctx: Context,
  ): Promise<VolumeTypeType> {
    requireAdmin(ctx.principal, 'Granting access to volume types');
    const em = ctx.services.db.fork();
    const t = await findVolumeType(em, input.volumeTypeId);
    if (!t) throw new NotFoundError('VolumeType', input.volumeTypeId);
    if (t.isPublic) {
      throw new InvalidStateError(`Volume type "${t.name}" is public, so every project may use it already; make it private (updateVolumeType isPublic: false) first.`);
    }
    const project = await em.findOne(Project, { id: input.projectId }, { disableIdentityMap: true });
    if (!project) throw new NotFoundError('Project', input.projectId);
    await addAccess(em, t.id, project.id);
    return VolumeTypeType.from(t);
  }

  @Mutation(() => VolumeTypeType, {
    description:
      'Takes a private volume type away from a project (admins only); its existing volumes keep the type. ' +
      'Errors: NOT_FOUND (the type, or a project without access), FORBIDDEN, UNAUTHENTICATED.',
  })
  async removeVolumeTypeAccess(
    @Arg('input', () => VolumeTypeAccessInput, { description: 'The private type and the project to revoke.' }) input: VolumeTypeAccessInput,
    @Ctx() ctx: Context,
  ): Promise<VolumeTypeType> {
    requireAdmin(ctx.principal, 'Revoking access to volume types');
    const em = ctx.services.db.fork();
    const t = await findVolumeType(em, input.volumeTypeId);
    if (!t) throw new NotFoundError('VolumeType', input.volumeTypeId);
    if (!(await removeAccess(em, t.id, input.projectId))) {
      throw new NotFoundError('Access of project to volume type', `${input.projectId} → ${t.name}`);
    }
    return VolumeTypeType.from(t);
  }
}
