/**
 * Backups (issue 5): the `backup` table and its compare-and-set store, in the manner of
 * snapshot-store.ts. A backup's bytes live in a backup repository (chunks + manifest,
 * src/node-agent/backup/); this row is what the API knows about it.
 */
import 'reflect-metadata';
import { BigIntType, Entity, Index, OptionalProps, PrimaryKey, Property, Unique, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import type { BackupStatus } from '../domain/backup-states.js';
import { keysetPage, type Page, type PageRequest } from './page.js';
import type { BackupView, BackupFigures } from '../bus/contract/index.js';
import { updateRows } from './update-rows.js';

export type BackupChangeTracking = NonNullable<BackupFigures['changeTracking']>;

@Entity({ tableName: 'backup' })
@Unique({ properties: ['projectId', 'idempotencyKey'] })
@Index({ properties: ['projectId', 'createdAt', 'id'] })
@Index({ properties: ['volumeId', 'status', 'createdAt'] })
export class Backup {
  [OptionalProps]?:
    | 'description'
    | 'snapshotId'
    | 'parentId'
    | 'incremental'
    | 'fullReason'
    | 'forced'
    | 'host'
    | 'pool'
    | 'sizeBytes'
    | 'sha256'
    | 'chunkSize'
    | 'chunkCount'
    | 'codec'
    | 'dataBytes'
    | 'storedBytes'
    | 'dedupBytes'
    | 'durationMs'
    | 'changeTracking'
    | 'readBytes'
    | 'progressDoneBytes'
    | 'progressTotalBytes'
    | 'failReason'
    | 'operationId'
    | 'restoreVolumeId'
    | 'idempotencyKey'
    | 'requestHash'
    | 'version'
    | 'changeSeq'
    | 'createdAt'
    | 'updatedAt'
    | 'deletedAt'
    | 'repositoryId';
  @PrimaryKey({ type: 'string', length: 36 }) id!: string;
  @Property({ type: 'string', length: 36 }) projectId!: string;
  /** The volume backed up (kept after that volume is deleted: a backup outlives its volume). */
  @Property({ type: 'string', length: 36 }) volumeId!: string;
  /** The snapshot whose bytes were read, when the backup was made from one. */
  @Property({ type: 'string', length: 36, nullable: true }) snapshotId: string | null = null;
  @Property({ type: 'string', length: 255 }) name!: string;
  @Property({ type: 'text', nullable: true }) description: string | null = null;
  @Index() @Property({ type: 'string', length: 32 }) status!: BackupStatus;
  /** Size of the volume when backed up, GiB (rounded up). */
  @Property({ type: 'integer', fieldName: 'size_gib' }) sizeGiB!: number;
  /** Size of the volume when backed up, bytes (from the manifest once AVAILABLE). */
  @Property({ type: 'bigint', nullable: true }) sizeBytes: number | null = null;
  /** The backup it was compared with (incremental), null for a full backup. */
  @Property({ type: 'string', length: 36, nullable: true }) parentId: string | null = null;
  /** Whether it is incremental (it has a parent). */
  @Property({ type: 'boolean' }) incremental: boolean = false;
  /** Why an incremental backup that was asked for is full (no AVAILABLE backup of the volume to compare with). */
  @Property({ type: 'text', nullable: true }) fullReason: string | null = null;
  /** Taken with `force` from an IN_USE volume (through a temporary snapshot). */
  @Property({ type: 'boolean' }) forced: boolean = false;
  /** Repository spec, `dir:/path` or `nats:<bucket>`, as the agent that took it named it. */
  @Property({ type: 'string', length: 1024 }) repository!: string;
  /** Host and pool of the volume when it was backed up: the agent that made it. */
  @Property({ type: 'string', length: 255, nullable: true }) host: string | null = null;
  @Property({ type: 'string', length: 255, nullable: true }) pool: string | null = null;
  /** sha256 of the whole volume's bytes, hex. */
  @Property({ type: 'string', length: 64, nullable: true }) sha256: string | null = null;
  @Property({ type: 'integer', nullable: true }) chunkSize: number | null = null;
  @Property({ type: 'integer', nullable: true }) chunkCount: number | null = null;
  @Property({ type: 'string', length: 32, nullable: true }) codec: string | null = null;
  /** Non-zero bytes read. */
  @Property({ type: 'bigint', nullable: true }) dataBytes: number | null = null;
  /** Bytes this backup added to the repository (new chunks, compressed). */
  @Property({ type: 'bigint', nullable: true }) storedBytes: number | null = null;
  /** Bytes of data the repository had already (deduplicated). */
  @Property({ type: 'bigint', nullable: true }) dedupBytes: number | null = null;
  @Property({ type: 'integer', nullable: true }) durationMs: number | null = null;
  /** How the agent found the changes: `dirty-bitmap`, `rbd-diff`, `compare` or `full` (null before AVAILABLE, or from older agents). */
  @Property({ type: 'string', length: 16, nullable: true }) changeTracking: BackupChangeTracking | null = null;
  /** Bytes the agent read from the volume's image to take it. */
  @Property({ type: 'bigint', nullable: true }) readBytes: number | null = null;
  /** The last progress recorded (the live figures go through `backupProgress`). */
  @Property({ type: 'bigint', nullable: true }) progressDoneBytes: number | null = null;
  @Property({ type: 'bigint', nullable: true }) progressTotalBytes: number | null = null;
  /** Why it is ERROR, for people. */
  @Property({ type: 'text', nullable: true }) failReason: string | null = null;
  /** The operation now working on it (create, delete, restore), to recover it when that ends without an outcome. */
  @Property({ type: 'string', length: 36, nullable: true }) operationId: string | null = null;
  /** The volume a RESTORING backup is being restored into. */
  @Property({ type: 'string', length: 36, nullable: true }) restoreVolumeId: string | null = null;
  @Property({ type: 'string', length: 255, nullable: true }) idempotencyKey: string | null = null;
  @Property({ type: 'string', length: 64, nullable: true }) requestHash: string | null = null;
  @Property({ type: 'integer' }) version: number = 1;
  /** The seq of its latest change in its project's change feed (see `Volume.changeSeq`). */
  @Property({ type: new BigIntType('number'), default: 0 }) changeSeq: number = 0;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
  @Property({ type: 'datetime' }) updatedAt: Date = new Date();
  @Property({ type: 'datetime', nullable: true }) deletedAt: Date | null = null;
  /** Identity of the repository holding it (src/node-agent/backup/repository-id.ts); null for backups recorded before identities existed. */
  @Property({ type: 'string', length: 64, nullable: true }) repositoryId: string | null = null;
}

export interface BackupCasGuard {
  from: readonly BackupStatus[];
  expectedVersion?: number;
}

export type BackupChanges = Partial<
  Pick<
    Backup,
    | 'status'
    | 'name'
    | 'description'
    | 'deletedAt'
    | 'sizeBytes'
    | 'sizeGiB'
    | 'sha256'
    | 'chunkSize'
    | 'chunkCount'
    | 'codec'
    | 'dataBytes'
    | 'storedBytes'
    | 'dedupBytes'
    | 'durationMs'
    | 'changeTracking'
    | 'readBytes'
    | 'progressDoneBytes'
    | 'progressTotalBytes'
    | 'failReason'
    | 'operationId'
    | 'restoreVolumeId'
    | 'parentId'
    | 'incremental'
    | 'repository'
    | 'repositoryId'
  >
>;

/** Applies `changes` (and version + 1) when the guard holds; returns the new row, or null when it did not. */
export async function casBackup(em: EntityManager, id: string, guard: BackupCasGuard, changes: BackupChanges): Promise<Backup | null> {
  const where: FilterQuery<Backup> = { id, status: { $in: [...guard.from] } };
  if (guard.expectedVersion !== undefined) where.version = guard.expectedVersion;
  const n = await updateRows(em, Backup, where, { ...changes, updatedAt: new Date() }, ['version']);
  return n === 1 ? findBackup(em, id) : null;
}

/** The current row, read from the database (not the identity map). */
export async function findBackup(em: EntityManager, id: string): Promise<Backup | null> {
  const b = await em.findOne(Backup, { id }, { disableIdentityMap: true });
  return b && normaliseBigints(b);
}

/** The volume's newest AVAILABLE backup: the parent of its next incremental backup. */
export async function latestAvailableBackup(em: EntityManager, volumeId: string): Promise<Backup | null> {
  const b = await em.findOne(Backup, { volumeId, status: 'available' }, { orderBy: { createdAt: 'desc', id: 'desc' }, disableIdentityMap: true });
  return b && normaliseBigints(b);
}

/** A volume's backups that are not DELETED, oldest first. */
export async function backupsOfVolume(em: EntityManager, volumeId: string): Promise<Backup[]> {
  const rows = await em.find(Backup, { volumeId, status: { $ne: 'deleted' } }, { orderBy: { createdAt: 'asc', id: 'asc' }, disableIdentityMap: true });
  return rows.map(normaliseBigints);
}

/** Backups an agent is working on (CREATING, RESTORING, DELETING) that were made on `host`. */
export async function busyBackupsOnHost(em: EntityManager, host: string): Promise<Backup[]> {
  const rows = await em.find(Backup, { host, status: { $in: ['creating', 'restoring', 'deleting'] } }, { orderBy: { id: 'asc' }, disableIdentityMap: true });
  return rows.map(normaliseBigints);
}

export interface BackupListFilter {
  status?: BackupStatus[];
  volumeId?: string;
  name?: string;
  /** Only this project's backups; within a member's scope, another project matches nothing. */
  projectId?: string;
}

/** Keyset pagination in creation order; `after` is the last row's (createdAt, id). */
export async function listBackups(
  em: EntityManager,
  opts: PageRequest & { projectId: string | null; filter: BackupListFilter },
): Promise<Page<Backup>> {
  const where: FilterQuery<Backup> = {};
  if (opts.projectId) where.projectId = opts.projectId;
  where.status = opts.filter.status?.length ? { $in: opts.filter.status } : { $ne: 'deleted' };
  if (opts.filter.name !== undefined) where.name = opts.filter.name;
  if (opts.filter.volumeId !== undefined) where.volumeId = opts.filter.volumeId;
  // Both conditions hold: a member asking for another project gets an empty page.
  if (opts.filter.projectId != null) where.$and = [{ projectId: opts.filter.projectId }];
  const page = await keysetPage(em, Backup, where, { ...opts, order: 'asc' });
  return { ...page, rows: page.rows.map(normaliseBigints) };
}

const BIGINTS = ['sizeBytes', 'dataBytes', 'storedBytes', 'dedupBytes', 'readBytes', 'progressDoneBytes', 'progressTotalBytes'] as const;

/** PostgreSQL returns bigint columns as strings: numbers here (byte counts stay far below 2^53). */
export function normaliseBigints(b: Backup): Backup {
  for (const k of BIGINTS) {
    const v = b[k] as unknown;
    if (typeof v === 'string' || typeof v === 'bigint') (b as unknown as Record<string, number>)[k] = Number(v);
  }
  return b;
}

/** The API's view of a backup row (live fan-out and GraphQL). */
export function toBackupView(b: Backup): BackupView {
  return {
    id: b.id,
    projectId: b.projectId,
    volumeId: b.volumeId,
    snapshotId: b.snapshotId,
    name: b.name,
    description: b.description,
    status: b.status,
    sizeGiB: b.sizeGiB,
    sizeBytes: num(b.sizeBytes),
    parentId: b.parentId,
    incremental: !!b.incremental,
    fullReason: b.fullReason,
    forced: !!b.forced,
    repository: b.repository,
    repositoryId: b.repositoryId ?? null,
    host: b.host,
    pool: b.pool,
    sha256: b.sha256,
    chunkSize: b.chunkSize,
    chunkCount: b.chunkCount,
    codec: b.codec,
    dataBytes: num(b.dataBytes),
    storedBytes: num(b.storedBytes),
    dedupBytes: num(b.dedupBytes),
    durationMs: b.durationMs,
    changeTracking: b.changeTracking ?? null,
    readBytes: num(b.readBytes ?? null),
    progressDoneBytes: num(b.progressDoneBytes),
    progressTotalBytes: num(b.progressTotalBytes),
    failReason: b.failReason,
    restoreVolumeId: b.restoreVolumeId,
    version: b.version,
    changeSeq: Number(b.changeSeq ?? 0),
    idempotencyKey: b.idempotencyKey,
    createdAt: new Date(b.createdAt).toISOString(),
    updatedAt: new Date(b.updatedAt).toISOString(),
  };
}

function num(v: number | string | null): number | null {
  return v === null || v === undefined ? null : Number(v);
}

