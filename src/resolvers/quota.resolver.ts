/** Quota sets (issue 12): `quotaSet`, `Viewer.quotaSet`, and the admins' `updateQuotaSet` and `syncQuotaUsage`. */
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from './context.js';
import { StatusAuditObject } from './types/admin.js';
import { QuotaCorrectionObject, QuotaSetObject, SyncQuotaUsageInput, SyncQuotaUsagePayload, UpdateQuotaSetInput, UpdateQuotaSetPayload } from './types/quota.js';
import { ViewerObject } from './types/system.js';

@Resolver()
export class QuotaResolver {
  @Query(() => QuotaSetObject, {
    description:
      'A project\'s quota: each limit, with what is in use and reserved. Default: your token\'s project. Members and readers read their own project\'s; admins any project\'s. ' +
      'Errors: NOT_FOUND (no such project, or another project\'s without an admin token), UNAUTHENTICATED.',
  })
  async quotaSet(@Ctx() ctx: Context, @Arg('projectId', () => ID, { nullable: true, description: 'Id of the project; default your token\'s.' }) projectId?: string | null): Promise<QuotaSetObject> {
    return QuotaSetObject.from(await ctx.ports.quotas.quotaSet(ctx.principal, projectId));
  }

  @Mutation(() => UpdateQuotaSetPayload, {
    description:
      'Admins only. Sets a project\'s own limits (the others keep the defaults): a number, -1 for no limit, or null to go back to the default. ' +
      'A limit below what the project holds now is refused unless `force`. Audited (action update_quota_set). ' +
      'Errors: BAD_USER_INPUT (a limit below -1, no limit given), INVALID_STATE (below what is held, without force; names each), NOT_FOUND (no such project), FORBIDDEN, UNAUTHENTICATED.',
  })
  async updateQuotaSet(@Arg('input', () => UpdateQuotaSetInput, { description: 'The project and its new limits.' }) input: UpdateQuotaSetInput, @Ctx() ctx: Context): Promise<UpdateQuotaSetPayload> {
    const r = await ctx.ports.quotas.updateQuotaSet(ctx.principal, input);
    return { quotaSet: QuotaSetObject.from(r.quotaSet), audit: StatusAuditObject.from(r.audit) };
  }

  @Mutation(() => SyncQuotaUsagePayload, {
    description:
      'Admins only. Recounts a project\'s usage from its volumes, snapshots and backups and corrects the counters (they are kept by the database in the same transaction as every change, ' +
      'so this is for repairs after hand edits). Audited (action sync_quota_usage). Errors: NOT_FOUND, BAD_USER_INPUT, FORBIDDEN, UNAUTHENTICATED.',
  })
  async syncQuotaUsage(@Arg('input', () => SyncQuotaUsageInput, { description: 'The project to recount, and why.' }) input: SyncQuotaUsageInput, @Ctx() ctx: Context): Promise<SyncQuotaUsagePayload> {
    const r = await ctx.ports.quotas.syncQuotaUsage(ctx.principal, input);
    return { quotaSet: QuotaSetObject.from(r.quotaSet), corrections: r.corrections.map(QuotaCorrectionObject.from), audit: StatusAuditObject.from(r.audit) };
  }
}

@Resolver(() => ViewerObject)
export class ViewerQuotaResolver {
  @FieldResolver(() => QuotaSetObject, { description: 'Your project\'s quota: each limit with what is in use and reserved.' })
  async quotaSet(@Ctx() ctx: Context): Promise<QuotaSetObject> {
    return QuotaSetObject.from(await ctx.ports.quotas.quotaSet(ctx.principal));
  }
}
