/**
 * Volume rows: reads, and status changes as compare-and-set. A change applies only when
 * the row is still in one of the expected states (and at the expected version, when
 * given), so two gateways, a redelivered event and a second click cannot both win.
 */
import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import type { VolumeStatus } from '../domain/volume-states.js';
import type { MigrationStatus } from '../domain/migration.js';
import { VOLUME_USER_FIELDS } from '../domain/generation.js';
import { Volume } from './entities.js';
import { casWithGeneration } from './generation-cas.js';
import { keysetPage, withAnd, type Page, type PageRequest } from './page.js';
import { metadataConditions } from './metadata-sql.js';
import type { VolumeView } from '../bus/contract/index.js';
import type { Db } from './orm.js';
import { VOLUME_BY_ID, volumeViewOfRow } from './volume-rows.js';

export interface CasGuard {
  from: readonly VolumeStatus[];
  expectedVersion?: number;
  /** Also require one of these migration statuses (a migration's steps). */
  migrationFrom?: readonly MigrationStatus[];
}

export type VolumeChanges = Partial<
  Pick<Volume, 'status' | 'name' | 'description' | 'metadata' | 'sizeGiB' | 'host' | 'pool' | 'deletedAt' | 'migrationStatus' | 'volumeType' | 'pendingSizeGiB' | 'pendingVolumeType' | 'projectId'>
>;

export interface CasOptions {
  /** The changes record what an agent found (a managed image's measured size), not what a user asked: `generation` stays. */
  observed?: boolean;
}

/**
 * Applies `changes` (and version + 1; generation + 1 when a field the user sets takes a new
 * value: ./generation-cas.ts) when the guard holds; returns the new row, or null when it did not.
 */
export async function casVolume(em: EntityManager, id: string, guard: CasGuard, changes: VolumeChanges, opts: CasOptions = {}): Promise<Volume | null> {
  const where: FilterQuery<Volume> = { id, status: { $in: [...guard.from] } };
  if (guard.expectedVersion !== undefined) where.version = guard.expectedVersion;
  if (guard.migrationFrom !== undefined) where.migrationStatus = { $in: [...guard.migrationFrom] };
  const applied = await casWithGeneration<Volume>(em, {
    entity: Volume,
    where,
    expectedVersion: guard.expectedVersion,
    changes,
    userFields: VOLUME_USER_FIELDS,
    ...(opts.observed ? { observed: true } : {}),
    read: () => findVolume(em, id),
  });
  return applied ? findVolume(em, id) : null;
}

/** The VolumeView of a volume by id, read without the ORM (./volume-rows.ts): the hot path of `volume(id)`. */
export async function findVolumeView(db: Pick<Db, 'query'>, id: string): Promise<VolumeView | null> {
  const [row] = await db.query(VOLUME_BY_ID, [id]);
  return row ? volumeViewOfRow(row) : null;
}

/** The current row, read from the database (not the identity map). */
export async function findVolume(em: EntityManager, id: string): Promise<Volume | null> {
  return em.findOne(Volume, { id }, { disableIdentityMap: true });
}

export interface VolumeListFilter {
  status?: VolumeStatus[];
  name?: string;
  availabilityZone?: string;
  /** Only this project's volumes; within a member's scope, another project matches nothing. */
  projectId?: string;
  /** Only volumes whose metadata has every one of these keys with exactly this value (./metadata-sql.ts). */
  metadata?: Record<string, string>;
}

/** Keyset pagination in creation order; `after` is the last row's (createdAt, id). */
export async function listVolumes(
  em: EntityManager,
  opts: PageRequest & { projectId: string | null; filter: VolumeListFilter },
): Promise<Page<VolumeView>> {
  const where: FilterQuery<Volume> = {};
  if (opts.projectId) where.projectId = opts.projectId;
  where.status = opts.filter.status?.length ? { $in: opts.filter.status } : { $ne: 'deleted' };
  if (opts.filter.name !== undefined) where.name = opts.filter.name;
  if (opts.filter.availabilityZone !== undefined) where.availabilityZone = opts.filter.availabilityZone;
  // Both conditions hold: a member asking for another project gets an empty page.
  const and: FilterQuery<Volume>[] = opts.filter.projectId != null ? [{ projectId: opts.filter.projectId }] : [];
  return keysetPage(em, Volume, () => withAnd(where, [...and, ...metadataConditions<Volume>(em, opts.filter.metadata)]), { ...opts, order: 'asc', raw: volumeViewOfRow });
}

export function toVolumeView(v: Volume): VolumeView {
  return {
    id: v.id,
    projectId: v.projectId,
    name: v.name,
    description: v.description,
    sizeGiB: v.sizeGiB,
    status: v.status,
    volumeType: v.volumeType,
    availabilityZone: v.availabilityZone,
    metadata: v.metadata,
    version: v.version,
    changeSeq: Number(v.changeSeq ?? 0),
    generation: v.generation,
    idempotencyKey: v.idempotencyKey,
    host: v.host,
    pool: v.pool,
    snapshotId: v.snapshotId,
    sourceVolumeId: v.sourceVolumeId,
    migrationStatus: v.migrationStatus,
    multiattach: v.multiattach,
    encrypted: Boolean(v.encryptionKey),
    createdAt: v.createdAt.toISOString(),
    updatedAt: v.updatedAt.toISOString(),
  };
}
