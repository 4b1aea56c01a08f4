/**
 * A volume type named by a caller, for `createVolume`, `retypeVolume` and `manageVolume`.
 * A private type the caller's project was not granted is, to it, a type that does not
 * exist (Cinder's volume-type access): both get the same NOT_FOUND, with the same message,
 * and cost the same queries, so a type's name cannot be probed.
 */
import type { EntityManager } from '@mikro-orm/knex';
import { findVolumeTypeByName, mayUseVolumeType, VolumeTypeAccess, type Principal, type VolumeType } from '../../db/index.js';
import { FlintError } from '../../domain/index.js';

export function volumeTypeNotFound(name: string): FlintError {
  return new FlintError('NOT_FOUND', `Volume type "${name}" does not exist or is not available to your project; list the ones you may use with the volumeTypes query.`, {
    details: { kind: 'VolumeType', id: name },
  });
}

/** The type named `name` if the caller may use it; NOT_FOUND (one answer) when it is missing or private to others. */
export async function usableVolumeType(em: EntityManager, p: Pick<Principal, 'projectId' | 'role'>, name: string): Promise<VolumeType> {
  const type = await findVolumeTypeByName(em, name);
  if (!type) {
    // The access query a private type costs, so the answer takes as long.
    if (p.role !== 'admin') await em.count(VolumeTypeAccess, { volumeTypeId: '', projectId: p.projectId });
    throw volumeTypeNotFound(name);
  }
  if (!(await mayUseVolumeType(em, p, type))) throw volumeTypeNotFound(name);
  return type;
}
