/**
 * The tables of the API commands: which fields of each GraphQL object are shown, in
 * which order, and how. Pure (the current time is a parameter).
 */
import type {
  OperationFieldsFragment,
  PoolsQuery,
  ServicesQuery,
  SnapshotFieldsFragment,
  UserMessageFieldsFragment,
  VolumeFieldsFragment,
  VolumeTypeFieldsFragment,
} from '../../client/index.js';
import { cell, formatAge, formatGiB, formatProperties, NONE, renderFields, renderTable } from '../output.js';

/** A volume, with its messages when the query selected them. */
export type VolumeView = VolumeFieldsFragment & { messages?: readonly UserMessageFieldsFragment[] };
/** A snapshot, with its volume and messages when the query selected them. */
export type SnapshotView = SnapshotFieldsFragment & {
  volume?: { id: string; name: string } | null;
  messages?: readonly UserMessageFieldsFragment[];
};
/** An operation, with its resource when the query selected it. */
export type OperationView = OperationFieldsFragment & { resourceType?: string; resourceId?: string };
export type PoolView = PoolsQuery['pools'][number];
export type ServiceView = ServicesQuery['services'][number];

/** `flint volume list`. */
export function volumesTable(volumes: readonly VolumeFieldsFragment[]): string {
  return renderTable(
    ['ID', 'Name', 'Status', 'Size', 'Type', 'Zone'],
    volumes.map((v) => [v.id, v.name, v.status, formatGiB(v.sizeGiB), cell(v.volumeType), v.availabilityZone]),
    ['left', 'left', 'left', 'right'],
  );
}

/** One operation as `<id> (<kind> <status>[: <code>])`. */
export function operationSummary(op: OperationFieldsFragment): string {
  return `${op.id} (${op.kind} ${op.status}${op.error ? `: ${op.error.code}` : ''})`;
}

/**
 * `flint volume show` and the mutations: the volume's fields, its latest message when
 * any, and the operation a mutation started. `host` and `pool` appear when set (admins).
 */
export function volumeFields(v: VolumeView, op?: OperationFieldsFragment | null): string {
  const fields: Array<[string, string]> = [
    ['id', v.id],
    ['name', v.name],
    ['description', cell(v.description)],
    ['status', v.status],
    ['size', formatGiB(v.sizeGiB)],
    ['volume_type', cell(v.volumeType)],
    ['encrypted', String(v.encrypted)],
    ['availability_zone', v.availabilityZone],
    ['properties', formatProperties(v.metadata)],
    ['version', String(v.version)],
    ['created_at', v.createdAt],
    ['updated_at', v.updatedAt],
  ];
  if (v.migrationStatus) fields.push(['migration_status', v.migrationStatus]);
  if (v.host) fields.push(['host', v.host]);
  if (v.pool) fields.push(['pool', v.pool]);
  const latest = v.messages?.[0];
  if (latest) fields.push(['latest_message', `${latest.createdAt} ${latest.event}: ${latest.message}`]);
  if (op) fields.push(['operation', operationSummary(op)]);
  return renderFields(fields);
}

/** `flint snapshot list`. */
export function snapshotsTable(snapshots: readonly SnapshotFieldsFragment[]): string {
  return renderTable(
    ['ID', 'Name', 'Status', 'Size', 'Volume', 'Created'],
    snapshots.map((s) => [s.id, s.name, s.status, formatGiB(s.sizeGiB), cell(s.volumeId), s.createdAt]),
    ['left', 'left', 'left', 'right'],
  );
}

/**
 * `flint snapshot show` and the snapshot mutations: the snapshot's fields, its
 * volume's name when selected, its latest message when any, and the operation a mutation started.
 */
export function snapshotFields(s: SnapshotView, op?: OperationFieldsFragment | null): string {
  const fields: Array<[string, string]> = [
    ['id', s.id],
    ['name', s.name],
    ['description', cell(s.description)],
    ['status', s.status],
    ['size', formatGiB(s.sizeGiB)],
    ['volume_id', cell(s.volumeId)],
  ];
  if (s.volume) fields.push(['volume_name', s.volume.name]);
  fields.push(['properties', formatProperties(s.metadata)], ['version', String(s.version)], ['created_at', s.createdAt], ['updated_at', s.updatedAt]);
  const latest = s.messages?.[0];
  if (latest) fields.push(['latest_message', `${latest.createdAt} ${latest.event}: ${latest.message}`]);
  if (op) fields.push(['operation', operationSummary(op)]);
  return renderFields(fields);
}

/** `flint pool list`. */
export function poolsTable(pools: readonly PoolView[]): string {
  return renderTable(
    ['ID', 'Zone', 'State', 'Format', 'Total', 'Free', 'Allocated', 'Volumes'],
    pools.map((p) => [
      p.id,
      p.availabilityZone,
      p.state,
      p.imageFormat,
      formatGiB(p.totalCapacityGiB),
      formatGiB(p.freeCapacityGiB),
      formatGiB(p.allocatedCapacityGiB),
      String(p.volumeCount),
    ]),
    ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right'],
  );
}

/** `flint service list`, with the last heartbeat's age. */
export function servicesTable(services: readonly ServiceView[], now: number): string {
  return renderTable(
    ['Role', 'Host', 'Zone', 'State', 'Version', 'Last heartbeat'],
    services.map((s) => [s.role, s.host, s.zone, s.state, s.version, `${s.lastHeartbeatAt} (${formatAge(s.lastHeartbeatAt, now)})`]),
  );
}

/** `flint volume-type list`. */
export function volumeTypesTable(types: readonly VolumeTypeFieldsFragment[]): string {
  return renderTable(
    ['ID', 'Name', 'Public', 'Properties', 'Description'],
    types.map((t) => [t.id, t.name, t.isPublic ? 'yes' : 'no', formatProperties(t.extraSpecs), cell(t.description)]),
  );
}

/** `flint volume-type create`. */
export function volumeTypeFields(t: VolumeTypeFieldsFragment): string {
  return renderFields([
    ['id', t.id],
    ['name', t.name],
    ['description', cell(t.description)],
    ['is_public', String(t.isPublic)],
    ['properties', formatProperties(t.extraSpecs)],
    ['encryption', t.encryption ? `${t.encryption.provider} ${t.encryption.cipher} ${t.encryption.keySize}-bit` : NONE],
    ['created_at', t.createdAt],
  ]);
}

/** `flint operation show`. */
export function operationFields(op: OperationView): string {
  const fields: Array<[string, string]> = [
    ['id', op.id],
    ['kind', op.kind],
    ['status', op.status],
    ['resource', op.resourceType ? `${op.resourceType} ${cell(op.resourceId)}` : NONE],
    ['created_at', op.createdAt],
    ['finished_at', cell(op.finishedAt)],
  ];
  if (op.error) fields.push(['error', `${op.error.code}: ${op.error.message}`]);
  return renderFields(fields);
}
