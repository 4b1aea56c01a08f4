import test from 'ava';
import type { OperationFieldsFragment } from '../../../src/client/index.js';
import { snapshotFields, snapshotsTable, type SnapshotView } from '../../../src/cli/commands/views.js';

const snapshot: SnapshotView = {
  id: '5d0c3a2e-1f4b-4b8e-9c7a-3e2f1d0c9b8a',
  name: 'before-upgrade',
  description: null,
  metadata: {},
  status: 'AVAILABLE',
  sizeGiB: 20,
  volumeId: '0b5e7f5c-8a4f-4c1e-9a57-2f7d3c8e9a10',
  version: 2,
  generation: 1,
  idempotencyKey: null,
  createdAt: '2026-01-01T10:00:00.000Z',
  updatedAt: '2026-01-01T10:00:05.000Z',
};
const op: OperationFieldsFragment = { id: 'op-1', kind: 'create_snapshot', status: 'FAILED', error: { code: 'INTERNAL', retryable: false, message: 'qemu-img failed' }, createdAt: 'c', finishedAt: null };

const rows = (text: string) => text.trimEnd().split('\n').slice(2);

test('the snapshot list has one aligned row per snapshot with a human size and its volume', (t) => {
  const text = snapshotsTable([snapshot, { ...snapshot, id: 'x', name: 'b', sizeGiB: 0.5, status: 'CREATING' }]);
  t.regex(text.split('\n')[0]!, /^ID\s+NAME\s+STATUS\s+SIZE\s+VOLUME\s+CREATED$/);
  t.regex(rows(text)[0]!, /before-upgrade\s+AVAILABLE\s+20 GiB\s+0b5e7f5c-8a4f-4c1e-9a57-2f7d3c8e9a10\s+2026-01-01T10:00:00.000Z$/);
  t.regex(rows(text)[1]!, /^x\s+b\s+CREATING\s+512 MiB\s+0b5e7f5c/);
  t.is(rows(snapshotsTable([])).length, 0);
});

test('a snapshot shows field by field; its volume name, latest message and operation only when given', (t) => {
  const plain = snapshotFields(snapshot);
  t.regex(plain, /^size\s+20 GiB$/m);
  t.regex(plain, /^description\s+-$/m);
  t.regex(plain, /^volume_id\s+0b5e7f5c-8a4f-4c1e-9a57-2f7d3c8e9a10$/m);
  t.regex(plain, /^version\s+2$/m);
  t.regex(plain, /^properties\s+-$/m);
  t.regex(snapshotFields({ ...snapshot, metadata: { 'flint.stack': 'web', app: 'pg' } }), /^properties\s+app='pg', flint\.stack='web'$/m);
  t.notRegex(plain, /^volume_name/m);
  t.notRegex(plain, /^latest_message/m);
  t.notRegex(plain, /^operation/m);
  const full = snapshotFields(
    {
      ...snapshot,
      status: 'ERROR',
      volume: { id: snapshot.volumeId, name: 'db-data' },
      messages: [{ id: 'm', level: 'ERROR', event: 'create_snapshot', message: 'qemu-img failed.', resourceId: snapshot.id, resourceType: 'snapshot', createdAt: 'T', expiresAt: 'E' }],
    },
    op,
  );
  t.regex(full, /^volume_name\s+db-data$/m);
  t.regex(full, /^latest_message\s+T create_snapshot: qemu-img failed\.$/m);
  t.regex(full, /^operation\s+op-1 \(create_snapshot FAILED: INTERNAL\)$/m);
  t.notRegex(snapshotFields({ ...snapshot, volume: null }), /^volume_name/m, 'a deleted volume shows no name');
});

