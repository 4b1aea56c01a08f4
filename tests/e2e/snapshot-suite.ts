/**
 * Snapshots end to end: gateway, scheduler and two agents (a qcow2 pool on host-a, a raw
 * pool on host-b) as separate processes over a real nats-server and database, driven
 * through HTTP and a real graphql-ws client. Registered once per database
 * (snapshot-*.test.ts).
 */
import anyTest, { type TestFn } from 'ava';
import {
  CreateSnapshotDocument,
  CreateVolumeDocument,
  CreateVolumeTypeDocument,
  DeleteSnapshotDocument,
  DeleteVolumeDocument,
  NodeDocument,
  OperationDocument,
  SnapshotChangedDocument,
  SnapshotDocument,
  SnapshotNodeDocument,
  SnapshotsDocument,
  UpdateSnapshotDocument,
  VolumeChangedDocument,
  VolumeSnapshotsDocument,
  type CreateSnapshotInput,
  type FlintApiError,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { EventLog, waitForSnapshot, waitForVolume, type SnapshotState, type VolumeState } from '../helpers/wait.js';

interface Ctx {
  cluster: Cluster;
  memberA: string;
  memberB: string;
  readerA: string;
}

type Vol = VolumeState;
type Snap = SnapshotState;

export function registerSnapshotSuite(database: 'sqlite' | 'postgresql'): void {
  const test = anyTest as TestFn<Ctx>;

  test.before(async (t) => {
    const cluster = await startCluster({
      database,
      agents: [
        { host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 100, capabilities: { tier: 'gold' } }] },
        { host: 'host-b', pools: [{ name: 'bulk', imageFormat: 'raw', capacityGiB: 200, capabilities: { tier: 'bronze' } }] },
      ],
    });
    t.context = {
      cluster,
      memberA: await cluster.token('alpha', 'member'),
      memberB: await cluster.token('beta', 'member'),
      readerA: await cluster.token('alpha', 'reader'),
    };
    for (const tier of ['gold', 'bronze']) {
      await cluster.client().request(CreateVolumeTypeDocument, { input: { name: tier, extraSpecs: { 'capabilities:tier': tier } } });
    }
  });

  test.after.always(async (t) => {
    await t.context.cluster?.stop();
  });

  test.afterEach.always((t) => {
    if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
  });

  const flint = (t: { context: Ctx }, token: string) => t.context.cluster.client(token);
  const code = errorCode;

  /** A volume of the given type (gold: qcow2 on host-a, bronze: raw on host-b), AVAILABLE. */
  const availableVolume = async (t: { context: Ctx }, token: string, name: string, volumeType = 'gold', sizeGiB = 1): Promise<Vol> => {
    const r = await flint(t, token).request(CreateVolumeDocument, { input: { name, sizeGiB, volumeType } });
    return waitForVolume(flint(t, token), r.createVolume.volume.id, 'AVAILABLE');
  };
  const create = (t: { context: Ctx }, token: string, input: CreateSnapshotInput) => flint(t, token).raw(CreateSnapshotDocument, { input });
  const get = async (t: { context: Ctx }, token: string, id: string) => (await flint(t, token).request(SnapshotDocument, { id })).snapshot;
  const snapshotChanges = (t: { context: Ctx }, token: string, id: string) => EventLog.of(flint(t, token).subscribe(SnapshotChangedDocument, { id }), `snapshotChanged of ${id}`, (e) => e.snapshotChanged);
  const volumeChanges = (t: { context: Ctx }, token: string, id: string) => EventLog.of(flint(t, token).subscribe(VolumeChangedDocument, { id }), `volumeChanged of ${id}`, (e) => e.volumeChanged);
  /** An AVAILABLE snapshot of `volume`. */
  const availableSnapshot = async (t: { context: Ctx }, token: string, volume: Vol, name: string): Promise<Snap> => {
    const r = await create(t, token, { volumeId: volume.id, name });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return waitForSnapshot(flint(t, token), r.data!.createSnapshot.snapshot.id, 'AVAILABLE');
  };

  for (const [volumeType, format] of [['gold', 'qcow2'], ['bronze', 'raw']] as const) {
    test.serial(`a snapshot of an AVAILABLE ${format} volume turns AVAILABLE on snapshotChanged and is listed on the volume`, async (t) => {
      const token = t.context.memberA;
      const volume = await availableVolume(t, token, `snap-src-${format}`, volumeType, 2);
      const r = await create(t, token, { volumeId: volume.id, name: `first-${format}`, description: 'before the upgrade' });
      t.falsy(r.errors, JSON.stringify(r.errors));
      const { snapshot, operation } = r.data!.createSnapshot;
      t.is(snapshot.status, 'CREATING');
      t.is(snapshot.sizeGiB, 2);
      t.is(snapshot.volumeId, volume.id);
      t.like(operation, { kind: 'create_snapshot', resourceType: 'snapshot', resourceId: snapshot.id });
      const sub = snapshotChanges(t, token, snapshot.id);
      const available = await sub.waitFor((s) => s.status === 'AVAILABLE');
      sub.close();
      t.true(available.version > snapshot.version);

      const v = (await flint(t, token).request(VolumeSnapshotsDocument, { id: volume.id })).volume!;
      t.is(v.status, 'AVAILABLE', 'taking a snapshot leaves the volume AVAILABLE');
      t.true(v.version > volume.version, 'the volume\'s version grew');
      t.deepEqual(v.snapshots.map((s) => s.id), [snapshot.id]);
      const got = await get(t, token, snapshot.id);
      t.is(got?.volume?.id, volume.id);
      t.is(got?.description, 'before the upgrade');
      const list = (await flint(t, token).request(SnapshotsDocument, { filter: { volumeId: volume.id } })).snapshots;
      t.is(list.totalCount, 1);
      const node = (await flint(t, token).request(SnapshotNodeDocument, { id: snapshot.id })).node;
      t.deepEqual(node, { id: snapshot.id, status: 'AVAILABLE' });
      const op = (await flint(t, token).request(OperationDocument, { id: operation.id })).operation!;
      t.is(op.status, 'SUCCEEDED');
    });
  }

  test.serial('the same idempotency key returns the same snapshot; other parameters with it are a CONFLICT', async (t) => {
    const token = t.context.memberA;
    const volume = await availableVolume(t, token, 'idem-src');
    const input = { volumeId: volume.id, name: 'idem', idempotencyKey: `snap-key-${database}` };
    const [a, b] = await Promise.all([create(t, token, input), create(t, token, input)]);
    const c = await create(t, token, input);
    t.falsy(a.errors, JSON.stringify(a.errors));
    t.falsy(b.errors, JSON.stringify(b.errors));
    t.is(a.data!.createSnapshot.snapshot.id, b.data!.createSnapshot.snapshot.id);
    t.is(a.data!.createSnapshot.snapshot.id, c.data!.createSnapshot.snapshot.id);
    t.is(a.data!.createSnapshot.operation.id, c.data!.createSnapshot.operation.id);
    await waitForSnapshot(flint(t, token), a.data!.createSnapshot.snapshot.id, 'AVAILABLE');
    const list = (await flint(t, token).request(SnapshotsDocument, { filter: { name: 'idem' } })).snapshots;
    t.is(list.totalCount, 1);
    t.is(code(await create(t, token, { ...input, name: 'other' })), 'CONFLICT');
    // Snapshots of one volume taken at the same time both succeed (the volume's version only fences deletes).
    const both = await Promise.all([create(t, token, { volumeId: volume.id, name: 'par-1' }), create(t, token, { volumeId: volume.id, name: 'par-2' })]);
    t.deepEqual(both.map((r) => r.errors), [undefined, undefined]);
    await Promise.all(both.map((r) => waitForSnapshot(flint(t, token), r.data!.createSnapshot.snapshot.id, 'AVAILABLE')));
  });

  test.serial('a snapshot of a CREATING or ERROR volume is INVALID_STATE, naming the state', async (t) => {
    const token = t.context.memberA;
    await t.context.cluster.stopAgent('host-b');
    try {
      const r = await flint(t, token).raw(CreateVolumeDocument, { input: { name: 'waiting', sizeGiB: 1, volumeType: 'bronze' } });
      const creating = r.data!.createVolume.volume;
      const s = await create(t, token, { volumeId: creating.id, name: 'too-early' });
      t.is(code(s), 'INVALID_STATE');
      t.regex(s.errors![0]!.message, /is CREATING and cannot be snapshotted; allowed from: AVAILABLE/);
      t.regex(s.errors![0]!.message, /force/);
      const forced = await create(t, token, { volumeId: creating.id, name: 'too-early', force: true });
      t.is(code(forced), 'INVALID_STATE');
    } finally {
      t.context.cluster.startAgent('host-b');
    }
    const failed = await flint(t, token).raw(CreateVolumeDocument, { input: { name: 'too-big', sizeGiB: 60_000 } });
    const error = await waitForVolume(flint(t, token), failed.data!.createVolume.volume.id, 'ERROR');
    const s = await create(t, token, { volumeId: error.id, name: 'of-error' });
    t.is(code(s), 'INVALID_STATE');
    t.regex(s.errors![0]!.message, /is ERROR and cannot be snapshotted/);
    t.is(code(await create(t, token, { volumeId: '00000000-0000-0000-0000-000000000000', name: 'nothing' })), 'NOT_FOUND');
    t.is(code(await create(t, token, { volumeId: error.id, name: '' })), 'BAD_USER_INPUT');
  });

  test.serial('a volume with snapshots is not deleted without cascade; with cascade it and its snapshots end DELETED', async (t) => {
    const token = t.context.memberA;
    for (const volumeType of ['gold', 'bronze']) {
      const volume = await availableVolume(t, token, `cascade-${volumeType}`, volumeType);
      const s1 = await availableSnapshot(t, token, volume, 'one');
      const s2 = await availableSnapshot(t, token, volume, 'two');
      const refused = await flint(t, token).raw(DeleteVolumeDocument, { input: { id: volume.id } });
      t.is(code(refused), 'INVALID_STATE');
      t.regex(refused.errors![0]!.message, /has 2 snapshots; delete them first or pass cascade: true/);
      const subs = [s1, s2].map((s) => snapshotChanges(t, token, s.id));
      await Promise.all(subs.map((sub) => sub.waitFor((s) => s.status === 'AVAILABLE')));
      const volumeSub = volumeChanges(t, token, volume.id);
      await volumeSub.waitFor((v) => v.status === 'AVAILABLE');
      const r = await flint(t, token).raw(DeleteVolumeDocument, { input: { id: volume.id, cascade: true } });
      t.falsy(r.errors, JSON.stringify(r.errors));
      t.is(r.data!.deleteVolume.volume.status, 'DELETING');
      for (const sub of subs) {
        await sub.waitFor((s) => s.status === 'DELETED');
        await sub.waitEnd();
        t.truthy(sub.values.find((s) => s.status === 'DELETING'));
      }
      await volumeSub.waitFor((v) => v.status === 'DELETED');
      volumeSub.close();
      t.is(await get(t, token, s1.id), null);
      const deleted = (await flint(t, token).request(SnapshotsDocument, { filter: { volumeId: volume.id, status: ['DELETED'] } })).snapshots;
      t.deepEqual(deleted.edges.map((e) => e.node.id).sort(), [s1.id, s2.id].sort());
    }
  });

  test.serial('a volume delete that read the version before a snapshot was taken is a CONFLICT', async (t) => {
    const token = t.context.memberA;
    const volume = await availableVolume(t, token, 'raced');
    const s = await create(t, token, { volumeId: volume.id, name: 'meanwhile' });
    t.falsy(s.errors);
    const r = await flint(t, token).raw(DeleteVolumeDocument, { input: { id: volume.id, expectedVersion: volume.version, cascade: true } });
    t.is(code(r), 'CONFLICT');
    await waitForSnapshot(flint(t, token), s.data!.createSnapshot.snapshot.id, 'AVAILABLE');
  });

  test.serial('deleting a snapshot ends DELETED on the subscription, which completes; the volume can then be deleted', async (t) => {
    const token = t.context.memberA;
    for (const volumeType of ['gold', 'bronze']) {
      const volume = await availableVolume(t, token, `del-${volumeType}`, volumeType);
      const snap = await availableSnapshot(t, token, volume, 'short-lived');
      const sub = snapshotChanges(t, token, snap.id);
      await sub.waitFor((s) => s.status === 'AVAILABLE');
      const r = await flint(t, token).raw(DeleteSnapshotDocument, { input: { id: snap.id, expectedVersion: snap.version } });
      t.falsy(r.errors, JSON.stringify(r.errors));
      t.is(r.data!.deleteSnapshot.snapshot.status, 'DELETING');
      t.is(r.data!.deleteSnapshot.operation!.kind, 'delete_snapshot');
      await sub.waitFor((s) => s.status === 'DELETED');
      await sub.waitEnd();
      t.is(await get(t, token, snap.id), null);
      // Deleting it again is done already (idempotent).
      const again = await flint(t, token).raw(DeleteSnapshotDocument, { input: { id: snap.id } });
      t.deepEqual({ errors: again.errors, alreadyDeleted: again.data?.deleteSnapshot.alreadyDeleted }, { errors: undefined, alreadyDeleted: true });
      const volumeSub = volumeChanges(t, token, volume.id);
      await volumeSub.waitFor((v) => v.status === 'AVAILABLE');
      const del = await flint(t, token).raw(DeleteVolumeDocument, { input: { id: volume.id } });
      t.falsy(del.errors, JSON.stringify(del.errors));
      await volumeSub.waitFor((v) => v.status === 'DELETED');
      volumeSub.close();
    }
  });

  test.serial('update renames a snapshot; a stale expectedVersion is a CONFLICT', async (t) => {
    const token = t.context.memberA;
    const volume = await availableVolume(t, token, 'rename-src');
    const snap = await availableSnapshot(t, token, volume, 'old-name');
    const ok = await flint(t, token).raw(UpdateSnapshotDocument, { input: { id: snap.id, name: 'new-name', expectedVersion: snap.version } });
    t.falsy(ok.errors, JSON.stringify(ok.errors));
    t.is(ok.data!.updateSnapshot.snapshot.name, 'new-name');
    t.is(ok.data!.updateSnapshot.snapshot.version, snap.version + 1);
    t.like(ok.data!.updateSnapshot.operation, { kind: 'update_snapshot', status: 'SUCCEEDED' });
    const stale = await flint(t, token).raw(UpdateSnapshotDocument, { input: { id: snap.id, description: 'late', expectedVersion: snap.version } });
    t.is(code(stale), 'CONFLICT');
    t.regex(stale.errors![0]!.message, /not the expected/);
    t.is(code(await flint(t, token).raw(UpdateSnapshotDocument, { input: { id: snap.id } })), 'BAD_USER_INPUT');
    t.is(code(await flint(t, token).raw(DeleteSnapshotDocument, { input: { id: snap.id, expectedVersion: snap.version } })), 'CONFLICT');
  });

  test.serial('another project can neither see, change, delete nor follow a snapshot; readers cannot create one', async (t) => {
    const { memberA, memberB, readerA } = t.context;
    const volume = await availableVolume(t, memberA, 'private-src');
    const snap = await availableSnapshot(t, memberA, volume, 'private');
    t.is(await get(t, memberB, snap.id), null);
    const node = (await flint(t, memberB).request(NodeDocument, { id: snap.id })).node;
    t.is(node, null);
    const listB = (await flint(t, memberB).request(SnapshotsDocument, {})).snapshots;
    t.false(listB.edges.some((e) => e.node.id === snap.id));
    t.is(code(await flint(t, memberB).raw(UpdateSnapshotDocument, { input: { id: snap.id, name: 'mine' } })), 'NOT_FOUND');
    t.is(code(await flint(t, memberB).raw(DeleteSnapshotDocument, { input: { id: snap.id } })), 'NOT_FOUND');
    t.is(code(await create(t, memberB, { volumeId: volume.id, name: 'steal' })), 'NOT_FOUND');
    const subB = snapshotChanges(t, memberB, snap.id);
    const err = ((await subB.waitError()) as FlintApiError).errors;
    t.is(err[0]?.extensions?.code, 'NOT_FOUND');
    t.is(subB.values.length, 0);
    const readerSees = await get(t, readerA, snap.id);
    t.is(readerSees?.id, snap.id);
    t.is(code(await create(t, readerA, { volumeId: volume.id, name: 'nope' })), 'FORBIDDEN');
    t.is(code(await flint(t, readerA).raw(DeleteSnapshotDocument, { input: { id: snap.id } })), 'FORBIDDEN');
    const admin = await get(t, t.context.cluster.adminToken, snap.id);
    t.is(admin?.id, snap.id, 'admins see every project');
  });
}
