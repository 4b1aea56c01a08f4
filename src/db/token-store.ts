/**
 * Listing, revoking and bookkeeping of API tokens. The secret is never stored and its
 * hash never leaves this layer's rows for the API: `TokenView` has neither.
 */
import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { ApiToken, Project, type Role } from './entities.js';
import { keysetPage, type Page, type PageRequest } from './page.js';

/** A token as admins see it: who it is for and its dates, without secret or hash. */
export interface TokenView {
  id: string;
  projectId: string;
  projectName: string;
  role: Role;
  name: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface TokenListFilter {
  projectId?: string;
  /** A project by name. */
  projectName?: string;
  /** Revoked tokens are left out unless this is true. */
  includeRevoked?: boolean;
}

function view(t: ApiToken, projectName: string): TokenView {
  return {
    id: t.id,
    projectId: t.projectId,
    projectName,
    role: t.role,
    name: t.name,
    createdAt: new Date(t.createdAt),
    expiresAt: t.expiresAt ? new Date(t.expiresAt) : null,
    lastUsedAt: t.lastUsedAt ? new Date(t.lastUsedAt) : null,
    revokedAt: t.revokedAt ? new Date(t.revokedAt) : null,
  };
}

async function withProjects(em: EntityManager, rows: ApiToken[]): Promise<TokenView[]> {
  const ids = [...new Set(rows.map((r) => r.projectId))];
  const projects = ids.length ? await em.find(Project, { id: { $in: ids } }, { disableIdentityMap: true }) : [];
  const names = new Map(projects.map((p) => [p.id, p.name]));
  return rows.map((r) => view(r, names.get(r.projectId) ?? '?'));
}

/** One token by id, or null. */
export async function findTokenView(em: EntityManager, id: string): Promise<TokenView | null> {
  const t = await em.findOne(ApiToken, { id }, { disableIdentityMap: true });
  return t ? (await withProjects(em, [t]))[0]! : null;
}

/**
 * Keyset pagination, newest first; `after` is the last row's (createdAt, id). A project
 * name that does not exist gives an empty page.
 */
export async function listTokens(em: EntityManager, opts: PageRequest & { filter: TokenListFilter }): Promise<Page<TokenView>> {
  const where: FilterQuery<ApiToken> = {};
  if (!opts.filter.includeRevoked) where.revokedAt = null;
  let projectId = opts.filter.projectId;
  if (opts.filter.projectName !== undefined) {
    const p = await em.findOne(Project, { name: opts.filter.projectName }, { disableIdentityMap: true });
    // Both given: both must name the same project.
    if (!p || (projectId !== undefined && projectId !== p.id)) return { rows: [], hasNextPage: false, hasPreviousPage: false, totalCount: 0 };
    projectId = p.id;
  }
  if (projectId !== undefined) where.projectId = projectId;
  const page = await keysetPage(em, ApiToken, where, { ...opts, order: 'desc' });
  return { ...page, rows: await withProjects(em, page.rows) };
}

/**
 * Revokes a token; idempotent. Returns the token as it is now (its first `revokedAt` is
 * kept) and whether this call revoked it, or null when there is no such token.
 */
export async function revokeToken(em: EntityManager, id: string, at: Date = new Date()): Promise<{ token: TokenView; revokedNow: boolean } | null> {
  const n = await em.nativeUpdate(ApiToken, { id, revokedAt: null }, { revokedAt: at });
  const token = await findTokenView(em, id);
  return token ? { token, revokedNow: n === 1 } : null;
}

/**
 * Records that tokens were used at `at`, skipping any whose `lastUsedAt` is newer than
 * `notBefore` (so several gateways write each token at most about once per interval).
 */
export async function touchTokens(em: EntityManager, ids: readonly string[], at: Date, notBefore: Date): Promise<number> {
  if (!ids.length) return 0;
  return em.nativeUpdate(ApiToken, { id: { $in: [...ids] }, $or: [{ lastUsedAt: null }, { lastUsedAt: { $lt: notBefore } }] }, { lastUsedAt: at });
}

/** Of `ids`, those that no longer authenticate at `now`, and why: expired, or revoked (a deleted row counts as revoked). */
export async function deadTokens(em: EntityManager, ids: readonly string[], now: Date): Promise<Map<string, 'revoked' | 'expired'>> {
  const dead = new Map<string, 'revoked' | 'expired'>();
  if (!ids.length) return dead;
  const rows = await em.find(ApiToken, { id: { $in: [...ids] } }, { fields: ['id', 'revokedAt', 'expiresAt'], disableIdentityMap: true });
  const byId = new Map(rows.map((t) => [t.id, t]));
  for (const id of ids) {
    const t = byId.get(id);
    if (!t || t.revokedAt) dead.set(id, 'revoked');
    else if (t.expiresAt && new Date(t.expiresAt).getTime() <= now.getTime()) dead.set(id, 'expired');
  }
  return dead;
}
