/** Admin actions (reset-state, force delete) and their audit trail. Admins only. */
import { Arg, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from './context.js';
import {
  ForceDeleteVolumeInput,
  ForceDeleteVolumePayload,
  ResetSnapshotStatusInput,
  ResetSnapshotStatusPayload,
  ResetVolumeStatusInput,
  ResetVolumeStatusPayload,
  StatusAuditConnection,
  StatusAuditFilter,
  StatusAuditObject,
} from './types/admin.js';
import { OperationObject } from './types/operation.js';
import { SnapshotObject } from './types/snapshot.js';
import { VolumeObject } from './types/volume.js';
import { backwardArgs, connectionOf } from './types/relay.js';


@Resolver(() => VolumeObject)
export class AdminResolver {
  @Mutation(() => ResetVolumeStatusPayload, {
    description:
      'Admins only. Records a volume\'s status by hand (Cinder\'s reset-state) when it is stuck or wrong, after checking the host: to AVAILABLE ' +
      '(only for a volume placed on a pool) or to an ERROR state, from whatever status it is in now. Starts no work and touches no storage; ' +
      'writes a StatusAudit record (`Volume.statusAudits`, `statusAudits`) in the same transaction and announces the change on `volumeChanged`. ' +
      'Errors: BAD_USER_INPUT (a status a reset cannot honestly claim: attachment states, transitional states, DELETED, AVAILABLE for a volume never placed; or a missing or too long reason), ' +
      'NOT_FOUND, INVALID_STATE (the volume is DELETED), CONFLICT (its status changed while the request ran), FORBIDDEN (not an admin), UNAUTHENTICATED.',
  })
  async resetVolumeStatus(
    @Arg('input', () => ResetVolumeStatusInput, { description: 'The volume, its new status and why.' }) input: ResetVolumeStatusInput,
    @Ctx() ctx: Context,
  ): Promise<ResetVolumeStatusPayload> {
    const r = await ctx.ports.admin.resetVolumeStatus(ctx.principal, input);
    return { volume: VolumeObject.from(r.volume), audit: StatusAuditObject.from(r.audit) };
  }

  @Mutation(() => ResetSnapshotStatusPayload, {
    description:
      'Admins only. Records a snapshot\'s status by hand (Cinder\'s reset-state): to AVAILABLE, ERROR or ERROR_DELETING, from whatever status it is in now. ' +
      'Starts no work; writes a StatusAudit record in the same transaction and announces the change on `snapshotChanged`. ' +
      'Errors: BAD_USER_INPUT (CREATING, DELETING or DELETED asked, or a missing or too long reason), NOT_FOUND, INVALID_STATE (the snapshot is DELETED), CONFLICT, FORBIDDEN (not an admin), UNAUTHENTICATED.',
  })
  async resetSnapshotStatus(
    @Arg('input', () => ResetSnapshotStatusInput, { description: 'The snapshot, its new status and why.' }) input: ResetSnapshotStatusInput,
    @Ctx() ctx: Context,
  ): Promise<ResetSnapshotStatusPayload> {
    const r = await ctx.ports.admin.resetSnapshotStatus(ctx.principal, input);
    return { snapshot: SnapshotObject.from(r.snapshot), audit: StatusAuditObject.from(r.audit) };
  }

  @Mutation(() => ForceDeleteVolumePayload, {
    description:
      'Admins only. Deletes a volume in any status but DELETED, e.g. stuck CREATING or DELETING, or in an ERROR state, with its snapshots: it goes DELETING ' +
      '(its snapshots too) and its host removes the image and the snapshots, then DELETED; a volume that never reached a pool is DELETED at once and its capacity released. ' +
      'Writes a StatusAudit record (action force_delete) in the same transaction. A host that is down does the delete when it is back. ' +
      'Errors: BAD_USER_INPUT (missing or too long reason), NOT_FOUND, INVALID_STATE (already DELETED, or attachments not DETACHED: names them; forceDetach them first), CONFLICT (it changed while the request ran), FORBIDDEN (not an admin), UNAUTHENTICATED.',
  })
  async forceDeleteVolume(
    @Arg('input', () => ForceDeleteVolumeInput, { description: 'The volume to delete, and why.' }) input: ForceDeleteVolumeInput,
    @Ctx() ctx: Context,
  ): Promise<ForceDeleteVolumePayload> {
    const r = await ctx.ports.admin.forceDeleteVolume(ctx.principal, input);
    return { volume: VolumeObject.from(r.volume), operation: OperationObject.from(r.operation), audit: StatusAuditObject.from(r.audit) };
  }

  @Query(() => StatusAuditConnection, {
    description:
      'Admins only (FORBIDDEN otherwise). Status changes made by hand (resets, force deletes) in every project, newest first, one page at a time (Relay): ' +
      'pass `pageInfo.endCursor` as `after` for the next page, or `pageInfo.startCursor` as `before` (with `last`) for the one before. A bad `first`, `after`, `last`, `before` or `filter.resourceType`, or both directions at once, is BAD_USER_INPUT.',
  })
  async statusAudits(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size: how many records to return, 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: '`pageInfo.endCursor` of the previous page; omit for the first page.' }) after?: string,
    @Arg('last', () => Int, { nullable: true, description: backwardArgs.last('records') }) last?: number,
    @Arg('before', () => String, { nullable: true, description: backwardArgs.before }) before?: string,
    @Arg('filter', () => StatusAuditFilter, { nullable: true, description: 'Only records matching all its conditions; default every record.' }) filter?: StatusAuditFilter,
  ): Promise<StatusAuditConnection> {
    const page = await ctx.ports.reads.audits(ctx.principal, {
      first,
      after,
      last,
      before,
      filter: { resourceType: filter?.resourceType ?? undefined, resourceId: filter?.resourceId ?? undefined },
    });
    return connectionOf(page, StatusAuditObject.from);
  }

  @FieldResolver(() => [StatusAuditObject], {
    name: 'statusAudits',
    description:
      'Status changes made to this volume by hand by admins (resets, force deletes), newest first. Admins only: always empty for other tokens, ' +
      'so a member\'s query does not fail because of it.',
  })
  async volumeStatusAudits(@Root() v: VolumeObject, @Ctx() ctx: Context): Promise<StatusAuditObject[]> {
    if (ctx.principal?.role !== 'admin') return [];
    return (await ctx.loaders.volumeAuditsOf(v.id)).map(StatusAuditObject.from);
  }
}
