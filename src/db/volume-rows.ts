/**
 * A volume read without the ORM. `volume(id)` is the hottest read of the API, and MikroORM,
 * knex and a statement prepared again each time took about 45% of its CPU: this is one
 * statement, prepared once per connection (./prepared.ts), whose row becomes the VolumeView
 * directly; a page of volumes maps its rows here too (./volume-list-sql.ts). Writes stay with the
 * ORM. Pure: the SQL for each database and the mapping of their rows, which differ (SQLite:
 * datetimes as epoch milliseconds, booleans as 0/1 and metadata as JSON text; PostgreSQL:
 * timestamps as text, bigint as text, jsonb as an object). tests/integration/volume-rows.test.ts
 * checks the view against the ORM's on both.
 */
import type { VolumeView } from '../bus/contract/index.js';
import type { VolumeStatus } from '../domain/volume-states.js';
import type { MigrationStatus } from '../domain/migration.js';
import type { PreparedQuery } from './prepared.js';

/** The columns of a VolumeView; never the sealed key, only whether there is one. */
const COLUMNS = [
  'id',
  'project_id',
  'name',
  'description',
  'size_gib',
  'status',
  'volume_type',
  'availability_zone',
  'metadata',
  'version',
  'change_seq',
  'generation',
  'idempotency_key',
  'host',
  'pool',
  'snapshot_id',
  'source_volume_id',
  'migration_status',
  'multiattach',
  'created_at',
  'updated_at',
].join(', ');

export const VOLUME_BY_ID: PreparedQuery = {
  name: 'flint_volume_by_id',
  sqlite: `SELECT ${COLUMNS}, encryption_key IS NOT NULL AS encrypted FROM volume WHERE id = ?`,
  postgresql: `SELECT ${COLUMNS}, encryption_key IS NOT NULL AS encrypted FROM volume WHERE id = $1`,
};

type Row = Record<string, unknown>;

const text = (v: unknown): string => String(v);
const textOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
/** SQLite: epoch milliseconds; PostgreSQL: `2026-12-07 10:29:28.416+00`. */
const iso = (v: unknown): string => (v instanceof Date ? v : new Date(v as string | number)).toISOString();

/** The VolumeView of a row of {@link VOLUME_BY_ID}, or a whole row of the table (a page's), from either database. */
export function volumeViewOfRow(r: Row): VolumeView {
  return {
    id: text(r.id),
    projectId: text(r.project_id),
    name: text(r.name),
    description: textOrNull(r.description),
    sizeGiB: Number(r.size_gib),
    status: text(r.status) as VolumeStatus,
    volumeType: textOrNull(r.volume_type),
    availabilityZone: text(r.availability_zone),
    metadata: (typeof r.metadata === 'string' ? JSON.parse(r.metadata) : (r.metadata ?? {})) as Record<string, string>,
    version: Number(r.version),
    changeSeq: Number(r.change_seq ?? 0),
    generation: Number(r.generation),
    idempotencyKey: textOrNull(r.idempotency_key),
    host: textOrNull(r.host),
    pool: textOrNull(r.pool),
    snapshotId: textOrNull(r.snapshot_id),
    sourceVolumeId: textOrNull(r.source_volume_id),
    migrationStatus: textOrNull(r.migration_status) as MigrationStatus | null,
    multiattach: Boolean(r.multiattach),
    // VOLUME_BY_ID reads only whether there is a key; a whole row (a page's) has the sealed key itself.
    encrypted: Boolean(r.encrypted ?? r.encryption_key),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}
