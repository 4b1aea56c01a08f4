/**
 * Volume types (admins; everyone reads the ones they may use): create, update, delete, and
 * Cinder's type access for private types. They are catalog changes, done when their
 * transaction commits, so they go through the kernel without an operation. Volumes name their
 * type, so a rename carries them along and a type in use keeps its extra specs and cannot be
 * deleted: both refusals are INVALID_STATE, naming how many volumes use it.
 */
import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import {
  addAccess,
  casVolumeType,
  countVolumesOfType,
  findVolumeType,
  findVolumeTypeByName,
  mayUseVolumeType,
  Project,
  removeAccess,
  visibleVolumeTypes,
  Volume,
  VolumeType,
  VolumeTypeAccess,
  type Principal,
  type VolumeTypeChanges,
} from '../../db/index.js';
import {
  BadInputError,
  checkDescription,
  checkEncryption,
  checkExtraSpecs,
  checkName,
  ConflictError,
  InvalidStateError,
  NotFoundError,
  requireAdmin,
  requirePrincipal,
  type EncryptionSpec,
} from '../../domain/index.js';
import type { CreateVolumeTypeRequest, UpdateVolumeTypeRequest, VolumeTypeAccessRequest, VolumeTypesPort } from '../../resolvers/ports/index.js';
import type { GatewayDeps } from '../deps.js';
import { runMutation } from './kernel.js';

export class VolumeTypeMutations implements VolumeTypesPort {
  constructor(private readonly deps: GatewayDeps) {}

  async find(principal: Principal | null, by: { id?: string | null; name?: string | null }): Promise<VolumeType | null> {
    const p = requirePrincipal(principal);
    if ((by.id == null) === (by.name == null)) throw new BadInputError(['give exactly one of id and name']);
    const em = this.deps.db.fork();
    const t = by.id != null ? await findVolumeType(em, by.id) : await findVolumeTypeByName(em, by.name!);
    return t && (await mayUseVolumeType(em, p, t)) ? t : null;
  }

  async usable(principal: Principal | null): Promise<VolumeType[]> {
    return visibleVolumeTypes(this.deps.db.fork(), requirePrincipal(principal));
  }

  create(principal: Principal | null, input: CreateVolumeTypeRequest): Promise<VolumeType> {
    let extraSpecs: Record<string, string> = {};
    let encryption: EncryptionSpec | null = null;
    return runMutation<null, VolumeType, VolumeType>(this.deps, principal, {
      resourceType: 'volume type',
      authorize: (p) => requireAdmin(p, 'Creating volume types'),
      validate: (problems) => {
        checkName(problems, 'name', input.name, true);
        checkDescription(problems, input.description);
        extraSpecs = checkExtraSpecs(problems, input.extraSpecs) ?? {};
        encryption = checkEncryption(problems, input.encryption) ?? null;
      },
      load: async () => null,
      transition: (tx) =>
        nameTaken(input.name, async () => {
          const row = tx.create(VolumeType, { id: randomUUID(), name: input.name, description: input.description ?? null, extraSpecs, encryption, isPublic: input.isPublic ?? true });
          await tx.flush();
          return row;
        }),
      result: (row) => row,
    });
  }

  update(principal: Principal | null, input: UpdateVolumeTypeRequest): Promise<VolumeType> {
    const changes: VolumeTypeChanges = {};
    return runMutation<VolumeType, VolumeType, VolumeType>(this.deps, principal, {
      resourceType: 'volume type',
      authorize: (p) => requireAdmin(p, 'Changing volume types'),
      validate: (problems) => {
        checkName(problems, 'name', input.name, false);
        checkDescription(problems, input.description);
        const extraSpecs = checkExtraSpecs(problems, input.extraSpecs);
        if (input.name != null) changes.name = input.name;
        if (input.description != null) changes.description = input.description === '' ? null : input.description;
        if (extraSpecs !== undefined) changes.extraSpecs = extraSpecs;
        if (input.isPublic != null) changes.isPublic = input.isPublic;
        if (!problems.any && Object.keys(changes).length === 0) problems.add('give at least one of name, description, extraSpecs, isPublic to change');
      },
      load: (em) => mustFind(em, input.id),
      check: (_em, current) => {
        const expected = input.expectedVersion ?? undefined;
        if (expected !== undefined && expected !== current.version) {
          throw new ConflictError(`Volume type ${current.id} is at version ${current.version}, not ${expected}; read it again and retry.`, {
            currentVersion: current.version,
          });
        }
        return current;
      },
      // The write comes first: a SQLite transaction that reads first cannot upgrade while another process writes.
      transition: (tx, current) =>
        nameTaken(input.name, async () => {
          const updated = await casVolumeType(tx, current.id, current.version, changes);
          if (!updated) return null;
          if (changes.extraSpecs && !sameSpecs(changes.extraSpecs, current.extraSpecs)) await refuseIfInUse(tx, current, 'its extra specs cannot change (the volumes were placed by them). Create a new volume type with these extra specs and retype the volumes to it instead.');
          // Volumes name their type: a rename carries them along.
          if (changes.name !== undefined && changes.name !== current.name) await tx.nativeUpdate(Volume, { volumeType: current.name }, { volumeType: changes.name });
          return updated;
        }),
      whyNot: async (_tx, current) => new ConflictError(`Volume type ${current.id} changed while the update ran; read it again and retry.`),
      result: (updated) => updated,
    });
  }

