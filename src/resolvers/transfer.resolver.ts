/** Volume transfers (issue 12): create, accept, cancel, and the pending ones. */
import { Arg, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from './context.js';
import { backwardArgs, connectionOf } from './types/relay.js';
import {
  AcceptVolumeTransferInput,
  AcceptVolumeTransferPayload,
  CreateVolumeTransferInput,
  CreateVolumeTransferPayload,
  DeleteVolumeTransferInput,
  DeleteVolumeTransferPayload,
  VolumeTransferConnection,
  VolumeTransferObject,
} from './types/transfer.js';
import { VolumeObject } from './types/volume.js';

@Resolver()
export class TransferResolver {
  @Mutation(() => CreateVolumeTransferPayload, {
    description:
      'Offers a volume to another project (Cinder\'s volume transfer): it goes AWAITING_TRANSFER, and the payload holds the transfer\'s id and its authKey, this once. ' +
      'Give both to the receiving project. Errors: NOT_FOUND, INVALID_STATE (not AVAILABLE, or it has attachments: names them), BAD_USER_INPUT, FORBIDDEN (readers), UNAUTHENTICATED.',
  })
  async createVolumeTransfer(@Arg('input', () => CreateVolumeTransferInput, { description: 'The volume to offer.' }) input: CreateVolumeTransferInput, @Ctx() ctx: Context): Promise<CreateVolumeTransferPayload> {
    const r = await ctx.ports.transfers.create(ctx.principal, input);
    return { transfer: VolumeTransferObject.from(r.transfer), authKey: r.authKey, volume: VolumeObject.from(r.volume) };
  }

  @Mutation(() => AcceptVolumeTransferPayload, {
    description:
      'Takes a volume offered by another project into yours, with its snapshots, in one transaction: they count against your quota from now on (QUOTA_EXCEEDED otherwise) and no longer against the giver\'s. ' +
      'The giver\'s subscriptions see the volume DELETED, yours see it CREATED. Errors: NOT_FOUND (no such pending transfer, expired, or a wrong authKey: one answer), QUOTA_EXCEEDED, ' +
      'BAD_USER_INPUT (your own project\'s transfer: cancel it instead), FORBIDDEN (readers), UNAUTHENTICATED.',
  })
  async acceptVolumeTransfer(@Arg('input', () => AcceptVolumeTransferInput, { description: 'The transfer and its key.' }) input: AcceptVolumeTransferInput, @Ctx() ctx: Context): Promise<AcceptVolumeTransferPayload> {
    const r = await ctx.ports.transfers.accept(ctx.principal, input);
    return { transfer: VolumeTransferObject.from(r.transfer), volume: VolumeObject.from(r.volume) };
  }

  @Mutation(() => DeleteVolumeTransferPayload, {
    description: 'Cancels a pending transfer of your project: the volume is AVAILABLE again. Errors: NOT_FOUND, INVALID_STATE (already accepted, cancelled or expired), FORBIDDEN (readers), UNAUTHENTICATED.',
  })
  async deleteVolumeTransfer(@Arg('input', () => DeleteVolumeTransferInput, { description: 'The transfer to cancel.' }) input: DeleteVolumeTransferInput, @Ctx() ctx: Context): Promise<DeleteVolumeTransferPayload> {
    const r = await ctx.ports.transfers.delete(ctx.principal, input);
    return { transfer: VolumeTransferObject.from(r.transfer), volume: r.volume ? VolumeObject.from(r.volume) : null, alreadyDeleted: r.alreadyDeleted };
  }

  @Query(() => VolumeTransferConnection, {
    description: 'Pending transfers of your project (admins: of every project), newest first, one page at a time (Relay). A bad `first`, `after`, `last` or `before`, or both directions at once (`first` with `last`), is BAD_USER_INPUT.',
  })
  async volumeTransfers(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size: 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: '`pageInfo.endCursor` of the previous page; omit for the first page.' }) after?: string,
    @Arg('last', () => Int, { nullable: true, description: backwardArgs.last('transfers') }) last?: number,
    @Arg('before', () => String, { nullable: true, description: backwardArgs.before }) before?: string,
  ): Promise<VolumeTransferConnection> {
    return connectionOf(await ctx.ports.transfers.list(ctx.principal, { first, after, last, before }), VolumeTransferObject.from);
  }
}
