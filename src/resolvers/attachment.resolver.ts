import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { LiveAttachment } from '../bus/index.js';
import { requirePrincipal } from '../domain/access.js';
import type { AttachmentStatus } from '../domain/attachment-states.js';
import type { AttachmentDeleteResult, AttachmentResult } from './ports/attachments.js';
import type { Context } from './context.js';
import { OperationObject, UserMessageObject } from './types/operation.js';
import { StatusAuditObject } from './types/admin.js';
import {
  AttachmentConnection,
  AttachmentFilter,
  AttachmentObject,
  CompleteAttachmentPayload,
  connectionInfoOf,
  ConnectionInfoObject,
  CreateAttachmentPayload,
  DeleteAttachmentPayload,
  ForceDetachPayload,
  UpdateAttachmentPayload,
} from './types/attachment.js';
import { AttachmentIdInput, CreateAttachmentInput, ForceDetachInput, UpdateAttachmentInput } from './types/attachment-inputs.js';
import { VolumeObject } from './types/volume.js';
import { backwardArgs, connectionOf } from './types/relay.js';

const payload = (r: AttachmentResult) => ({ attachment: AttachmentObject.from(r.attachment), operation: OperationObject.from(r.operation) });
const deleted = (r: AttachmentDeleteResult) => ({ attachment: AttachmentObject.from(r.attachment), operation: r.operation && OperationObject.from(r.operation), alreadyDeleted: r.alreadyDeleted });

const ERRORS = 'Errors: NOT_FOUND, INVALID_STATE (says the current state and the allowed ones), CONFLICT (it changed meanwhile), BAD_USER_INPUT, FORBIDDEN (reader token), UNAUTHENTICATED.';

@Resolver(() => AttachmentObject)
export class AttachmentResolver {
  @Query(() => AttachmentObject, { nullable: true, description: 'An attachment by id (DETACHED ones too), or null when it does not exist or belongs to another project (unless you are an admin).' })
  async attachment(@Arg('id', () => ID, { description: 'Id of the attachment.' }) id: string, @Ctx() ctx: Context): Promise<AttachmentObject | null> {
    const a = await ctx.ports.attachments.visible(requirePrincipal(ctx.principal), id);
    return a ? AttachmentObject.from(a) : null;
  }

