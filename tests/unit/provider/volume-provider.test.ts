import test from 'ava';
import {
  CreateVolumeDocument,
  DeleteVolumeDocument,
  FlintApiError,
  StackVolumeDocument,
  StackVolumesDocument,
  UpdateVolumeDocument,
  ViewerDocument,
  type FlintClient,
} from '../../../src/client/index.js';
import { createKey, createInput, labelsFor, ProviderError, VolumeProvider, type DesiredVolume } from '../../../src/provider/index.js';

const VOLUME = {
  id: 'v-1',
  name: 'web-db',
  description: null,
  sizeGiB: 1,
  status: 'AVAILABLE',
  volumeType: null,
  availabilityZone: 'nova',
  metadata: labelsFor('web', 'db'),
  version: 2,
  generation: 1,
  idempotencyKey: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  host: 'h',
  pool: 'p',
  migrationStatus: null,
  encrypted: false,
  multiattach: false,
  snapshotId: null,
  sourceVolumeId: null,
};

const conflict = () => new FlintApiError([{ message: 'changed', extensions: { code: 'CONFLICT' } }]);

/** A client answering from `answer(documentName, variables)`, recording each request. */
function fakeClient(answer: (doc: string, vars: Record<string, unknown>) => unknown): { client: FlintClient; sent: [string, Record<string, unknown>][] } {
  const names = new Map<unknown, string>([
    [CreateVolumeDocument, 'create'],
    [UpdateVolumeDocument, 'update'],
    [DeleteVolumeDocument, 'delete'],
    [StackVolumeDocument, 'volume'],
    [StackVolumesDocument, 'volumes'],
    [ViewerDocument, 'viewer'],
  ]);
  const sent: [string, Record<string, unknown>][] = [];
  const client = {
    async request(doc: unknown, vars: Record<string, unknown> = {}) {
      const name = names.get(doc) ?? 'unknown';
      sent.push([name, vars]);
      const a = answer(name, vars);
      if (a instanceof Error) throw a;
      return a;
    },
    async waitForVolume(id: string) {
      sent.push(['waitForVolume', { id }]);
      return { ...VOLUME, version: 4 };
    },
    async waitForOperation(id: string) {
      return { id, kind: 'create_volume', status: 'SUCCEEDED', error: null };
    },
  } as unknown as FlintClient;
  return { client, sent };
}

const desired: DesiredVolume = { resource: 'db', name: 'web-db', description: null, metadata: labelsFor('web', 'db'), sizeGiB: 1 };

test('a create whose key was spent on a deleted volume tries the next key of the sequence', async (t) => {
  const { client, sent } = fakeClient((doc, vars) => {
    if (doc === 'create') {
      const key = (vars.input as { idempotencyKey: string }).idempotencyKey;
      return key.endsWith('/1') ? { createVolume: { volume: VOLUME, operation: { id: 'op-1', status: 'PENDING' } } } : conflict();
    }
    if (doc === 'volume') return { volume: VOLUME };
    return new Error(`unexpected ${doc}`);
  });
  const made = await new VolumeProvider(client).create('web', desired);
  t.is(made.id, 'v-1');
  const keys = sent.filter(([d]) => d === 'create').map(([, v]) => (v.input as { idempotencyKey: string }).idempotencyKey);
  t.deepEqual(keys, [createKey('web', 'db', createInput(desired)), createKey('web', 'db', createInput(desired), 1)]);
});

test('an update of a volume whose fields someone changed since the plan (generation) sends nothing and reports a CONFLICT', async (t) => {
  const { client, sent } = fakeClient((doc) => (doc === 'volume' ? { volume: { ...VOLUME, version: 5, generation: 2, name: 'by-hand' } } : new Error(`unexpected ${doc}`)));
  const err = await t.throwsAsync(new VolumeProvider(client).update('db', VOLUME, [{ field: 'name', from: 'x', to: 'web-db', mutation: 'updateVolume' }]), { instanceOf: ProviderError });
  t.is(err?.code, 'CONFLICT');
  t.regex(err?.message ?? '', /was changed since it was read \(generation 1, now 2\); nothing was overwritten/);
  t.deepEqual(
    sent.map(([d]) => d),
    ['volume'],
  );
});

