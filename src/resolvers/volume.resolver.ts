import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { listVolumes, messagesFor } from '../db/index.js';
import { BadInputError, checkPageSize, Problems } from '../domain/index.js';
import { projectScope, requirePrincipal } from '../domain/access.js';
import type { Context } from './context.js';
import { OperationType, UserMessageType } from './types/operation.js';
import {
  CreateVolumeInput,
  CreateVolumePayload,
  DeleteVolumeInput,
  DeleteVolumePayload,
  ExtendVolumeInput,
  ExtendVolumePayload,
  UpdateVolumeInput,
  UpdateVolumePayload,
} from './types/volume-inputs.js';
import { VolumeConnection, VolumeFilter, VolumeType } from './types/volume.js';
import type { VolumeResult } from './services.js';

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string];
    const createdAt = new Date(at);
    if (typeof id !== 'string' || Number.isNaN(createdAt.getTime())) throw new Error('bad cursor');
    return { createdAt, id };
  } catch {
    throw new BadInputError(['after is not a cursor this API gave out; pass pageInfo.endCursor of the previous page']);
  }
}

const payload = (r: VolumeResult) => ({ volume: VolumeType.from(r.volume), operation: OperationType.from(r.operation) });

@Resolver(() => VolumeType)
export class VolumeResolver {
  @Query(() => VolumeType, { nullable: true, description: 'A volume, or null when it does not exist or is not visible to you.' })
  async volume(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<VolumeType | null> {
    const v = await ctx.services.volumes.visible(requirePrincipal(ctx.principal), id);
    return v ? VolumeType.from(v) : null;
  }

  @Query(() => VolumeConnection, { description: 'Your project\'s volumes (all projects\' for admins), oldest first.' })
  async volumes(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string,
    @Arg('filter', () => VolumeFilter, { nullable: true }) filter?: VolumeFilter,
  ): Promise<VolumeConnection> {
    const p = requirePrincipal(ctx.principal);
    const problems = new Problems();
    const size = checkPageSize(problems, first);
    problems.throwIfAny();
    const page = await listVolumes(ctx.services.db.fork(), {
      projectId: projectScope(p),
      filter: { status: filter?.status, name: filter?.name, availabilityZone: filter?.availabilityZone },
      first: size,
      after: after ? decodeCursor(after) : undefined,
    });
    const edges = page.rows.map((v) => ({ node: VolumeType.from(v), cursor: encodeCursor(v.createdAt, v.id) }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: page.totalCount };
  }

  @Mutation(() => CreateVolumePayload, { description: 'Starts creating a volume; it is AVAILABLE (or ERROR, with a message) when the operation ends.' })
  async createVolume(@Arg('input', () => CreateVolumeInput) input: CreateVolumeInput, @Ctx() ctx: Context) {
    return payload(await ctx.services.volumes.create(ctx.principal, input));
  }

  @Mutation(() => UpdateVolumePayload, { description: 'Renames a volume or replaces its description or metadata.' })
  async updateVolume(@Arg('input', () => UpdateVolumeInput) input: UpdateVolumeInput, @Ctx() ctx: Context) {
    return payload(await ctx.services.volumes.update(ctx.principal, input));
  }

  @Mutation(() => DeleteVolumePayload, { description: 'Starts deleting a volume (AVAILABLE or an ERROR state); it ends DELETED.' })
  async deleteVolume(@Arg('input', () => DeleteVolumeInput) input: DeleteVolumeInput, @Ctx() ctx: Context) {
    return payload(await ctx.services.volumes.delete(ctx.principal, input));
  }

  @Mutation(() => ExtendVolumePayload, { description: 'Grows an AVAILABLE volume; it is AVAILABLE at the new size when the operation ends.' })
  async extendVolume(@Arg('input', () => ExtendVolumeInput) input: ExtendVolumeInput, @Ctx() ctx: Context) {
    return payload(await ctx.services.volumes.extend(ctx.principal, input));
  }

  @FieldResolver(() => String, { nullable: true, description: 'Storage host holding the volume (admins only; null for others).' })
  host(@Root() v: VolumeType, @Ctx() ctx: Context): string | null {
    return ctx.principal?.role === 'admin' ? v.hostValue : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Pool holding the volume (admins only; null for others).' })
  pool(@Root() v: VolumeType, @Ctx() ctx: Context): string | null {
    return ctx.principal?.role === 'admin' ? v.poolValue : null;
  }

  @FieldResolver(() => [UserMessageType], { description: 'Messages about failures of this volume, newest first.' })
  async messages(@Root() v: VolumeType, @Ctx() ctx: Context): Promise<UserMessageType[]> {
    return (await messagesFor(ctx.services.db.fork(), 'volume', v.id)).map(UserMessageType.from);
  }
}