  @Query(() => AttachmentConnection, {
    description: 'Your project\'s attachments (every project\'s for admins), oldest first, one page at a time (Relay). DETACHED ones are left out unless the filter asks for them.',
  })
  async attachments(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size: 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: '`pageInfo.endCursor` of the previous page; omit for the first page.' }) after?: string,
    @Arg('last', () => Int, { nullable: true, description: backwardArgs.last('attachments') }) last?: number,
    @Arg('before', () => String, { nullable: true, description: backwardArgs.before }) before?: string,
    @Arg('filter', () => AttachmentFilter, { nullable: true, description: 'Only attachments matching all its conditions; default every one but DETACHED.' }) filter?: AttachmentFilter,
  ): Promise<AttachmentConnection> {
    const page = await ctx.ports.reads.attachments(ctx.principal, {
      first,
      after,
      last,
      before,
      filter: { status: filter?.status as AttachmentStatus[] | undefined, volumeId: filter?.volumeId, instanceId: filter?.instanceId, projectId: filter?.projectId },
    });
    return connectionOf(page, AttachmentObject.from);
  }

  @Mutation(() => CreateAttachmentPayload, {
    description:
      'Attaches a volume to a consumer (Cinder\'s attachment create) and returns at once. With a `connector` the attachment is ATTACHING and the agent exports the volume: ' +
      'follow `attachmentChanged` (or the operation) until `connectionInfo` is set, connect with it, then call `completeAttachment`. Without a connector it is RESERVED until `updateAttachment`. ' +
      'The volume goes RESERVED/ATTACHING (a multiattach volume already IN_USE stays IN_USE). ' +
      'Errors: NOT_FOUND (volume), INVALID_STATE (the volume is not AVAILABLE, or is attached already and not multiattach: names the attachments), BAD_USER_INPUT (connector: IQN, IP, host…), ' +
      'CONFLICT (idempotencyKey reused with other parameters, or its attachment DETACHING or DETACHED), FORBIDDEN (reader token), UNAUTHENTICATED.',
  })
  async createAttachment(@Arg('input', () => CreateAttachmentInput, { description: 'The attachment to make.' }) input: CreateAttachmentInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.attachments.create(ctx.principal, input));
  }

  @Mutation(() => UpdateAttachmentPayload, {
    description: 'Gives a RESERVED attachment its connector: it goes ATTACHING and the agent exports the volume, as `createAttachment` with a connector does. ' + ERRORS,
  })
  async updateAttachment(@Arg('input', () => UpdateAttachmentInput, { description: 'The attachment and its connector.' }) input: UpdateAttachmentInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.attachments.update(ctx.principal, input));
  }

  @Mutation(() => CompleteAttachmentPayload, {
    description:
      'Says the consumer is connected (Cinder\'s attachment complete): ATTACHING with its `connectionInfo` set → ATTACHED, and the volume is IN_USE. Completing an ATTACHED attachment again changes nothing. ' +
      ERRORS,
  })
  async completeAttachment(@Arg('input', () => AttachmentIdInput, { description: 'The attachment.' }) input: AttachmentIdInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.attachments.complete(ctx.principal, input));
  }

  @Mutation(() => DeleteAttachmentPayload, {
    description:
      'Detaches: the agent removes the export (DETACHING → DETACHED, or ERROR_DETACHING; delete again to retry), then the volume\'s status is recomputed from its other attachments (AVAILABLE when none). ' +
      'An attachment never exported is DETACHED at once. ' +
      ERRORS,
  })
  async deleteAttachment(@Arg('input', () => AttachmentIdInput, { description: 'The attachment.' }) input: AttachmentIdInput, @Ctx() ctx: Context) {
    return deleted(await ctx.ports.attachments.delete(ctx.principal, input));
  }

  @Mutation(() => ForceDetachPayload, {
    description:
      'Admins only. Detaches an attachment in any state but DETACHED (also DETACHING: the removal is sent again), for cleanup; audited like `resetVolumeStatus`. ' +
      'Errors: NOT_FOUND, INVALID_STATE (DETACHED), BAD_USER_INPUT (reason), CONFLICT, FORBIDDEN (not an admin), UNAUTHENTICATED.',
  })
  async forceDetach(@Arg('input', () => ForceDetachInput, { description: 'The attachment and why.' }) input: ForceDetachInput, @Ctx() ctx: Context): Promise<ForceDetachPayload> {
    const r = await ctx.ports.attachments.forceDetach(ctx.principal, input);
    return { ...payload(r), audit: StatusAuditObject.from(r.audit) };
  }

  @Subscription(() => AttachmentObject, {
    description:
      'The attachment as it is now, then again after every change, until it is DETACHED (the last event). Over graphql-ws, like `volumeChanged`; NOT_FOUND when it is not visible to you.',
    subscribe: ({ args, context }: { args: { id: string }; context: Context }) => context.ports.watches.attachment(context.principal, args.id),
  })
  attachmentChanged(@Root() ev: LiveAttachment, @Arg('id', () => ID, { description: 'Id of the attachment to follow.' }) _id: string): AttachmentObject {
    return AttachmentObject.fromView(ev.attachment);
  }

  @FieldResolver(() => ConnectionInfoObject, {
    nullable: true,
    description:
      'How to connect (Cinder\'s connection_info), once the agent exported the volume; null before, and after detaching. `data.authPassword` is null unless you are a member of its project or an admin.',
  })
  async connectionInfo(@Root() a: AttachmentObject, @Ctx() ctx: Context): Promise<ConnectionInfoObject | null> {
    if (!a.connectionValue) return null;
    const p = requirePrincipal(ctx.principal);
    const password = a.chapUsernameValue ? await ctx.ports.attachments.chapSecretFor(p, a, (id) => ctx.loaders.attachment(id)) : null;
    return connectionInfoOf(a, password);
  }

  @FieldResolver(() => VolumeObject, { nullable: true, description: 'The volume attached; null when it is DELETED or not visible to you.' })
  async volume(@Root() a: AttachmentObject, @Ctx() ctx: Context): Promise<VolumeObject | null> {
    const v = await ctx.loaders.visibleVolume(requirePrincipal(ctx.principal), a.volumeId);
    return v ? VolumeObject.from(v) : null;
  }

  @FieldResolver(() => [UserMessageObject], { description: 'Messages about failures of work on this attachment (what failed, why, what to do), newest first; kept 30 days.' })
  async messages(@Root() a: AttachmentObject, @Ctx() ctx: Context): Promise<UserMessageObject[]> {
    return (await ctx.loaders.messagesOf('attachment', a.id)).map(UserMessageObject.from);
  }
}

@Resolver(() => VolumeObject)
export class VolumeAttachmentsResolver {
  @FieldResolver(() => [AttachmentObject], { description: 'Its attachments that are not DETACHED, oldest first.' })
  async attachments(@Root() v: VolumeObject, @Ctx() ctx: Context): Promise<AttachmentObject[]> {
    return (await ctx.loaders.attachmentsOf(v.id)).map(AttachmentObject.from);
  }
}
