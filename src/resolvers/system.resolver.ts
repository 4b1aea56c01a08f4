import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { decodeEnvelope, decodePayload, serviceBeatMatchesKey, serviceHeartbeat, type ServiceHeartbeat } from '../bus/index.js';
import { capacity, findAttachment, findBackup, findOperation, findSnapshot, findVolume, mayUseVolumeType, toBackupView, visibleVolumeTypes, VolumeTypeAccess, VolumeType as VolumeTypeRow } from '../db/index.js';
import { BackupType } from './types/backup.js';
import { AttachmentType } from './types/attachment.js';
import {
  BadInputError,
  canSee,
  checkDescription,
  checkExtraSpecs,
  checkName,
  ConflictError,
  NotFoundError,
  Problems,
  requireAdmin,
  requirePrincipal,
} from '../domain/index.js';
import { toPools, toServices } from './cluster-views.js';
import type { Context } from './context.js';
import { RoleEnum } from './types/enums.js';
import { Node } from './types/node.js';
import { OperationType } from './types/operation.js';
import { CreateVolumeTypeInput, DeleteVolumeTypeInput, Pool, Service, Viewer, VolumeTypeType } from './types/system.js';
import { VolumeType } from './types/volume.js';
import { SnapshotType } from './types/snapshot.js';

@Resolver()
export class SystemResolver {
  @Query(() => Viewer, { description: 'The project and role of your token: the first query to try. Without a valid token it is UNAUTHENTICATED.' })
  viewer(@Ctx() ctx: Context): Viewer {
    const p = requirePrincipal(ctx.principal);
    return { projectId: p.projectId, projectName: p.projectName, role: p.role as RoleEnum };
  }

  @Query(() => [Pool], {
    description: 'Every pool the agents report in their heartbeats, with capacity and state, sorted by id (admins only: FORBIDDEN for other tokens).',
  })
  async pools(@Ctx() ctx: Context): Promise<Pool[]> {
    requireAdmin(ctx.principal, 'Listing pools');
    const allocated = await capacity.allocations(ctx.services.db.fork());
    return toPools(ctx.services.pools.list(), allocated, ctx.services.heartbeatSeconds);
  }

  @Query(() => [Service], {
    description: 'Every Flint process that has sent a heartbeat in the last day, UP or DOWN, sorted by role and host (admins only: FORBIDDEN for other tokens).',
  })
  async services(@Ctx() ctx: Context): Promise<Service[]> {
    requireAdmin(ctx.principal, 'Listing services');
    const kv = ctx.services.bus.services;
    const beats: ServiceHeartbeat[] = [];
    // A key listing can name a key twice when it is written during the listing (a heartbeat).
    const keys = new Set<string>();
    for await (const key of await kv.keys()) keys.add(key);
    for (const key of keys) {
      const e = await kv.get(key);
      if (!e || e.operation !== 'PUT') continue;
      try {
        const beat = decodePayload(decodeEnvelope(e.value), serviceHeartbeat);
        if (serviceBeatMatchesKey(key, beat)) beats.push(beat);
      } catch {
        // A heartbeat from an incompatible build: not a service this gateway can describe.
      }
    }
    return toServices(beats);
  }

  @Query(() => OperationType, {
    nullable: true,
    description: 'An operation by id (from a mutation\'s payload), or null when it does not exist or belongs to another project. Poll it until SUCCEEDED or FAILED.',
  })
  async operation(@Arg('id', () => ID, { description: 'Id of the operation.' }) id: string, @Ctx() ctx: Context): Promise<OperationType | null> {
    const op = await ctx.services.volumes.operation(requirePrincipal(ctx.principal), id);
    return op ? OperationType.from(op) : null;
  }

