/** Projects and API tokens. Tokens are shown once and stored as sha256 hashes. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import { ApiToken, Project, type Role } from './entities.js';

export interface Principal {
  tokenId: string;
  projectId: string;
  projectName: string;
  role: Role;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Returns the project named `name`, creating it when missing (safe under concurrent callers). */
export async function ensureProject(em: EntityManager, name: string): Promise<Project> {
  await em.execute('insert into project (id, name, created_at) values (?, ?, ?) on conflict (name) do nothing', [randomUUID(), name, new Date()]);
  return em.findOneOrFail(Project, { name }, { disableIdentityMap: true });
}

/** Creates a token for a project (created if needed); the clear token is returned once. */
export async function createToken(em: EntityManager, projectName: string, role: Role, name?: string): Promise<{ token: string; principal: Principal }> {
  const project = await ensureProject(em, projectName);
  const token = `flint_${randomBytes(24).toString('base64url')}`;
  const row = em.create(ApiToken, { id: randomUUID(), projectId: project.id, role, tokenHash: hashToken(token), name: name ?? null });
  await em.flush();
  return { token, principal: { tokenId: row.id, projectId: project.id, projectName: project.name, role } };
}

/** The principal a token stands for, or null when unknown or revoked. */
export async function resolveToken(em: EntityManager, token: string): Promise<Principal | null> {
  const t = await em.findOne(ApiToken, { tokenHash: hashToken(token), revokedAt: null }, { disableIdentityMap: true });
  if (!t) return null;
  const p = await em.findOne(Project, { id: t.projectId }, { disableIdentityMap: true });
  if (!p) return null;
  return { tokenId: t.id, projectId: p.id, projectName: p.name, role: t.role };
}
