/**
 * What live dashboards read: operations and user messages (lists and live events), and
 * the pools and services as they change (admins). Authorised like every other field.
 */
import { Arg, Ctx, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { LiveMessage, LiveOperation, ServiceHeartbeat } from '../bus/index.js';
import type { OperationStatus } from '../db/index.js';
import { toPools, toServices } from './cluster-views.js';
import type { Context } from './context.js';
import type { PoolSnapshot } from './ports/index.js';
import {
  messageFromView,
  OperationConnection,
  OperationFilter,
  operationFromView,
  UserMessageConnection,
  UserMessageFilter,
} from './types/dashboard.js';
import { OperationObject, UserMessageObject } from './types/operation.js';
import { PoolObject, ServiceObject } from './types/system.js';
import { backwardArgs, connectionOf } from './types/relay.js';

interface SubscribeData<A> {
  args: A;
  context: Context;
}

@Resolver()
export class DashboardResolver {
  @Query(() => OperationConnection, { description: 'Operations of your project (of every project for admins), newest first.' })
  async operations(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string,
    @Arg('last', () => Int, { nullable: true, description: backwardArgs.last('operations') }) last?: number,
    @Arg('before', () => String, { nullable: true, description: backwardArgs.before }) before?: string,
    @Arg('filter', () => OperationFilter, { nullable: true, description: 'Only operations that meet these conditions.' }) filter?: OperationFilter,
  ): Promise<OperationConnection> {
    const page = await ctx.ports.reads.operations(ctx.principal, {
      first,
      after,
      last,
      before,
      filter: { status: filter?.status as string[] as OperationStatus[] | undefined, kind: filter?.kind ?? undefined, resourceId: filter?.resourceId ?? undefined },
    });
    return connectionOf(page, OperationObject.from);
  }

  @Query(() => UserMessageConnection, {
    description: 'Messages about failures in your project (in every project for admins) that have not expired, newest first.',
  })
  async messages(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string,
    @Arg('last', () => Int, { nullable: true, description: backwardArgs.last('messages') }) last?: number,
    @Arg('before', () => String, { nullable: true, description: backwardArgs.before }) before?: string,
    @Arg('filter', () => UserMessageFilter, { nullable: true, description: 'Only messages about this resource.' }) filter?: UserMessageFilter,
  ): Promise<UserMessageConnection> {
    const page = await ctx.ports.reads.messages(ctx.principal, {
      first,
      after,
      last,
      before,
      filter: { resourceType: filter?.resourceType ?? undefined, resourceId: filter?.resourceId ?? undefined },
    });
    return connectionOf(page, UserMessageObject.from);
  }

  @Subscription(() => [PoolObject], {
    description: 'Every pool now, then the whole list again after each pool heartbeat (a few times a second at most) and when a pool turns DOWN (admins only).',
    subscribe: ({ context }: SubscribeData<Record<string, never>>) => context.ports.cluster.watchPools(context.principal),
  })
  poolsChanged(@Root() snapshot: PoolSnapshot, @Ctx() ctx: Context): PoolObject[] {
    return toPools(snapshot.stats, snapshot.allocated, ctx.ports.cluster.heartbeatSeconds);
  }

  @Subscription(() => [ServiceObject], {
    description: 'Every service now, then the whole list again when one sends a heartbeat, appears, or turns DOWN (admins only).',
    subscribe: ({ context }: SubscribeData<Record<string, never>>) => context.ports.cluster.watchServices(context.principal),
  })
  servicesChanged(@Root() beats: ServiceHeartbeat[]): ServiceObject[] {
    return toServices(beats);
  }

  @Subscription(() => OperationObject, {
    description: 'Every operation you may see, each time it is created or changes (PENDING, RUNNING, then SUCCEEDED or FAILED), that matches the filter.',
    subscribe: ({ args, context }: SubscribeData<{ filter?: OperationFilter }>) => context.ports.watches.operations(context.principal, args.filter),
  })
  operationEvents(
    @Root() ev: LiveOperation,
    @Arg('filter', () => OperationFilter, { nullable: true, description: 'Only operations that meet these conditions.' }) _filter?: OperationFilter,
  ): OperationObject {
    return operationFromView(ev.operation);
  }

  @Subscription(() => UserMessageObject, {
    description: 'Every user message you may see, as it is added, that matches the filter.',
    subscribe: ({ args, context }: SubscribeData<{ filter?: UserMessageFilter }>) => context.ports.watches.messages(context.principal, args.filter),
  })
  messageAdded(
    @Root() ev: LiveMessage,
    @Arg('filter', () => UserMessageFilter, { nullable: true, description: 'Only messages about this resource.' }) _filter?: UserMessageFilter,
  ): UserMessageObject {
    return messageFromView(ev.message);
  }
}
