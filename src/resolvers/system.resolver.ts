/**
 * Who am I (`viewer`), the cluster for admins (`pools`, `services`), and Relay's lookup by
 * id (`node`). Operations are in operation.resolver.ts.
 */
import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import { requirePrincipal } from '../domain/index.js';
import { toPools, toServices } from './cluster-views.js';
import type { Context } from './context.js';
import { nodeObject } from './node-objects.js';
import { RoleEnum } from './types/enums.js';
import { Node } from './types/node.js';
import { PoolObject, ServiceObject, ViewerObject } from './types/system.js';

@Resolver()
export class SystemResolver {
  @Query(() => ViewerObject, { description: 'The project and role of your token: the first query to try. Without a valid token it is UNAUTHENTICATED.' })
  viewer(@Ctx() ctx: Context): ViewerObject {
    const p = requirePrincipal(ctx.principal);
    return { projectId: p.projectId, projectName: p.projectName, role: p.role as RoleEnum };
  }

  @Query(() => [PoolObject], {
    description: 'Every pool the agents report in their heartbeats, with capacity and state, sorted by id (admins only: FORBIDDEN for other tokens).',
  })
  async pools(@Ctx() ctx: Context): Promise<PoolObject[]> {
    const now = await ctx.ports.cluster.pools(ctx.principal);
    return toPools(now.stats, now.allocated, ctx.ports.cluster.heartbeatSeconds);
  }

  @Query(() => [ServiceObject], {
    description: 'Every Flint process that has sent a heartbeat in the last day, UP or DOWN, sorted by role and host (admins only: FORBIDDEN for other tokens).',
  })
  async services(@Ctx() ctx: Context): Promise<ServiceObject[]> {
    return toServices(await ctx.ports.cluster.services(ctx.principal));
  }

  @Query(() => Node, {
    nullable: true,
    description: 'Any object by its id (Relay): a volume, a snapshot, a backup, an attachment, an operation or a volume type; null when nothing with that id is visible to you. Use `... on Volume { … }` to read its fields.',
  })
  async node(@Arg('id', () => ID, { description: 'Id of a volume, snapshot, backup, attachment, operation or volume type.' }) id: string, @Ctx() ctx: Context): Promise<Node | null> {
    const found = await ctx.ports.reads.node(ctx.principal, id);
    return found ? nodeObject(found) : null;
  }
}
