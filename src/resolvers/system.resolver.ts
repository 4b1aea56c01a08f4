import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { decodeEnvelope, decodePayload, poolId, serviceHeartbeat, type ServiceHeartbeat } from '../bus/index.js';
import { capacity, findOperation, findVolume, VolumeType as VolumeTypeRow } from '../db/index.js';
import {
  BadInputError,
  canSee,
  checkDescription,
  checkMetadata,
  checkName,
  ConflictError,
  NotFoundError,
  Problems,
  requireAdmin,
  requirePrincipal,
} from '../domain/index.js';
import type { Context } from './context.js';
import { RoleEnum, ServiceStateEnum } from './types/enums.js';
import { Node } from './types/node.js';
import { OperationType } from './types/operation.js';
import { CreateVolumeTypeInput, DeleteVolumeTypeInput, Pool, Service, Viewer, VolumeTypeType } from './types/system.js';
import { VolumeType } from './types/volume.js';

function state(at: string | Date, intervalSeconds: number, now = Date.now()): ServiceStateEnum {
  return now - new Date(at).getTime() <= intervalSeconds * 3000 ? ServiceStateEnum.UP : ServiceStateEnum.DOWN;
}

@Resolver()
export class SystemResolver {
  @Query(() => Viewer, { description: 'The project and role of your token.' })
  viewer(@Ctx() ctx: Context): Viewer {
    const p = requirePrincipal(ctx.principal);
    return { projectId: p.projectId, projectName: p.projectName, role: p.role as RoleEnum };
  }

  @Query(() => [Pool], { description: 'Every pool the agents report (admins only).' })
  async pools(@Ctx() ctx: Context): Promise<Pool[]> {
    requireAdmin(ctx.principal, 'Listing pools');
    const allocated = await capacity.allocations(ctx.services.db.fork());
    return ctx.services.pools
      .list()
      .map((s) => ({
        ...s,
        id: poolId(s.host, s.pool),
        name: s.pool,
        allocatedCapacityGiB: allocated.get(poolId(s.host, s.pool)) ?? 0,
        state: state(s.updatedAt, ctx.services.heartbeatSeconds),
        updatedAt: new Date(s.updatedAt),
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  @Query(() => [Service], { description: 'Every Flint process that has sent a heartbeat in the last day (admins only).' })
  async services(@Ctx() ctx: Context): Promise<Service[]> {
    requireAdmin(ctx.principal, 'Listing services');
    const kv = ctx.services.bus.services;
    const beats: ServiceHeartbeat[] = [];
    for await (const key of await kv.keys()) {
      const e = await kv.get(key);
      if (!e || e.operation !== 'PUT') continue;
      try {
        beats.push(decodePayload(decodeEnvelope(e.value), serviceHeartbeat));
      } catch {
        // A heartbeat from an incompatible build: not a service this gateway can describe.
      }
    }
    return beats
      .map((b) => ({
        host: b.host,
        role: b.role,
        zone: b.availabilityZone,
        state: state(b.heartbeatAt, b.intervalSeconds),
        lastHeartbeatAt: new Date(b.heartbeatAt),
        startedAt: new Date(b.startedAt),
        version: b.version,
      }))
      .sort((a, b) => `${a.role}/${a.host}`.localeCompare(`${b.role}/${b.host}`));
  }

  @Query(() => OperationType, { nullable: true, description: 'An operation, or null when it does not exist or is not visible to you.' })
  async operation(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<OperationType | null> {
    const op = await ctx.services.volumes.operation(requirePrincipal(ctx.principal), id);
    return op ? OperationType.from(op) : null;
  }

  @Query(() => Node, { nullable: true, description: 'Any object by id (volume, operation, volume type).' })
  async node(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Node | null> {
    const p = requirePrincipal(ctx.principal);
    const em = ctx.services.db.fork();
    const v = await findVolume(em, id);
    if (v) return v.status !== 'deleted' && canSee(p, v.projectId) ? VolumeType.from(v) : null;
    const op = await findOperation(em, id);
    if (op) return canSee(p, op.projectId) ? OperationType.from(op) : null;
    const t = await em.findOne(VolumeTypeRow, { id }, { disableIdentityMap: true });
    return t && (t.isPublic || p.role === 'admin') ? VolumeTypeType.from(t) : null;
  }

  @Query(() => [VolumeTypeType], { description: 'Volume types you may use (admins see private ones too).' })
  async volumeTypes(@Ctx() ctx: Context): Promise<VolumeTypeType[]> {
    const p = requirePrincipal(ctx.principal);
    const where = p.role === 'admin' ? {} : { isPublic: true };
    const rows = await ctx.services.db.fork().find(VolumeTypeRow, where, { orderBy: { name: 'asc' }, disableIdentityMap: true });
    return rows.map(VolumeTypeType.from);
  }

  @Mutation(() => VolumeTypeType, { description: 'Defines a volume type (admins only).' })
  async createVolumeType(@Arg('input', () => CreateVolumeTypeInput) input: CreateVolumeTypeInput, @Ctx() ctx: Context): Promise<VolumeTypeType> {
    requireAdmin(ctx.principal, 'Creating volume types');
    const problems = new Problems();
    checkName(problems, 'name', input.name, true);
    checkDescription(problems, input.description);
    const extraSpecs = checkMetadata(problems, input.extraSpecs) ?? {};
    problems.throwIfAny();
    const em = ctx.services.db.fork();
    try {
      const row = em.create(VolumeTypeRow, { id: randomUUID(), name: input.name, description: input.description ?? null, extraSpecs, isPublic: input.isPublic });
      await em.flush();
      return VolumeTypeType.from(row);
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new ConflictError(`A volume type named "${input.name}" exists already; pick another name.`);
      throw err;
    }
  }

  @Mutation(() => ID, { description: 'Deletes an unused volume type (admins only); returns its id.' })
  async deleteVolumeType(@Arg('input', () => DeleteVolumeTypeInput) input: DeleteVolumeTypeInput, @Ctx() ctx: Context): Promise<string> {
    requireAdmin(ctx.principal, 'Deleting volume types');
    const em = ctx.services.db.fork();
    const t = await em.findOne(VolumeTypeRow, { id: input.id });
    if (!t) throw new NotFoundError('VolumeType', input.id);
    const inUse = await em.execute("select count(*) as n from volume where volume_type = ? and status <> 'deleted'", [t.name]);
    if (Number((inUse as Array<{ n: number | string }>)[0]?.n ?? 0) > 0) {
      throw new BadInputError([`volume type "${t.name}" is used by volumes; delete them or leave the type`]);
    }
    await em.removeAndFlush(t);
    return input.id;
  }
}