test('an update after a status move (same generation) is conditional on the version read just before; a race then is a CONFLICT', async (t) => {
  let reads = 0;
  const { client, sent } = fakeClient((doc) => {
    if (doc === 'update') return conflict();
    if (doc === 'volume') return { volume: { ...VOLUME, version: 5 + reads++, status: 'IN_USE' } };
    return new Error(`unexpected ${doc}`);
  });
  const err = await t.throwsAsync(new VolumeProvider(client).update('db', VOLUME, [{ field: 'name', from: 'x', to: 'web-db', mutation: 'updateVolume' }]), { instanceOf: ProviderError });
  t.is(err?.code, 'CONFLICT');
  t.regex(err?.message ?? '', /changed since it was read \(version 5, now 6, IN_USE\); nothing was overwritten/);
  t.deepEqual(
    sent.map(([d]) => d),
    ['volume', 'update', 'volume'],
  );
  t.is((sent[1]![1].input as { expectedVersion: number }).expectedVersion, 5, 'the update is conditional on the version read just before');
});

test('a delete of a volume already deleted is success', async (t) => {
  const lines: string[] = [];
  const { client } = fakeClient((doc) => {
    if (doc === 'volume') return { volume: VOLUME };
    return doc === 'delete' ? { deleteVolume: { volume: { ...VOLUME, status: 'DELETED' }, operation: null, alreadyDeleted: true } } : new Error(doc);
  });
  await new VolumeProvider(client, { report: (l) => lines.push(l) }).delete('db', { ...VOLUME, metadata: labelsFor('web', 'db') });
  t.deepEqual(lines, ['volume.db: v-1 was already deleted']);
});

test('import refuses a volume another stack owns, and sends nothing', async (t) => {
  const { client, sent } = fakeClient((doc) => (doc === 'volume' ? { volume: { ...VOLUME, metadata: labelsFor('other', 'x') } } : new Error(doc)));
  const err = await t.throwsAsync(new VolumeProvider(client).adopt('web', 'db', 'v-1'), { instanceOf: ProviderError });
  t.is(err?.code, 'CONFLICT');
  t.regex(err?.message ?? '', /belongs to stack other \(as volume\.x\)/);
  t.deepEqual(
    sent.map(([d]) => d),
    ['volume'],
  );
});

test('the stack is read from the token\'s own project, every page, by its label (a metadata filter)', async (t) => {
  const page = (nodes: unknown[], next: string | null) => ({ volumes: { edges: nodes.map((node) => ({ node })), pageInfo: { endCursor: next, hasNextPage: next !== null } } });
  const { client, sent } = fakeClient((doc, vars) => {
    if (doc === 'viewer') return { viewer: { projectId: 'p-1', projectName: 'team', role: 'MEMBER' } };
    if (doc === 'volumes') return vars.after === null ? page([VOLUME], 'c1') : page([{ ...VOLUME, id: 'v-3' }], null);
    return new Error(doc);
  });
  const found = await new VolumeProvider(client).readStack('web');
  t.deepEqual(found.map((v) => v.id), ['v-1', 'v-3']);
  const filter = { projectId: 'p-1', metadata: { 'flint.stack': 'web' } };
  t.deepEqual(
    sent.filter(([d]) => d === 'volumes').map(([, v]) => v),
    [
      { first: 500, after: null, filter },
      { first: 500, after: 'c1', filter },
    ],
  );
});

for (const status of ['CREATING', 'EXTENDING', 'RETYPING']) {
  test(`an update of a volume still ${status} (an apply stopped half-way) waits for it to end, then uses the version it ends with`, async (t) => {
    const { client, sent } = fakeClient((doc) => {
      if (doc === 'update') return { updateVolume: { volume: VOLUME, operation: null } };
      if (doc === 'volume') return { volume: { ...VOLUME, version: 5 } };
      return new Error(doc);
    });
    const lines: string[] = [];
    const creating = { ...VOLUME, status, version: 1, metadata: labelsFor('web', 'db') };
    await new VolumeProvider(client, { report: (l) => lines.push(l) }).update('db', creating, [{ field: 'description', from: null, to: 'x', mutation: 'updateVolume' }]);
    t.deepEqual(
      sent.map(([d]) => d),
      ['waitForVolume', 'update', 'volume', 'volume'],
    );
    t.is((sent[1]![1].input as { expectedVersion: number }).expectedVersion, 4);
    t.deepEqual(lines, [`volume.db: waiting for it to leave ${status}`]);
  });
}
