/** What the volume-type resolvers need from the gateway (src/gateway/mutations/volume-type.ts implements it). */
import type { Principal, VolumeType } from '../../db/index.js';
import type { EncryptionInput } from '../../domain/encryption.js';

export interface CreateVolumeTypeRequest {
  name: string;
  description?: string | null;
  extraSpecs?: unknown;
  isPublic?: boolean | null;
  encryption?: EncryptionInput | null;
}

export interface UpdateVolumeTypeRequest {
  id: string;
  name?: string | null;
  description?: string | null;
  extraSpecs?: unknown;
  isPublic?: boolean | null;
  expectedVersion?: number | null;
}

export interface VolumeTypeAccessRequest {
  volumeTypeId: string;
  projectId: string;
}

export interface VolumeTypesPort {
  /** By id or by name (exactly one: BAD_USER_INPUT otherwise); null when it does not exist or the caller may not use it. */
  find(p: Principal | null, by: { id?: string | null; name?: string | null }): Promise<VolumeType | null>;
  /** The types the caller may use, by name: public ones and those granted to its project (admins: all). */
  usable(p: Principal | null): Promise<VolumeType[]>;
  /** Admins. */
  create(p: Principal | null, input: CreateVolumeTypeRequest): Promise<VolumeType>;
  /** Admins; new extra specs only while no volume uses the type. */
  update(p: Principal | null, input: UpdateVolumeTypeRequest): Promise<VolumeType>;
  /** Admins; only a type no volume uses. Returns its id. */
  /** `alreadyDeleted`: no type has that id (it was deleted before, or never existed); nothing was done. */
  delete(p: Principal | null, input: { id: string }): Promise<{ id: string; alreadyDeleted: boolean }>;
  /** Admins: lets a project use a private type (granting twice changes nothing). */
  grantAccess(p: Principal | null, input: VolumeTypeAccessRequest): Promise<VolumeType>;
  /** Admins: takes a private type away from a project. */
  revokeAccess(p: Principal | null, input: VolumeTypeAccessRequest): Promise<VolumeType>;
}
