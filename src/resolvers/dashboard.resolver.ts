/**
 * What live dashboards read: operations and user messages (lists and live events), and
 * the pools and services as they change (admins). Authorised like every other field.
 */
import type { OperationKind } from '../domain/operations.js';
import type { FilterQuery } from '@mikro-orm/core';
import { Arg, Ctx, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { LiveMessage, LiveOperation, OperationView, ServiceHeartbeat, UserMessageView } from '../bus/index.js';
import { Operation, UserMessage } from '../db/index.js';
import { canSee, checkPageSize, projectScope, Problems, requireAdmin, requirePrincipal } from '../domain/index.js';
import { toPools, toServices } from './cluster-views.js';
import type { Context, PoolSnapshot } from './context.js';
import {
  messageFromView,
  OperationConnection,
  OperationFilter,
  operationFromView,
  UserMessageConnection,
  UserMessageFilter,
} from './types/dashboard.js';
import { OperationType, UserMessageType } from './types/operation.js';
import { Pool, Service } from './types/system.js';
import { decodeCursor, encodeCursor } from './volume.resolver.js';
import { connectionOf } from './types/relay.js';

interface SubscribeData<A> {
  args: A;
  context: Context;
}

function operationMatches(filter: OperationFilter | undefined, op: OperationView): boolean {
  if (!filter) return true;
  if (filter.status?.length && !(filter.status as string[]).includes(op.status)) return false;
  if (filter.kind !== undefined && filter.kind !== null && filter.kind !== op.kind) return false;
  return true;
}

function messageMatches(filter: UserMessageFilter | undefined, m: UserMessageView): boolean {
  if (!filter) return true;
  if (filter.resourceType !== undefined && filter.resourceType !== null && filter.resourceType !== m.resourceType) return false;
  if (filter.resourceId !== undefined && filter.resourceId !== null && filter.resourceId !== m.resourceId) return false;
  return true;
}

/** Keyset condition for "after this cursor" in newest-first order. */
function olderThan(after: string): FilterQuery<{ createdAt: Date; id: string }> {
  const c = decodeCursor(after);
  return { $or: [{ createdAt: { $lt: c.createdAt } }, { createdAt: c.createdAt, id: { $lt: c.id } }] };
}

function pageSize(first: number | undefined): number {
  const problems = new Problems();
  const size = checkPageSize(problems, first);
  problems.throwIfAny();
  return size;
}

@Resolver()
export class DashboardResolver {
  @Query(() => OperationConnection, { description: 'Operations of your project (of every project for admins), newest first.' })
  async operations(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string,
    @Arg('filter', () => OperationFilter, { nullable: true, description: 'Only operations that meet these conditions.' }) filter?: OperationFilter,
  ): Promise<OperationConnection> {
    const p = requirePrincipal(ctx.principal);
    const size = pageSize(first);
    const where: FilterQuery<Operation> = {};
    const scope = projectScope(p);
    if (scope) where.projectId = scope;
    if (filter?.status?.length) where.status = { $in: filter.status as string[] as Operation['status'][] };
    if (filter?.kind !== undefined && filter.kind !== null) where.kind = filter.kind as OperationKind; // an unknown kind matches nothing
    const em = ctx.services.db.fork();
    const totalCount = await em.count(Operation, where);
    const rows = await em.find(Operation, after ? { $and: [where, olderThan(after) as FilterQuery<Operation>] } : where, {
      orderBy: { createdAt: 'desc', id: 'desc' },
      limit: size + 1,
      disableIdentityMap: true,
    });
    const edges = rows.slice(0, size).map((o) => ({ node: OperationType.from(o), cursor: encodeCursor(o.createdAt, o.id) }));
    return connectionOf(edges, rows.length > size, totalCount);
  }

  @Query(() => UserMessageConnection, {
    description: 'Messages about failures in your project (in every project for admins) that have not expired, newest first.',
  })
  async messages(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string,
    @Arg('filter', () => UserMessageFilter, { nullable: true, description: 'Only messages about this resource.' }) filter?: UserMessageFilter,
  ): Promise<UserMessageConnection> {
    const p = requirePrincipal(ctx.principal);
    const size = pageSize(first);
    const where: FilterQuery<UserMessage> = { expiresAt: { $gt: new Date() } };
    const scope = projectScope(p);
    if (scope) where.projectId = scope;
    if (filter?.resourceType !== undefined && filter.resourceType !== null) where.resourceType = filter.resourceType;
    if (filter?.resourceId !== undefined && filter.resourceId !== null) where.resourceId = filter.resourceId;
    const em = ctx.services.db.fork();
    const totalCount = await em.count(UserMessage, where);
    const rows = await em.find(UserMessage, after ? { $and: [where, olderThan(after) as FilterQuery<UserMessage>] } : where, {
      orderBy: { createdAt: 'desc', id: 'desc' },
      limit: size + 1,
      disableIdentityMap: true,
    });
    const edges = rows.slice(0, size).map((m) => ({ node: UserMessageType.from(m), cursor: encodeCursor(m.createdAt, m.id) }));
    return connectionOf(edges, rows.length > size, totalCount);
  }

  @Subscription(() => [Pool], {
    description: 'Every pool now, then the whole list again after each pool heartbeat (a few times a second at most) and when a pool turns DOWN (admins only).',
    subscribe: ({ context }: SubscribeData<Record<string, never>>) => {
      requireAdmin(context.principal, 'Watching pools');
      return context.services.cluster.pools();
    },
  })
  poolsChanged(@Root() snapshot: PoolSnapshot, @Ctx() ctx: Context): Pool[] {
    return toPools(snapshot.stats, snapshot.allocated, ctx.services.heartbeatSeconds);
  }

  @Subscription(() => [Service], {
    description: 'Every service now, then the whole list again when one sends a heartbeat, appears, or turns DOWN (admins only).',
    subscribe: ({ context }: SubscribeData<Record<string, never>>) => {
      requireAdmin(context.principal, 'Watching services');
      return context.services.cluster.services();
    },
  })
  servicesChanged(@Root() beats: ServiceHeartbeat[]): Service[] {
    return toServices(beats);
  }

  @Subscription(() => OperationType, {
    description: 'Every operation you may see, each time it is created or changes (PENDING, RUNNING, then SUCCEEDED or FAILED), that matches the filter.',
    subscribe: ({ args, context }: SubscribeData<{ filter?: OperationFilter }>) => {
      const p = requirePrincipal(context.principal);
      return context.services.live.listenOperations((ev) => canSee(p, ev.operation.projectId) && operationMatches(args.filter, ev.operation));
    },
  })
  operationEvents(
    @Root() ev: LiveOperation,
    @Arg('filter', () => OperationFilter, { nullable: true, description: 'Only operations that meet these conditions.' }) _filter?: OperationFilter,
  ): OperationType {
    return operationFromView(ev.operation);
  }

  @Subscription(() => UserMessageType, {
    description: 'Every user message you may see, as it is added, that matches the filter.',
    subscribe: ({ args, context }: SubscribeData<{ filter?: UserMessageFilter }>) => {
      const p = requirePrincipal(context.principal);
      return context.services.live.listenMessages((ev) => canSee(p, ev.message.projectId) && messageMatches(args.filter, ev.message));
    },
  })
  messageAdded(
    @Root() ev: LiveMessage,
    @Arg('filter', () => UserMessageFilter, { nullable: true, description: 'Only messages about this resource.' }) _filter?: UserMessageFilter,
  ): UserMessageType {
    return messageFromView(ev.message);
  }
}
