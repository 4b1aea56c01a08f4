/**
 * Volume type rows: who may see and use them (public, or private with an access row for
 * the project), changes as compare-and-set on `version`, and the access list.
 */
import type { EntityManager } from '@mikro-orm/knex';
import { VolumeType } from './entities.js';
import { VolumeTypeAccess } from './volume-type-access.js';
import { updateRows } from './update-rows.js';

/** Just what access rules need of the caller. */
interface Caller {
  projectId: string;
  role: string;
}

export type VolumeTypeChanges = Partial<Pick<VolumeType, 'name' | 'description' | 'extraSpecs' | 'isPublic'>>;

export function findVolumeType(em: EntityManager, id: string): Promise<VolumeType | null> {
  return em.findOne(VolumeType, { id }, { disableIdentityMap: true });
}

export function findVolumeTypeByName(em: EntityManager, name: string): Promise<VolumeType | null> {
  return em.findOne(VolumeType, { name }, { disableIdentityMap: true });
}

/** Whether the caller may see and use the type: admins always, others when it is public or their project has access. */
export async function mayUseVolumeType(em: EntityManager, p: Caller, t: VolumeType): Promise<boolean> {
  if (t.isPublic || p.role === 'admin') return true;
  return (await em.count(VolumeTypeAccess, { volumeTypeId: t.id, projectId: p.projectId })) > 0;
}

/** Every type the caller may see, by name. */
export async function visibleVolumeTypes(em: EntityManager, p: Caller): Promise<VolumeType[]> {
  const all = await em.find(VolumeType, {}, { orderBy: { name: 'asc' }, disableIdentityMap: true });
  if (p.role === 'admin') return all;
  const granted = new Set(
    (await em.find(VolumeTypeAccess, { projectId: p.projectId }, { disableIdentityMap: true })).map((a) => a.volumeTypeId),
  );
  return all.filter((t) => t.isPublic || granted.has(t.id));
}

/** Applies `changes` (and version + 1) when the type is still at `expectedVersion` (any version when undefined). */
export async function casVolumeType(em: EntityManager, id: string, expectedVersion: number | undefined, changes: VolumeTypeChanges): Promise<VolumeType | null> {
  const where: { id: string; version?: number } = { id };
  if (expectedVersion !== undefined) where.version = expectedVersion;
  const n = await updateRows(em, VolumeType, where, { ...changes, updatedAt: new Date() }, ['version']);
  return n === 1 ? findVolumeType(em, id) : null;
}

/** How many volumes that are not DELETED use the type (volumes name their type). */
export async function countVolumesOfType(em: EntityManager, name: string): Promise<number> {
  const rows: Array<{ n: number | string }> = await em.execute("select count(*) as n from volume where volume_type = ? and status <> 'deleted'", [name]);
  return Number(rows[0]?.n ?? 0);
}

/** Projects granted a private type, sorted. */
export async function accessProjects(em: EntityManager, volumeTypeId: string): Promise<string[]> {
  const rows = await em.find(VolumeTypeAccess, { volumeTypeId }, { orderBy: { projectId: 'asc' }, disableIdentityMap: true });
  return rows.map((r) => r.projectId);
}

/**
 * Grants a project; returns false when it had access already. The duplicate is skipped by the
 * database, not caught: a failed insert would end a PostgreSQL transaction.
 */
export async function addAccess(em: EntityManager, volumeTypeId: string, projectId: string): Promise<boolean> {
  const r = await em
    .createQueryBuilder(VolumeTypeAccess)
    .insert({ volumeTypeId, projectId, createdAt: new Date() })
    .onConflict(['volumeTypeId', 'projectId'])
    .ignore()
    .execute('run');
  return r.affectedRows === 1;
}

/** Revokes a project; returns false when it had no access. */
export async function removeAccess(em: EntityManager, volumeTypeId: string, projectId: string): Promise<boolean> {
  return (await em.nativeDelete(VolumeTypeAccess, { volumeTypeId, projectId })) === 1;
}
