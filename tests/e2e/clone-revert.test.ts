/**
 * New volumes from old and revert to snapshot, end to end: gateway, scheduler and two
 * agents (a qcow2 pool on host-a, a raw pool on host-b) as separate processes over a
 * real nats-server and SQLite. Data is written into the images with qemu-io and
 * compared with qemu-img, outside Flint.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateSnapshotDocument,
  CreateVolumeFromDocument,
  CreateVolumeTypeDocument,
  RevertVolumeToSnapshotDocument,
  VolumeDocument,
  VolumesDocument,
  type CreateVolumeInput,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { tempDir } from '../helpers/tmp.js';
import { waitForSnapshot, waitForVolume, type VolumeState } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

const run = promisify(execFile);
const MiB = 1024 ** 2;

interface Ctx {
  cluster: Cluster;
  memberA: string;
  memberB: string;
}

type Vol = VolumeState;

const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [
      { host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 100, capabilities: { tier: 'gold' } }] },
      { host: 'host-b', pools: [{ name: 'bulk', imageFormat: 'raw', capacityGiB: 200, capabilities: { tier: 'bronze' } }] },
    ],
  });
  t.context = { cluster, memberA: await cluster.token('alpha', 'member'), memberB: await cluster.token('beta', 'member') };
  for (const tier of ['gold', 'bronze', 'platinum']) {
    await cluster.client().request(CreateVolumeTypeDocument, { input: { name: tier, extraSpecs: { 'capabilities:tier': tier } } });
  }
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

const code = errorCode;

const createVolume = async (t: ExecutionContext<Ctx>, input: CreateVolumeInput, token = t.context.memberA) => t.context.cluster.client(token).raw(CreateVolumeFromDocument, { input });

const availableVolume = async (t: ExecutionContext<Ctx>, input: CreateVolumeInput): Promise<Vol> => {
  const r = await createVolume(t, input);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return waitForVolume(t.context.cluster.client(), r.data!.createVolume.volume.id, 'AVAILABLE');
};

const availableSnapshot = async (t: ExecutionContext<Ctx>, volumeId: string, name: string): Promise<string> => {
  const flint = t.context.cluster.client(t.context.memberA);
  const r = await flint.request(CreateSnapshotDocument, { input: { volumeId, name } });
  const id = r.createSnapshot.snapshot.id;
  await waitForSnapshot(flint, id, 'AVAILABLE');
  return id;
};

/** Where a volume's image is on its agent (admins see host and pool). */
const image = (t: ExecutionContext<Ctx>, v: Pick<Vol, 'id' | 'host' | 'pool'>, format: 'qcow2' | 'raw') => join(t.context.cluster.poolDir(v.host!, v.pool!), `volume-${v.id}.${format}`);

const writePattern = async (path: string, format: string, byte: number) => {
  await run('qemu-io', ['-f', format, '-c', `write -q -P 0x${byte.toString(16)} 0 1M`, path]);
};

/** The first MiB of an image, read through qemu-img outside Flint. */
const head = async (t: ExecutionContext<Ctx>, path: string, format: string): Promise<Buffer> => {
  const dir = await tempDir('flint-e2e-read-');
  t.teardown(dir.cleanup);
  const out = join(dir.path, 'head.raw');
  await run('qemu-img', ['convert', '-U', '-f', format, '-O', 'raw', path, out]);
  const handle = await fs.open(out, 'r');
  try {
    const buf = Buffer.alloc(MiB);
    await handle.read(buf, 0, MiB, 0);
    return buf;
  } finally {
    await handle.close();
  }
};

const compareEqual = async (a: string, fa: string, b: string, fb: string): Promise<boolean> => {
  try {
    await run('qemu-img', ['compare', '-U', '-f', fa, '-F', fb, a, b]);
    return true;
  } catch {
    return false;
  }
};

const asAdmin = async (t: ExecutionContext<Ctx>, id: string): Promise<Vol> => (await t.context.cluster.client().request(VolumeDocument, { id })).volume!;

