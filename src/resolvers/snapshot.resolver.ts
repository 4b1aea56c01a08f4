import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { requirePrincipal } from '../domain/access.js';
import type { Context } from './context.js';
import type { SnapshotResult } from './ports/snapshots.js';
import { OperationObject, UserMessageObject } from './types/operation.js';
import {
  CreateSnapshotInput,
  CreateSnapshotPayload,
  DeleteSnapshotInput,
  DeleteSnapshotPayload,
  UpdateSnapshotInput,
  UpdateSnapshotPayload,
} from './types/snapshot-inputs.js';
import { SnapshotConnection, SnapshotFilter, SnapshotObject } from './types/snapshot.js';
import { VolumeObject } from './types/volume.js';
import { backwardArgs, connectionOf } from './types/relay.js';

const payload = (r: Omit<SnapshotResult, 'operation'> & { operation: SnapshotResult['operation'] | null; alreadyDeleted?: boolean }) => ({
  snapshot: SnapshotObject.from(r.snapshot),
  operation: r.operation && OperationObject.from(r.operation),
  alreadyDeleted: r.alreadyDeleted ?? false,
});

@Resolver(() => SnapshotObject)
export class SnapshotResolver {
  @Query(() => SnapshotObject, {
    nullable: true,
    description: 'A snapshot by id, or null when it does not exist, is DELETED, or belongs to another project (unless you are an admin). Needs a token (UNAUTHENTICATED otherwise).',
  })
  async snapshot(@Arg('id', () => ID, { description: 'Id of the snapshot.' }) id: string, @Ctx() ctx: Context): Promise<SnapshotObject | null> {
    const s = await ctx.ports.snapshots.visible(requirePrincipal(ctx.principal), id);
    return s ? SnapshotObject.from(s) : null;
  }

  @Query(() => SnapshotConnection, {
    description:
      'Your project\'s snapshots (every project\'s for admins), oldest first, one page at a time (Relay): pass `pageInfo.endCursor` as `after` for the next page, or `pageInfo.startCursor` as `before` (with `last`) for the one before. ' +
      'DELETED snapshots are left out unless the filter asks for them. A bad `first`, `after`, `last` or `before`, both directions at once (`first` with `last`), or a `filter.metadata` that is not an object of string values, is BAD_USER_INPUT.',
  })
  async snapshots(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size: how many snapshots to return, 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: '`pageInfo.endCursor` of the previous page; omit for the first page.' }) after?: string,
    @Arg('last', () => Int, { nullable: true, description: backwardArgs.last('snapshots') }) last?: number,
    @Arg('before', () => String, { nullable: true, description: backwardArgs.before }) before?: string,
    @Arg('filter', () => SnapshotFilter, { nullable: true, description: 'Only snapshots matching all its conditions; default every snapshot but DELETED ones.' }) filter?: SnapshotFilter,
  ): Promise<SnapshotConnection> {
    const page = await ctx.ports.reads.snapshots(ctx.principal, {
      first,
      after,
      last,
      before,
      filter: {
        status: filter?.status as SnapshotObject['status'][] | undefined,
        volumeId: filter?.volumeId,
        name: filter?.name,
        projectId: filter?.projectId,
        metadata: filter?.metadata,
      },
    });
    return connectionOf(page, SnapshotObject.from);
  }

  @Mutation(() => CreateSnapshotPayload, {
    description:
      'Starts taking a snapshot of an AVAILABLE volume and returns at once with the snapshot CREATING and its operation; the volume keeps its status ' +
      '(its `version` grows by one). The snapshot becomes AVAILABLE, or ERROR with a message in `Snapshot.messages`. ' +
      'Errors: NOT_FOUND (volume), INVALID_STATE (the volume is not AVAILABLE), BAD_USER_INPUT, CONFLICT (idempotencyKey reused with other parameters or its resource deleted, or the volume changed meanwhile), FORBIDDEN (reader token), UNAUTHENTICATED.',
  })
  async createSnapshot(@Arg('input', () => CreateSnapshotInput, { description: 'The snapshot to take.' }) input: CreateSnapshotInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.snapshots.create(ctx.principal, input));
  }

  @Mutation(() => UpdateSnapshotPayload, {
    description:
      'Renames a snapshot or replaces its description or metadata, at once (no storage work), in any state but DELETING and DELETED. ' +
      'Errors: NOT_FOUND, CONFLICT (expectedVersion is stale, or idempotencyKey used for another request), INVALID_STATE, BAD_USER_INPUT, FORBIDDEN (reader token), UNAUTHENTICATED.',
  })
  async updateSnapshot(@Arg('input', () => UpdateSnapshotInput, { description: 'The snapshot and what to change.' }) input: UpdateSnapshotInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.snapshots.update(ctx.principal, input));
  }

  @Mutation(() => DeleteSnapshotPayload, {
    description:
      'Starts deleting a snapshot that is AVAILABLE, ERROR or ERROR_DELETING: it goes DELETING, then DELETED (or ERROR_DELETING; delete again to retry). ' +
      'Errors: NOT_FOUND, INVALID_STATE (says the current state), CONFLICT, FORBIDDEN, UNAUTHENTICATED.',
  })
  async deleteSnapshot(@Arg('input', () => DeleteSnapshotInput, { description: 'The snapshot to delete.' }) input: DeleteSnapshotInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.snapshots.delete(ctx.principal, input));
  }

  @FieldResolver(() => VolumeObject, { nullable: true, description: 'The volume it was taken of; null when that volume is DELETED or not visible to you.' })
  async volume(@Root() s: SnapshotObject, @Ctx() ctx: Context): Promise<VolumeObject | null> {
    const v = await ctx.loaders.visibleVolume(requirePrincipal(ctx.principal), s.volumeId);
    return v ? VolumeObject.from(v) : null;
  }

  @FieldResolver(() => [UserMessageObject], { description: 'Messages about failures of work on this snapshot (what failed, why, what to do), newest first; kept 30 days.' })
  async messages(@Root() s: SnapshotObject, @Ctx() ctx: Context): Promise<UserMessageObject[]> {
    return (await ctx.loaders.messagesOf('snapshot', s.id)).map(UserMessageObject.from);
  }
}