  delete(principal: Principal | null, input: { id: string }): Promise<{ id: string; alreadyDeleted: boolean }> {
    type Deleted = { id: string; alreadyDeleted: boolean };
    return runMutation<VolumeType | null, Deleted, Deleted>(this.deps, principal, {
      resourceType: 'volume type',
      authorize: (p) => requireAdmin(p, 'Deleting volume types'),
      // Types are removed, not kept DELETED: a missing one is gone already (admins only, so this tells no project anything).
      load: (em) => em.findOne(VolumeType, { id: input.id }, { disableIdentityMap: true }),
      settled: (_em, t) => (t ? null : { id: input.id, alreadyDeleted: true }),
      // The delete comes first, then the count: a volume created meanwhile with this type rolls it back.
      transition: async (tx, t) => {
        if (!t) return null; // settled answered a missing type
        await tx.nativeDelete(VolumeTypeAccess, { volumeTypeId: t.id });
        if ((await tx.nativeDelete(VolumeType, { id: t.id })) !== 1) return null;
        await refuseIfInUse(tx, t, 'it cannot be deleted. Delete the volumes or retype them to another type first.');
        return { id: t.id, alreadyDeleted: false };
      },
      // Only a concurrent delete makes it miss (settled answers it, after a fresh load).
      whyNot: async () => new NotFoundError('VolumeType', input.id),
      result: (deleted) => deleted,
    });
  }

  grantAccess(principal: Principal | null, input: VolumeTypeAccessRequest): Promise<VolumeType> {
    return runMutation<VolumeType, VolumeType, VolumeType>(this.deps, principal, {
      resourceType: 'volume type',
      authorize: (p) => requireAdmin(p, 'Granting access to volume types'),
      load: async (em) => {
        const t = await mustFind(em, input.volumeTypeId);
        if (t.isPublic) {
          throw new InvalidStateError(`Volume type "${t.name}" is public, so every project may use it already; make it private (updateVolumeType isPublic: false) first.`);
        }
        if (!(await em.findOne(Project, { id: input.projectId }, { disableIdentityMap: true }))) throw new NotFoundError('Project', input.projectId);
        return t;
      },
      // Granting a project that has access already changes nothing.
      transition: async (tx, t) => {
        await addAccess(tx, t.id, input.projectId);
        return t;
      },
      result: (t) => t,
    });
  }

  revokeAccess(principal: Principal | null, input: VolumeTypeAccessRequest): Promise<VolumeType> {
    return runMutation<VolumeType, VolumeType, VolumeType>(this.deps, principal, {
      resourceType: 'volume type',
      authorize: (p) => requireAdmin(p, 'Revoking access to volume types'),
      load: (em) => mustFind(em, input.volumeTypeId),
      transition: async (tx, t) => ((await removeAccess(tx, t.id, input.projectId)) ? t : null),
      whyNot: async (_tx, t) => new NotFoundError('Access of project to volume type', `${input.projectId} → ${t.name}`),
      result: (t) => t,
    });
  }
}

async function mustFind(em: EntityManager, id: string): Promise<VolumeType> {
  const t = await findVolumeType(em, id);
  if (!t) throw new NotFoundError('VolumeType', id);
  return t;
}

/** INVALID_STATE when volumes that are not DELETED use the type: `consequence` says what that forbids and what to do. */
async function refuseIfInUse(tx: EntityManager, t: VolumeType, consequence: string): Promise<void> {
  const n = await countVolumesOfType(tx, t.name);
  if (n > 0) throw new InvalidStateError(`Volume type "${t.name}" is used by ${n} volume${n === 1 ? '' : 's'}, so ${consequence}`, { volumeCount: n });
}

/** Runs a write that may take a name another type has: CONFLICT then. */
async function nameTaken<T>(name: string | null | undefined, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw new ConflictError(`A volume type named "${name}" exists already; pick another name.`);
    throw err;
  }
}

function sameSpecs(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}