for (const [volumeType, format, host, pool] of [['gold', 'qcow2', 'host-a', 'fast'], ['bronze', 'raw', 'host-b', 'bulk']] as const) {
  test.serial(`${format}: create from snapshot and clone land on the source's pool with its bytes; revert works only to the latest snapshot`, async (t) => {
    const source = await asAdmin(t, (await availableVolume(t, { name: `src-${format}`, sizeGiB: 1, volumeType })).id);
    t.like(source, { host, pool, snapshotId: null, sourceVolumeId: null });
    const srcPath = image(t, source, format);
    await writePattern(srcPath, format, 0x11);
    const snap1 = await availableSnapshot(t, source.id, `s1-${format}`);
    await writePattern(srcPath, format, 0xab);

    // From the snapshot, size defaulted: the snapshot's bytes, not the volume's current ones.
    const fromSnap = await createVolume(t, { name: `from-snap-${format}`, snapshotId: snap1 });
    t.is(fromSnap.errors, undefined, JSON.stringify(fromSnap.errors));
    t.like(fromSnap.data!.createVolume.volume, { status: 'CREATING', sizeGiB: 1, snapshotId: snap1, sourceVolumeId: null });
    t.is(fromSnap.data!.createVolume.operation.kind, 'create_volume');
    await waitForVolume(t.context.cluster.client(), fromSnap.data!.createVolume.volume.id, 'AVAILABLE');
    const copy = await asAdmin(t, fromSnap.data!.createVolume.volume.id);
    t.like(copy, { host, pool, sizeGiB: 1, snapshotId: snap1 });
    t.true((await head(t, image(t, copy, format), format)).equals(Buffer.alloc(MiB, 0x11)), 'the snapshot\'s bytes');

    // A clone, larger than its source: equal to the source now (zeros past its end).
    const cloned = await createVolume(t, { name: `clone-${format}`, sourceVolumeId: source.id, sizeGiB: 2 });
    t.is(cloned.errors, undefined, JSON.stringify(cloned.errors));
    await waitForVolume(t.context.cluster.client(), cloned.data!.createVolume.volume.id, 'AVAILABLE');
    const clone = await asAdmin(t, cloned.data!.createVolume.volume.id);
    t.like(clone, { host, pool, sizeGiB: 2, sourceVolumeId: source.id, snapshotId: null });
    t.true(await compareEqual(srcPath, format, image(t, clone, format), format), 'qemu-img compare: the clone equals its source');

    // Revert: only to the latest snapshot.
    const snap2 = await availableSnapshot(t, source.id, `s2-${format}`);
    await writePattern(srcPath, format, 0xcd);
    const older = await t.context.cluster.client(t.context.memberA).raw(RevertVolumeToSnapshotDocument, { input: { volumeId: source.id, snapshotId: snap1 } });
    t.is(code(older), 'INVALID_STATE');
    t.true(older.errors![0]!.message.includes(`the latest is ${snap2}`), older.errors![0]!.message);
    const r = await t.context.cluster.client(t.context.memberA).raw(RevertVolumeToSnapshotDocument, { input: { volumeId: source.id, snapshotId: snap2 } });
    t.is(r.errors, undefined, JSON.stringify(r.errors));
    t.is(r.data!.revertVolumeToSnapshot.volume.status, 'REVERTING');
    t.is(r.data!.revertVolumeToSnapshot.operation.kind, 'revert_volume');
    await waitForVolume(t.context.cluster.client(), source.id, 'AVAILABLE');
    t.true((await head(t, srcPath, format)).equals(Buffer.alloc(MiB, 0xab)), 'the volume has snapshot 2\'s bytes again');
    t.true((await head(t, image(t, copy, format), format)).equals(Buffer.alloc(MiB, 0x11)), 'the copy is independent');
  });
}

test.serial('bad sources and sizes are refused with the right codes', async (t) => {
  const { memberA, memberB } = t.context;
  const source = await availableVolume(t, { name: 'bad-src', sizeGiB: 2, volumeType: 'gold' });
  const snap = await availableSnapshot(t, source.id, 'bad-snap');

  const both = await createVolume(t, { name: 'both', snapshotId: snap, sourceVolumeId: source.id });
  t.is(code(both), 'BAD_USER_INPUT');
  t.regex(both.errors![0]!.message, /at most one of snapshotId and sourceVolumeId/);

  const noSize = await createVolume(t, { name: 'no-size' });
  t.is(code(noSize), 'BAD_USER_INPUT');
  t.regex(noSize.errors![0]!.message, /sizeGiB is required unless snapshotId or sourceVolumeId is given/);

  for (const input of [{ snapshotId: snap, sizeGiB: 1 }, { sourceVolumeId: source.id, sizeGiB: 1 }]) {
    const smaller = await createVolume(t, { name: 'smaller', ...input });
    t.is(code(smaller), 'BAD_USER_INPUT', JSON.stringify(input));
    t.regex(smaller.errors![0]!.message, /sizeGiB must be at least the 2 GiB/);
  }

  // Another project's volume and snapshot do not exist for this caller.
  t.is(code(await createVolume(t, { name: 'theirs', sourceVolumeId: source.id }, memberB)), 'NOT_FOUND');
  t.is(code(await createVolume(t, { name: 'theirs', snapshotId: snap }, memberB)), 'NOT_FOUND');
  t.is(code(await createVolume(t, { name: 'missing', snapshotId: '00000000-0000-0000-0000-000000000000' }, memberA)), 'NOT_FOUND');
  t.is(code(await t.context.cluster.client(memberB).raw(RevertVolumeToSnapshotDocument, { input: { volumeId: source.id, snapshotId: snap } })), 'NOT_FOUND');

  // A volume no pool can hold ends in ERROR, and cannot be cloned.
  const broken = await createVolume(t, { name: 'broken', sizeGiB: 1, volumeType: 'platinum' });
  await waitForVolume(t.context.cluster.client(), broken.data!.createVolume.volume.id, 'ERROR');
  const fromError = await createVolume(t, { name: 'from-error', sourceVolumeId: broken.data!.createVolume.volume.id });
  t.is(code(fromError), 'INVALID_STATE');
  t.regex(fromError.errors![0]!.message, /is ERROR; only an AVAILABLE volume can be cloned/);

  // Nothing was created by the refused requests.
  const list = await t.context.cluster.client(memberA).raw(VolumesDocument, { filter: { name: 'smaller' } });
  t.is(list.data!.volumes.totalCount, 0);
});

test.after.always('no process is left behind', noProcessesLeft);
