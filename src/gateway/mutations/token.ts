/**
 * API tokens for admins (issue 11): create with an optional expiry (the secret is returned
 * once), list without secrets or hashes, and revoke, which every gateway honours at once
 * (src/gateway/http/token-guard.ts).
 */
import type { Logger } from '../../config/logger.js';
import { createToken, listTokens, revokeToken, ROLES, type Db, type Page, type Principal, type TokenView } from '../../db/index.js';
import { checkExpiry, checkProjectName, checkTokenName, NotFoundError, Problems, requireAdmin } from '../../domain/index.js';
import type { CreateApiTokenRequest, ListApiTokensRequest, TokensPort } from '../../resolvers/ports/tokens.js';
import type { TokenGuard } from '../http/token-guard.js';
import { pageRequest } from '../queries/page.js';

export interface TokenMutationsDeps {
  db: Db;
  guard: Pick<TokenGuard, 'revoked'>;
  log: Logger;
}

export class TokenMutations implements TokensPort {
  constructor(private readonly deps: TokenMutationsDeps) {}

  async create(principal: Principal | null, input: CreateApiTokenRequest): Promise<{ token: string; apiToken: TokenView }> {
    const p = requireAdmin(principal, 'Creating API tokens');
    const problems = new Problems();
    checkProjectName(problems, 'project', input.project);
    if (!(ROLES as readonly string[]).includes(input.role)) problems.add(`role: one of ${ROLES.join(', ')}`);
    checkTokenName(problems, 'name', input.name);
    checkExpiry(problems, 'expiresAt', input.expiresAt, new Date());
    problems.throwIfAny();
    const created = await createToken(this.deps.db.fork(), input.project, input.role, input.name ?? undefined, { expiresAt: input.expiresAt ?? null });
    const r = created.row;
    this.deps.log.info({ tokenId: r.id, projectId: r.projectId, role: r.role, expiresAt: r.expiresAt, actorTokenId: p.tokenId }, 'API token created');
    return {
      token: created.token,
      apiToken: {
        id: r.id,
        projectId: r.projectId,
        projectName: created.principal.projectName,
        role: r.role,
        name: r.name,
        createdAt: r.createdAt,
        expiresAt: r.expiresAt,
        lastUsedAt: null,
        revokedAt: null,
      },
    };
  }

  async list(principal: Principal | null, input: ListApiTokensRequest): Promise<Page<TokenView>> {
    requireAdmin(principal, 'Listing API tokens');
    const { filter, ...args } = input;
    const page = pageRequest(args);
    const f = filter ?? {};
    return listTokens(this.deps.db.fork(), {
      ...page,
      filter: { projectId: f.projectId ?? undefined, projectName: f.project ?? undefined, includeRevoked: f.includeRevoked ?? false },
    });
  }

  async revoke(principal: Principal | null, input: { id: string }): Promise<TokenView> {
    const p = requireAdmin(principal, 'Revoking API tokens');
    const r = await revokeToken(this.deps.db.fork(), input.id);
    if (!r) throw new NotFoundError('API token', input.id);
    if (r.revokedNow) this.deps.log.info({ tokenId: r.token.id, projectId: r.token.projectId, actorTokenId: p.tokenId }, 'API token revoked');
    // Also when it was revoked before (by hand, or a broadcast that was lost): telling the gateways again is harmless.
    await this.deps.guard.revoked(r.token.id, r.token.revokedAt!);
    return r.token;
  }
}
