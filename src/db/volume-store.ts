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
import type { Page, PageRequest } from './page.js';
import { volumePageStatements } from './volume-list-sql.js';
import { findById } from './entity-rows.js';
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

/** The current row, read from the database (not the identity map); its plain shape outside a transaction (./entity-rows.ts). */
export async function findVolume(em: EntityManager, id: string): Promise<Volume | null> {
  return findById(em, Volume, id);
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

/**
 * Keyset pagination in creation order; `after` is the last row's (createdAt, id). Read
 * without the ORM (./volume-list-sql.ts): the count, the page and, with a cursor, whether a
 * row lies behind it, each a statement prepared once per connection.
 */
export async function listVolumes(
  db: Pick<Db, 'kind' | 'query'>,
  opts: PageRequest & { projectId: string | null; filter: VolumeListFilter },
): Promise<Page<VolumeView>> {
  const { filter } = opts;
  const s = volumePageStatements(
    db.kind,
    {
      projectId: opts.projectId,
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.name !== undefined ? { name: filter.name } : {}),
      ...(filter.availabilityZone !== undefined ? { availabilityZone: filter.availabilityZone } : {}),
      ...(filter.projectId != null ? { filterProjectId: filter.projectId } : {}),
      ...(filter.metadata ? { metadata: filter.metadata } : {}),
    },
    opts,
  );
  const [counted, rows, behind] = await Promise.all([db.query(s.count.q, s.count.params), db.query(s.rows.q, s.rows.params), s.behind ? db.query(s.behind.q, s.behind.params) : undefined]);
  const more = rows.length > s.size;
  const page = rows.slice(0, s.size).map(volumeViewOfRow);
  if (s.reversed) page.reverse();
  const isBehind = (behind?.length ?? 0) > 0;
  return {
    rows: page,
    hasNextPage: s.reversed ? isBehind : more,
    hasPreviousPage: s.reversed ? more : isBehind,
    totalCount: Number(counted[0]?.n ?? 0),
  };
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