  @Query(() => Node, {
    nullable: true,
    description: 'Any object by its id (Relay): a volume, a snapshot, a backup, an attachment, an operation or a volume type; null when nothing with that id is visible to you. Use `... on Volume { … }` to read its fields.',
  })
  async node(@Arg('id', () => ID, { description: 'Id of a volume, snapshot, backup, attachment, operation or volume type.' }) id: string, @Ctx() ctx: Context): Promise<Node | null> {
    const p = requirePrincipal(ctx.principal);
    const em = ctx.services.db.fork();
    const v = await findVolume(em, id);
    if (v) return v.status !== 'deleted' && canSee(p, v.projectId) ? VolumeType.from(v) : null;
    const s = await findSnapshot(em, id);
    if (s) return s.status !== 'deleted' && canSee(p, s.projectId) ? SnapshotType.from(s) : null;
    const b = await findBackup(em, id);
    if (b) return b.status !== 'deleted' && canSee(p, b.projectId) ? BackupType.from(b, toBackupView) : null;
    // As `attachment(id)`: DETACHED ones too; another project's is null.
    const a = await findAttachment(em, id);
    if (a) return canSee(p, a.projectId) ? AttachmentType.from(a) : null;
    const op = await findOperation(em, id);
    if (op) return canSee(p, op.projectId) ? OperationType.from(op) : null;
    const t = await em.findOne(VolumeTypeRow, { id }, { disableIdentityMap: true });
    return t && (await mayUseVolumeType(em, p, t)) ? VolumeTypeType.from(t) : null;
  }

  @Query(() => [VolumeTypeType], {
    description: 'Volume types you may use in `createVolume`, by name: the public ones and the private ones your project was granted (admins see all).',
  })
  async volumeTypes(@Ctx() ctx: Context): Promise<VolumeTypeType[]> {
    const p = requirePrincipal(ctx.principal);
    return (await visibleVolumeTypes(ctx.services.db.fork(), p)).map(VolumeTypeType.from);
  }

  @Mutation(() => VolumeTypeType, {
    description: 'Defines a volume type (admins only). Errors: BAD_USER_INPUT, CONFLICT (the name is taken), FORBIDDEN, UNAUTHENTICATED.',
  })
  async createVolumeType(@Arg('input', () => CreateVolumeTypeInput, { description: 'The volume type to define.' }) input: CreateVolumeTypeInput, @Ctx() ctx: Context): Promise<VolumeTypeType> {
    requireAdmin(ctx.principal, 'Creating volume types');
    const problems = new Problems();
    checkName(problems, 'name', input.name, true);
    checkDescription(problems, input.description);
    const extraSpecs = checkExtraSpecs(problems, input.extraSpecs) ?? {};
    problems.throwIfAny();
    const em = ctx.services.db.fork();
    try {
      const row = em.create(VolumeTypeRow, { id: randomUUID(), name: input.name, description: input.description ?? null, extraSpecs, isPublic: input.isPublic ?? true });
      await em.flush();
      return VolumeTypeType.from(row);
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new ConflictError(`A volume type named "${input.name}" exists already; pick another name.`);
      throw err;
    }
  }

  @Mutation(() => ID, {
    description:
      'Deletes a volume type that no volume uses any more (admins only) and returns its id. ' +
      'Errors: NOT_FOUND, BAD_USER_INPUT (volumes still use it), FORBIDDEN, UNAUTHENTICATED.',
  })
  async deleteVolumeType(@Arg('input', () => DeleteVolumeTypeInput, { description: 'The volume type to delete.' }) input: DeleteVolumeTypeInput, @Ctx() ctx: Context): Promise<string> {
    requireAdmin(ctx.principal, 'Deleting volume types');
    const em = ctx.services.db.fork();
    const t = await em.findOne(VolumeTypeRow, { id: input.id });
    if (!t) throw new NotFoundError('VolumeType', input.id);
    const inUse = await em.execute("select count(*) as n from volume where volume_type = ? and status <> 'deleted'", [t.name]);
    if (Number((inUse as Array<{ n: number | string }>)[0]?.n ?? 0) > 0) {
      throw new BadInputError([`volume type "${t.name}" is used by volumes; delete them or leave the type`]);
    }
    await em.nativeDelete(VolumeTypeAccess, { volumeTypeId: t.id });
    await em.removeAndFlush(t);
    return input.id;
  }
}
