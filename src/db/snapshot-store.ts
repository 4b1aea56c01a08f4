/**
 * Snapshot rows: reads, and status changes as compare-and-set, in the manner of
 * `volume-store.ts`: a change applies only while the row is in one of the expected
 * states (and at the expected version, when given).
 */
import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import type { SnapshotStatus } from '../domain/snapshot-states.js';
import type { SnapshotView } from '../bus/contract/index.js';
import { SNAPSHOT_USER_FIELDS } from '../domain/generation.js';
import { Snapshot } from './entities.js';
import { casWithGeneration } from './generation-cas.js';
import { keysetPage, withAnd, type Page, type PageRequest } from './page.js';
import { metadataConditions } from './metadata-sql.js';
import { updateRows } from './update-rows.js';

export interface SnapshotCasGuard {
  from: readonly SnapshotStatus[];
  expectedVersion?: number;
}

export type SnapshotChanges = Partial<Pick<Snapshot, 'status' | 'name' | 'description' | 'metadata' | 'deletedAt'>>;

/**
 * Applies `changes` (and version + 1; generation + 1 when its name, description or metadata takes a new
 * value: ./generation-cas.ts) when the guard holds; returns the new row, or null when it did not.
 */
export async function casSnapshot(em: EntityManager, id: string, guard: SnapshotCasGuard, changes: SnapshotChanges): Promise<Snapshot | null> {
  const where: FilterQuery<Snapshot> = { id, status: { $in: [...guard.from] } };
  if (guard.expectedVersion !== undefined) where.version = guard.expectedVersion;
  const applied = await casWithGeneration<Snapshot>(em, {
    entity: Snapshot,
    where,
    expectedVersion: guard.expectedVersion,
    changes,
    userFields: SNAPSHOT_USER_FIELDS,
    read: () => findSnapshot(em, id),
  });
  return applied ? findSnapshot(em, id) : null;
}

/** The current row, read from the database (not the identity map). */
export async function findSnapshot(em: EntityManager, id: string): Promise<Snapshot | null> {
  return em.findOne(Snapshot, { id }, { disableIdentityMap: true });
}

/** A volume's snapshots that are not DELETED, oldest first. */
export async function snapshotsOfVolume(em: EntityManager, volumeId: string): Promise<Snapshot[]> {
  return em.find(Snapshot, { volumeId, status: { $ne: 'deleted' } }, { orderBy: { createdAt: 'asc', id: 'asc' }, disableIdentityMap: true });
}

/** How many snapshots of a volume are not DELETED. */
export async function countSnapshotsOfVolume(em: EntityManager, volumeId: string): Promise<number> {
  return em.count(Snapshot, { volumeId, status: { $ne: 'deleted' } });
}

/**
 * Moves every snapshot of a volume that is in one of `from` to `changes` (version + 1 each; a
 * status move, so the generation stays) and returns the rows changed, as they are now. Used in
 * the volume's own transaction (cascade delete, and the recorder when the volume's image is gone).
 */
export async function casSnapshotsOfVolume(
  em: EntityManager,
  volumeId: string,
  from: { $in: readonly SnapshotStatus[] } | { $ne: SnapshotStatus },
  changes: Pick<SnapshotChanges, 'status' | 'deletedAt'>,
): Promise<Snapshot[]> {
  const cond = '$in' in from ? { $in: [...from.$in] } : from;
  const ids = (await em.find(Snapshot, { volumeId, status: cond }, { fields: ['id'], disableIdentityMap: true })).map((s) => s.id);
  if (ids.length === 0) return [];
  await updateRows(em, Snapshot, { id: { $in: ids }, status: cond }, { ...changes, updatedAt: new Date() }, ['version']);
  return em.find(Snapshot, { id: { $in: ids }, status: changes.status ?? cond }, { orderBy: { createdAt: 'asc', id: 'asc' }, disableIdentityMap: true });
}

export interface SnapshotListFilter {
  status?: SnapshotStatus[];
  volumeId?: string;
  name?: string;
  /** Only this project's snapshots; within a member's scope, another project matches nothing. */
  projectId?: string;
  /** Only snapshots whose metadata has every one of these keys with exactly this value (./metadata-sql.ts). */
  metadata?: Record<string, string>;
}

/** Keyset pagination in creation order; `after` is the last row's (createdAt, id). */
export async function listSnapshots(
  em: EntityManager,
  opts: PageRequest & { projectId: string | null; filter: SnapshotListFilter },
): Promise<Page<Snapshot>> {
  const where: FilterQuery<Snapshot> = {};
  if (opts.projectId) where.projectId = opts.projectId;
  where.status = opts.filter.status?.length ? { $in: opts.filter.status } : { $ne: 'deleted' };
  if (opts.filter.name !== undefined) where.name = opts.filter.name;
  if (opts.filter.volumeId !== undefined) where.volumeId = opts.filter.volumeId;
  // Both conditions hold: a member asking for another project gets an empty page.
  const and: FilterQuery<Snapshot>[] = opts.filter.projectId != null ? [{ projectId: opts.filter.projectId }] : [];
  return keysetPage(em, Snapshot, () => withAnd(where, [...and, ...metadataConditions<Snapshot>(em, opts.filter.metadata)]), { ...opts, order: 'asc' });
}

export function toSnapshotView(s: Snapshot): SnapshotView {
  return {
    id: s.id,
    projectId: s.projectId,
    volumeId: s.volumeId,
    name: s.name,
    description: s.description,
    metadata: s.metadata ?? {},
    sizeGiB: s.sizeGiB,
    status: s.status,
    version: s.version,
    changeSeq: Number(s.changeSeq ?? 0),
    generation: s.generation,
    idempotencyKey: s.idempotencyKey,
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
  };
}
