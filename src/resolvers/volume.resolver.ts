import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from './context.js';
import { OperationObject, UserMessageObject } from './types/operation.js';
import {
  CreateVolumeInput,
  CreateVolumePayload,
  DeleteVolumeInput,
  DeleteVolumePayload,
  ExtendVolumeInput,
  ExtendVolumePayload,
  RevertVolumeToSnapshotInput,
  RevertVolumeToSnapshotPayload,
  UpdateVolumeInput,
  UpdateVolumePayload,
} from './types/volume-inputs.js';
import { VolumeConnection, VolumeFilter, VolumeObject } from './types/volume.js';
import { SnapshotObject } from './types/snapshot.js';
import type { VolumeChangeResult } from './ports/volumes.js';
import { backwardArgs, connectionOf } from './types/relay.js';

const payload = (r: VolumeChangeResult & { alreadyDeleted?: boolean }) => ({
  volume: VolumeObject.from(r.volume),
  operation: r.operation && OperationObject.from(r.operation),
  alreadyDeleted: r.alreadyDeleted ?? false,
});

@Resolver(() => VolumeObject)
export class VolumeResolver {
  @Query(() => VolumeObject, {
    nullable: true,
    description: 'A volume by id, or null when it does not exist, is DELETED, or belongs to another project (unless you are an admin). Needs a token (UNAUTHENTICATED otherwise).',
  })
  async volume(@Arg('id', () => ID, { description: 'Id of the volume.' }) id: string, @Ctx() ctx: Context): Promise<VolumeObject | null> {
    const v = await ctx.ports.reads.volume(ctx.principal, id);
    return v ? VolumeObject.fromView(v) : null;
  }

