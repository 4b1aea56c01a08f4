/** Projects and API tokens. Tokens are shown once and stored as sha256 hashes. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import { ApiToken, Project, type Role } from './entities.js';

export interface Principal {
  tokenId: string;
  projectId: string;
  projectName: string;
  role: Role;
  /** When the token stops working; null or absent: never. Checked on every use, cached or not. */
  expiresAt?: Date | null;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Returns the project named `name`, creating it when missing (safe under concurrent callers). */
export async function ensureProject(em: EntityManager, name: string): Promise<Project> {
  await em.execute('insert into project (id, name, created_at) values (?, ?, ?) on conflict (name) do nothing', [randomUUID(), name, new Date()]);
  return em.findOneOrFail(Project, { name }, { disableIdentityMap: true });
}

export interface CreatedToken {
  /** The secret: shown once, never stored. */
  token: string;
  principal: Principal;
  /** The stored row (its hash, never the secret). */
  row: ApiToken;
}

/**
 * Creates a token for a project (created if needed); the clear token is returned once.
 * `opts.expiresAt`: when it stops working (default never).
 */
export async function createToken(em: EntityManager, projectName: string, role: Role, name?: string, opts: { expiresAt?: Date | null } = {}): Promise<CreatedToken> {
  const project = await ensureProject(em, projectName);
  const token = `flint_${randomBytes(24).toString('base64url')}`;
  // Whole milliseconds as both databases keep them, so what is returned is what is stored.
  const row = em.create(ApiToken, {
    id: randomUUID(),
    projectId: project.id,
    role,
    tokenHash: hashToken(token),
    name: name ?? null,
    createdAt: new Date(),
    expiresAt: opts.expiresAt ?? null,
  });
  await em.flush();
  return { token, row, principal: { tokenId: row.id, projectId: project.id, projectName: project.name, role, expiresAt: row.expiresAt } };
}

/**
 * The principal a token stands for, or null when unknown, revoked or expired at `now`.
 * Database failures are thrown as they are: the caller tells an outage from a bad token.
 */
export async function resolveToken(em: EntityManager, token: string, now: Date = new Date()): Promise<Principal | null> {
  const t = await em.findOne(ApiToken, { tokenHash: hashToken(token), revokedAt: null }, { disableIdentityMap: true });
  if (!t || (t.expiresAt !== null && t.expiresAt.getTime() <= now.getTime())) return null;
  const p = await em.findOne(Project, { id: t.projectId }, { disableIdentityMap: true });
  if (!p) return null;
  return { tokenId: t.id, projectId: p.id, projectName: p.name, role: t.role, expiresAt: t.expiresAt };
}
