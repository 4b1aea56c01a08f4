/** API tokens for admins: create (with an expiry), list, revoke. Members and readers get FORBIDDEN. */
import { Arg, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from './context.js';
import { backwardArgs, connectionOf } from './types/relay.js';
import {
  ApiTokenConnection,
  ApiTokenFilter,
  ApiTokenObject,
  CreateApiTokenInput,
  CreateApiTokenPayload,
  RevokeApiTokenInput,
  RevokeApiTokenPayload,
} from './types/token.js';

@Resolver()
export class TokenResolver {
  @Mutation(() => CreateApiTokenPayload, {
    description:
      'Admins only. Makes an API token for a project (created when new) with a role and, optionally, an expiry. The payload holds the secret, ' +
      'this once: Flint stores only its sha256. No idempotencyKey: a replay could not return the secret again; revoke a token you did not keep. ' +
      'Errors: BAD_USER_INPUT (project name, role, name, or an expiry not in the future), FORBIDDEN (not an admin), UNAUTHENTICATED.',
  })
  async createApiToken(
    @Arg('input', () => CreateApiTokenInput, { description: 'Project, role, label and expiry of the new token.' }) input: CreateApiTokenInput,
    @Ctx() ctx: Context,
  ): Promise<CreateApiTokenPayload> {
    const r = await ctx.ports.tokens.create(ctx.principal, { project: input.project, role: input.role, name: input.name ?? null, expiresAt: input.expiresAt ?? null });
    return { token: r.token, apiToken: ApiTokenObject.from(r.apiToken) };
  }

  @Query(() => ApiTokenConnection, {
    description:
      'Admins only (FORBIDDEN otherwise). API tokens of every project, newest first, one page at a time (Relay), without secrets or hashes: ' +
      'who they are for, their role, and when they were created, expire, were last used and were revoked. Revoked ones only with `filter.includeRevoked`. ' +
      'A bad `first`, `after`, `last` or `before`, or both directions at once (`first` with `last`), is BAD_USER_INPUT.',
  })
  async apiTokens(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size: how many tokens to return, 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: '`pageInfo.endCursor` of the previous page; omit for the first page.' }) after?: string,
    @Arg('last', () => Int, { nullable: true, description: backwardArgs.last('tokens') }) last?: number,
    @Arg('before', () => String, { nullable: true, description: backwardArgs.before }) before?: string,
    @Arg('filter', () => ApiTokenFilter, { nullable: true, description: 'Only tokens matching all its conditions; default every token not revoked.' }) filter?: ApiTokenFilter,
  ): Promise<ApiTokenConnection> {
    const page = await ctx.ports.tokens.list(ctx.principal, { first, after, last, before, filter: filter ?? null });
    const now = new Date();
    return connectionOf(page, (t) => ApiTokenObject.from(t, now));
  }

  @Mutation(() => RevokeApiTokenPayload, {
    description:
      'Admins only. Revokes a token: from now on every gateway refuses it (UNAUTHENTICATED) and closes the WebSockets it opened (close code 4403) within a second. ' +
      'Idempotent: revoking a revoked token returns it as it is. Errors: NOT_FOUND (no token with that id), FORBIDDEN (not an admin), UNAUTHENTICATED.',
  })
  async revokeApiToken(
    @Arg('input', () => RevokeApiTokenInput, { description: 'The token to revoke.' }) input: RevokeApiTokenInput,
    @Ctx() ctx: Context,
  ): Promise<RevokeApiTokenPayload> {
    return { apiToken: ApiTokenObject.from(await ctx.ports.tokens.revoke(ctx.principal, { id: input.id })) };
  }
}
