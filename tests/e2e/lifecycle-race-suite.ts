/**
 * Races and lifecycle bad paths end to end (issue 3): two concurrent deletes of one
 * volume (and of one snapshot) start exactly one delete and both answer with it (deletes are
 * idempotent, issue 16), and the volume ends DELETED once with one delete operation; extend of a volume that has snapshots keeps the data (checked with qemu-io)
 * and the snapshot's; extend from a wrong state or to a smaller size is refused.
 * Registered once per database (lifecycle-race-*.test.ts).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import anyTest, { type TestFn } from 'ava';
import {
  CreateSnapshotDocument,
  CreateVolumeFromDocument,
  CreateVolumeTypeDocument,
  DeleteSnapshotDocument,
  DeleteVolumeDocument,
  ExtendVolumeDocument,
  OperationsDocument,
  RevertVolumeToSnapshotDocument,
  SnapshotDocument,
  SnapshotsDocument,
  ViewerDocument,
  VolumesDocument,
  type FlintDocument,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { waitUntil, type VolumeState } from '../helpers/wait.js';

const run = promisify(execFile);
const GiB = 1024 ** 3;

interface Ctx {
  cluster: Cluster;
  member: string;
  other: string;
}

type Vol = Pick<VolumeState, 'id' | 'status' | 'version' | 'sizeGiB' | 'host' | 'pool'>;

export function registerLifecycleRaceSuite(database: 'sqlite' | 'postgresql'): void {
  const test = anyTest as TestFn<Ctx>;

  test.before(async (t) => {
    const cluster = await startCluster({
      database,
      agents: [
        {
          host: 'host-a',
          pools: [
            { name: 'q', imageFormat: 'qcow2', capacityGiB: 100, capabilities: { tier: 'gold' } },
            { name: 'r', imageFormat: 'raw', capacityGiB: 100, capabilities: { tier: 'bronze' } },
          ],
        },
      ],
    });
    for (const tier of ['gold', 'bronze']) {
      await cluster.client().request(CreateVolumeTypeDocument, { input: { name: tier, extraSpecs: { 'capabilities:tier': tier } } });
    }
    t.context = { cluster, member: await cluster.token('alpha', 'member'), other: await cluster.token('beta', 'member') };
    // Making tokens blocks this process for a while: a keep-alive connection the gateway closed meanwhile fails once.
    for (let i = 0; i < 3; i++) await cluster.client(t.context.member).raw(ViewerDocument).catch(() => undefined);
  });

  test.after.always(async (t) => {
    await t.context.cluster?.stop();
  });

  test.afterEach.always((t) => {
    if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
  });

  const call = <D, V>(t: { context: Ctx }, doc: FlintDocument<D, V>, variables?: V) => t.context.cluster.client(t.context.member).raw(doc, variables);
  const code = errorCode;

  async function volumeStatus(t: { context: Ctx }, id: string): Promise<Vol | null> {
    const r = await t.context.cluster.client().request(VolumesDocument, { first: 500, filter: { status: ['DELETED', 'AVAILABLE', 'ERROR', 'DELETING', 'EXTENDING', 'CREATING', 'REVERTING'] } });
    return r.volumes.edges.find((e) => e.node.id === id)?.node ?? null;
  }

  /** Through the admin's list, which shows DELETED volumes too. */
  const waitVolume = async (t: { context: Ctx }, id: string, status: string): Promise<Vol> => (await waitUntil(`volume ${id} to be ${status}`, () => volumeStatus(t, id), (v) => v?.status === status, 30_000))!;

  async function availableVolume(t: { context: Ctx }, name: string, volumeType = 'gold', sizeGiB = 1): Promise<Vol> {
    const r = await t.context.cluster.client(t.context.member).request(CreateVolumeFromDocument, { input: { name, sizeGiB, volumeType } });
    return waitVolume(t, r.createVolume.volume.id, 'AVAILABLE');
  }

  async function snapshotStatus(t: { context: Ctx }, id: string): Promise<string> {
    const r = await t.context.cluster.client().request(SnapshotsDocument, { first: 500, filter: { status: ['DELETED', 'AVAILABLE', 'DELETING', 'ERROR', 'CREATING'] } });
    return r.snapshots.edges.find((e) => e.node.id === id)?.node.status ?? 'missing';
  }

  async function availableSnapshot(t: { context: Ctx }, volumeId: string, name: string): Promise<{ id: string; version: number }> {
    const flint = t.context.cluster.client(t.context.member);
    const s = (await flint.request(CreateSnapshotDocument, { input: { volumeId, name } })).createSnapshot.snapshot;
    await waitUntil(`snapshot ${s.id} to be AVAILABLE`, () => snapshotStatus(t, s.id), (st) => st === 'AVAILABLE', 30_000);
    return (await flint.request(SnapshotDocument, { id: s.id })).snapshot!;
  }

  async function operationsOf(t: { context: Ctx }, kind: string, resourceId: string): Promise<string[]> {
    const r = await t.context.cluster.client().request(OperationsDocument, { first: 500, filter: { kind } });
    return r.operations.edges
      .filter((e) => e.node.resourceId === resourceId)
      .map((e) => e.node.status);
  }

  for (const withVersion of [false, true]) {
    test.serial(`two concurrent deleteVolume${withVersion ? ' with expectedVersion' : ''}: one delete starts, both answer with it, one delete operation`, async (t) => {
      const v = await availableVolume(t, `race-${withVersion}`);
      const input = withVersion ? { id: v.id, expectedVersion: v.version } : { id: v.id };
      const results = await Promise.all([call(t, DeleteVolumeDocument, { input }), call(t, DeleteVolumeDocument, { input })]);
      t.deepEqual(results.map((r) => r.errors), [undefined, undefined], JSON.stringify(results));
      // The loser's compare-and-set failed (state or version); it then found the winner's delete under way,
      // or (a slow request beside a fast delete) the volume DELETED by it: the same operation either way.
      const [a, b] = results.map((r) => r.data!.deleteVolume);
      t.is(a!.operation!.id, b!.operation!.id);
      t.true([a, b].some((d) => d!.volume.status === 'DELETING' && !d!.alreadyDeleted));
      await waitVolume(t, v.id, 'DELETED');
      t.deepEqual(await operationsOf(t, 'delete_volume', v.id), ['SUCCEEDED'], 'exactly one delete operation');
      // A third delete is done already.
      const third = await call(t, DeleteVolumeDocument, { input: { id: v.id } });
      t.deepEqual({ alreadyDeleted: third.data?.deleteVolume.alreadyDeleted, operation: third.data?.deleteVolume.operation?.id }, { alreadyDeleted: true, operation: a!.operation!.id });
    });

    test.serial(`two concurrent deleteSnapshot${withVersion ? ' with expectedVersion' : ''}: one delete starts, both answer with it`, async (t) => {
      const v = await availableVolume(t, `snap-race-${withVersion}`);
      const s = await availableSnapshot(t, v.id, 'racy');
      const input = withVersion ? { id: s.id, expectedVersion: s.version } : { id: s.id };
      const results = await Promise.all([call(t, DeleteSnapshotDocument, { input }), call(t, DeleteSnapshotDocument, { input })]);
      t.deepEqual(results.map((r) => r.errors), [undefined, undefined], JSON.stringify(results));
      t.is(results[0]!.data!.deleteSnapshot.operation!.id, results[1]!.data!.deleteSnapshot.operation!.id);
      await waitUntil(`snapshot ${s.id} to be DELETED`, () => snapshotStatus(t, s.id), (st) => st === 'DELETED', 30_000);
      t.deepEqual(await operationsOf(t, 'delete_snapshot', s.id), ['SUCCEEDED'], 'exactly one delete operation');
      t.is((await volumeStatus(t, v.id))?.status, 'AVAILABLE', 'the volume is untouched');
    });
  }

  for (const [volumeType, format, pool] of [['gold', 'qcow2', 'q'], ['bronze', 'raw', 'r']] as const) {
    test.serial(`${format}: extend of a volume with a snapshot keeps its data and the snapshot's; revert after it is refused`, async (t) => {
      const v = await availableVolume(t, `grow-${format}`, volumeType, 1);
      const image = join(t.context.cluster.poolDir('host-a', pool), `volume-${v.id}.${format}`);
      await run('qemu-io', ['-f', format, '-c', 'write -q -P 0x11 0 1M', image]);
      const s = await availableSnapshot(t, v.id, 'before-grow');
      await run('qemu-io', ['-f', format, '-c', 'write -q -P 0x22 0 1M', image]);

      const r = await call(t, ExtendVolumeDocument, { input: { id: v.id, newSizeGiB: 2 } });
      t.falsy(r.errors, JSON.stringify(r.errors));
      const grown = await waitVolume(t, v.id, 'AVAILABLE');
      t.is(grown.sizeGiB, 2);
      const { stdout } = await run('qemu-img', ['info', '--output=json', '-U', '-f', format, image]);
      t.is((JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'], 2 * GiB);
      // The data written after the snapshot is there, the new GiB reads as zeros (qemu-io fails on a mismatch).
      await run('qemu-io', ['-f', format, '-c', 'read -q -P 0x22 0 1M', '-c', `read -q -P 0 ${GiB} 1M`, image]);
      // The snapshot still holds its bytes: a volume made from it reads the first pattern.
      const c = await call(t, CreateVolumeFromDocument, { input: { name: `from-${format}`, snapshotId: s.id } });
      t.falsy(c.errors, JSON.stringify(c.errors));
      const copy = await waitVolume(t, c.data!.createVolume.volume.id, 'AVAILABLE');
      t.is(copy.sizeGiB, 1);
      const copyImage = join(t.context.cluster.poolDir('host-a', pool), `volume-${copy.id}.${format}`);
      await run('qemu-io', ['-f', format, '-c', 'read -q -P 0x11 0 1M', copyImage]);
      // A snapshot taken before an extend cannot be reverted to (Cinder refuses too).
      const revert = await call(t, RevertVolumeToSnapshotDocument, { input: { volumeId: v.id, snapshotId: s.id } });
      t.is(code(revert), 'INVALID_STATE');
      t.regex(revert.errors![0]!.message, /extended since its snapshot/);
      await run('qemu-io', ['-f', format, '-c', 'read -q -P 0x22 0 1M', image]);
    });
  }

  test.serial('extend from a wrong state, to a smaller size or of another project\'s volume is refused; to the size it has is done already', async (t) => {
    const v = await availableVolume(t, 'shrinky', 'gold', 2);
    t.is(code(await call(t, ExtendVolumeDocument, { input: { id: v.id, newSizeGiB: 1 } })), 'BAD_USER_INPUT');
    const same = await call(t, ExtendVolumeDocument, { input: { id: v.id, newSizeGiB: 2 } });
    t.deepEqual({ errors: same.errors, operation: same.data?.extendVolume.operation }, { errors: undefined, operation: null });
    t.is(code(await t.context.cluster.client(t.context.other).raw(ExtendVolumeDocument, { input: { id: v.id, newSizeGiB: 3 } })), 'NOT_FOUND');
    const broken = await call(t, CreateVolumeFromDocument, { input: { name: 'nowhere', sizeGiB: 1, volumeType: 'gold', availabilityZone: 'no-such-zone' } });
    const errored = await waitVolume(t, broken.data!.createVolume.volume.id, 'ERROR');
    const wrong = await call(t, ExtendVolumeDocument, { input: { id: errored.id, newSizeGiB: 2 } });
    t.is(code(wrong), 'INVALID_STATE');
    t.regex(wrong.errors![0]!.message, /is ERROR and cannot be extended; allowed from: AVAILABLE/);
    t.is((await volumeStatus(t, v.id))?.sizeGiB, 2, 'unchanged');
  });
}
