import test from 'ava';
import type { OperationFieldsFragment } from '../../../src/client/index.js';
import { operationFields, operationSummary, poolsTable, servicesTable, volumeFields, volumesTable, volumeTypesTable, type PoolView, type VolumeView } from '../../../src/cli/commands/views.js';

const volume: VolumeView = {
  id: '0b5e7f5c-8a4f-4c1e-9a57-2f7d3c8e9a10',
  name: 'db-data',
  description: null,
  sizeGiB: 20,
  status: 'AVAILABLE',
  volumeType: null,
  availabilityZone: 'nova',
  metadata: { app: 'pg' },
  version: 3,
  generation: 2,
  idempotencyKey: null,
  createdAt: '2026-01-01T10:00:00.000Z',
  updatedAt: '2026-01-01T10:00:05.000Z',
  host: null,
  pool: null,
  migrationStatus: null,
  encrypted: false,
};
const op: OperationFieldsFragment = { id: 'op-1', kind: 'create_volume', status: 'FAILED', error: { code: 'NO_VALID_BACKEND', retryable: false, message: 'no pool' }, createdAt: 'c', finishedAt: null };

const rows = (text: string) => text.trimEnd().split('\n').slice(2);

test('the volume list has one aligned row per volume with a human size', (t) => {
  const text = volumesTable([volume, { ...volume, id: 'x', name: 'b', sizeGiB: 2048, volumeType: 'gold' }]);
  t.regex(text.split('\n')[0]!, /^ID\s+NAME\s+STATUS\s+SIZE\s+TYPE\s+ZONE$/);
  t.regex(rows(text)[0]!, /db-data\s+AVAILABLE\s+20 GiB\s+-\s+nova$/);
  t.regex(rows(text)[1]!, /^x\s+b\s+AVAILABLE\s+2 TiB\s+gold\s+nova$/);
});

test('a volume shows field by field; host and pool only when set, the latest message and the operation when given', (t) => {
  const plain = volumeFields(volume);
  t.regex(plain, /^size\s+20 GiB$/m);
  t.regex(plain, /^properties\s+app='pg'$/m);
  t.regex(plain, /^description\s+-$/m);
  t.notRegex(plain, /^host/m);
  t.notRegex(plain, /^operation/m);
  const full = volumeFields(
    { ...volume, status: 'ERROR', host: 'h', pool: 'h@p', messages: [{ id: 'm', level: 'ERROR', event: 'create_volume', message: 'No valid backend.', resourceId: volume.id, resourceType: 'volume', createdAt: 'T', expiresAt: 'E' }] },
    op,
  );
  t.regex(full, /^pool\s+h@p$/m);
  t.regex(full, /^latest_message\s+T create_volume: No valid backend\.$/m);
  t.regex(full, /^operation\s+op-1 \(create_volume FAILED: NO_VALID_BACKEND\)$/m);
});

test('operations summarise and show their error', (t) => {
  t.is(operationSummary({ ...op, status: 'SUCCEEDED', error: null }), 'op-1 (create_volume SUCCEEDED)');
  const text = operationFields({ ...op, resourceType: 'volume', resourceId: 'v1' });
  t.regex(text, /^resource\s+volume v1$/m);
  t.regex(text, /^error\s+NO_VALID_BACKEND: no pool$/m);
  t.regex(text, /^finished_at\s+-$/m);
});

test('pools show capacities in human sizes, right-aligned', (t) => {
  const pool: PoolView = {
    id: 'host-a@small', name: 'small', host: 'host-a', driver: 'file', availabilityZone: 'nova', state: 'UP', imageFormat: 'qcow2',
    totalCapacityGiB: 20, freeCapacityGiB: 19.5, allocatedCapacityGiB: 0.5, provisionedCapacityGiB: 0, maxOverSubscriptionRatio: 20,
    reservedPercentage: 0, thinProvisioningSupport: true, thickProvisioningSupport: false, volumeCount: 1, capabilities: {}, updatedAt: 'T',
  };
  t.regex(rows(poolsTable([pool]))[0]!, /^host-a@small\s+nova\s+UP\s+qcow2\s+20 GiB\s+19\.5 GiB\s+512 MiB\s+1$/);
});

test('services show how long ago they were heard from', (t) => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const text = servicesTable([{ role: 'agent', host: 'h', zone: 'nova', state: 'UP', version: '0.1.0', startedAt: 'S', lastHeartbeatAt: '2026-01-01T11:59:58Z' }], now);
  t.regex(rows(text)[0]!, /^agent\s+h\s+nova\s+UP\s+0\.1\.0\s+2026-01-01T11:59:58Z \(2s ago\)$/);
});

test('volume types show visibility and extra specs', (t) => {
  const text = volumeTypesTable([{ id: 't1', name: 'gold', description: null, isPublic: false, extraSpecs: { 'capabilities:tier': 'gold' }, encryption: null, createdAt: 'T' }]);
  t.regex(rows(text)[0]!, /^t1\s+gold\s+no\s+capabilities:tier='gold'\s+-$/);
});

test('a volume that was migrated shows its migration status; one never migrated does not', (t) => {
  t.notRegex(volumeFields(volume), /migration_status/);
  t.regex(volumeFields({ ...volume, migrationStatus: 'SUCCESS', host: 'host-b', pool: 'bulk' }), /migration_status\s+SUCCESS/);
});