  @Query(() => VolumeConnection, {
    description:
      'Your project\'s volumes (every project\'s for admins), oldest first, one page at a time (Relay): pass `pageInfo.endCursor` as `after` for the next page, or `pageInfo.startCursor` as `before` (with `last`) for the one before. ' +
      'DELETED volumes are left out unless the filter asks for them. A bad `first`, `after`, `last` or `before`, both directions at once (`first` with `last`), or a `filter.metadata` that is not an object of string values, is BAD_USER_INPUT.',
  })
  async volumes(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size: how many volumes to return, 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: '`pageInfo.endCursor` of the previous page; omit for the first page.' }) after?: string,
    @Arg('last', () => Int, { nullable: true, description: backwardArgs.last('volumes') }) last?: number,
    @Arg('before', () => String, { nullable: true, description: backwardArgs.before }) before?: string,
    @Arg('filter', () => VolumeFilter, { nullable: true, description: 'Only volumes matching all its conditions; default every volume but DELETED ones.' }) filter?: VolumeFilter,
  ): Promise<VolumeConnection> {
    const page = await ctx.ports.reads.volumes(ctx.principal, {
      first,
      after,
      last,
      before,
      filter: { status: filter?.status, name: filter?.name, availabilityZone: filter?.availabilityZone, projectId: filter?.projectId, metadata: filter?.metadata },
    });
    return connectionOf(page, VolumeObject.fromView);
  }

  @Mutation(() => CreateVolumePayload, {
    description:
      'Starts creating a volume in your project and returns at once with the volume CREATING and its operation. The scheduler picks a pool; ' +
      'a volume created from a snapshot (`snapshotId`) or cloned from a volume (`sourceVolumeId`) goes on its source\'s pool (NO_VALID_BACKEND when that pool has no room); ' +
      'the volume becomes AVAILABLE, or ERROR with a message in `Volume.messages` (e.g. NO_VALID_BACKEND when no pool fits). ' +
      'Errors: BAD_USER_INPUT (every problem listed: both sources, no size for a blank volume, smaller than the source), NOT_FOUND (the source, or a volume type that does not exist or your project was not granted), INVALID_STATE (the source is not AVAILABLE), ' +
      'CONFLICT (idempotencyKey reused with other parameters, or its volume deleted), FORBIDDEN (reader token), UNAUTHENTICATED.',
  })
  async createVolume(@Arg('input', () => CreateVolumeInput, { description: 'The volume to create.' }) input: CreateVolumeInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.volumes.create(ctx.principal, input));
  }

  @Mutation(() => UpdateVolumePayload, {
    description:
      'Renames a volume or replaces its description or metadata, at once (no storage work), in any state but DELETING and DELETED. ' +
      'Errors: NOT_FOUND, CONFLICT (expectedVersion is stale, or idempotencyKey used for another request), INVALID_STATE, BAD_USER_INPUT, FORBIDDEN (reader token), UNAUTHENTICATED.',
  })
  async updateVolume(@Arg('input', () => UpdateVolumeInput, { description: 'The volume and what to change.' }) input: UpdateVolumeInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.volumes.update(ctx.principal, input));
  }

  @Mutation(() => DeleteVolumePayload, {
    description:
      'Starts deleting a volume that is AVAILABLE or in an ERROR state: it goes DELETING, then DELETED (or ERROR_DELETING; delete again to retry). ' +
      'A volume that never reached a pool is DELETED at once. A volume with snapshots is INVALID_STATE unless `cascade: true`, which deletes them with it. ' +
      'Errors: NOT_FOUND, INVALID_STATE (says the current state, or how many snapshots it has), CONFLICT (it changed since read, e.g. a snapshot was taken), FORBIDDEN, UNAUTHENTICATED.',
  })
  async deleteVolume(@Arg('input', () => DeleteVolumeInput, { description: 'The volume to delete.' }) input: DeleteVolumeInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.volumes.delete(ctx.principal, input));
  }

  @Mutation(() => ExtendVolumePayload, {
    description:
      'Grows an AVAILABLE volume: it goes EXTENDING, then AVAILABLE at the new size. When its pool has no room it is AVAILABLE at the old size, ' +
      'with the operation FAILED and a message; a failure on the host leaves ERROR_EXTENDING. ' +
      'Errors: BAD_USER_INPUT (not larger, over 65536), NOT_FOUND, INVALID_STATE, CONFLICT (the volume changed, or idempotencyKey used for another request), FORBIDDEN, UNAUTHENTICATED.',
  })
  async extendVolume(@Arg('input', () => ExtendVolumeInput, { description: 'The volume and its new size.' }) input: ExtendVolumeInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.volumes.extend(ctx.principal, input));
  }

  @Mutation(() => RevertVolumeToSnapshotPayload, {
    description:
      'Puts the data of a volume\'s latest snapshot back into the volume (Cinder\'s revert to snapshot); the snapshot stays. The volume goes REVERTING, then AVAILABLE, ' +
      'or ERROR with a message in `Volume.messages` when the storage host failed. Only the latest snapshot (the newest not DELETED), AVAILABLE and of the volume\'s current size, and only an AVAILABLE volume. ' +
      'Errors: NOT_FOUND (volume or snapshot), BAD_USER_INPUT (the snapshot is of another volume), INVALID_STATE (volume or snapshot state, an older snapshot: says which is the latest, or the volume was extended since), CONFLICT, FORBIDDEN, UNAUTHENTICATED.',
  })
  async revertVolumeToSnapshot(
    @Arg('input', () => RevertVolumeToSnapshotInput, { description: 'The volume and the snapshot to revert it to.' }) input: RevertVolumeToSnapshotInput,
    @Ctx() ctx: Context,
  ) {
    return payload(await ctx.ports.volumes.revertToSnapshot(ctx.principal, input));
  }

  @FieldResolver(() => String, { nullable: true, description: 'Storage host holding the volume (admins only; null for others).' })
  host(@Root() v: VolumeObject, @Ctx() ctx: Context): string | null {
    return ctx.principal?.role === 'admin' ? v.hostValue : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Pool holding the volume (admins only; null for others).' })
  pool(@Root() v: VolumeObject, @Ctx() ctx: Context): string | null {
    return ctx.principal?.role === 'admin' ? v.poolValue : null;
  }

  @FieldResolver(() => [SnapshotObject], { description: 'Its snapshots that are not DELETED, oldest first.' })
  async snapshots(@Root() v: VolumeObject, @Ctx() ctx: Context): Promise<SnapshotObject[]> {
    return (await ctx.loaders.snapshotsOf(v.id)).map(SnapshotObject.from);
  }

  @FieldResolver(() => [UserMessageObject], { description: 'Messages about failures of work on this volume (what failed, why, what to do), newest first; kept 30 days.' })
  async messages(@Root() v: VolumeObject, @Ctx() ctx: Context): Promise<UserMessageObject[]> {
    return (await ctx.loaders.messagesOf('volume', v.id)).map(UserMessageObject.from);
  }
}
