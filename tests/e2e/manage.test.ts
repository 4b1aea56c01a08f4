/**
 * manageVolume / unmanageVolume / manageableVolumes end to end (issue 3, admin actions):
 * an image made with qemu-img and a qemu-io pattern in a pool directory is adopted, read
 * back through the managed image, then given back with its bytes, on a real cluster
 * (nats-server, gateway, scheduler, agent, SQLite). Every bad path asserts its code.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import anyTest, { type TestFn } from 'ava';
import {
  CreateSnapshotDocument,
  CreateVolumeDocument,
  ExtendVolumeDocument,
  ManageableVolumesDocument,
  ManageVolumeDocument,
  OperationDocument,
  PoolsDocument,
  UnmanageVolumeDocument,
  VolumeDocument,
  VolumesDocument,
  type FlintDocument,
} from '../../src/client/index.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { waitForSnapshot, waitForVolume, type VolumeState } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

const run = promisify(execFile);
const GiB = 1024 ** 3;

interface Ctx {
  cluster: Cluster;
  member: string;
  dir: string;
}

type Vol = VolumeState;

const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [{ host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 50 }] }],
  });
  t.context = { cluster, member: await cluster.token('alpha', 'member'), dir: cluster.poolDir('host-a', 'fast') };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

/** A typed document sent as the admin: the whole answer, errors returned. */
const admin = <D, V>(t: { context: Ctx }, doc: FlintDocument<D, V>, variables?: V) => t.context.cluster.client().raw(doc, variables);
/** The same as another token (`null`: none). */
const as = <D, V>(t: { context: Ctx }, token: string | null, doc: FlintDocument<D, V>, variables?: V) => t.context.cluster.client(token).raw(doc, variables);
const code = errorCode;

function data<T>(r: { data?: T | null; errors?: unknown[] }): T {
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data!;
}

async function volume(t: { context: Ctx }, id: string): Promise<Vol | null> {
  return data(await admin(t, VolumeDocument, { id })).volume;
}

/** Waits until the volume is neither CREATING, DELETING nor EXTENDING. */
const settle = async (t: { context: Ctx }, id: string): Promise<Vol> =>
  (await waitForVolume(t.context.cluster.client(), id, (v) => v !== null && !['CREATING', 'DELETING', 'EXTENDING'].includes(v.status), { what: `volume ${id} to settle`, timeoutMs: 30_000 }))!;

/** Status as the database has it, DELETED included (the volume query hides DELETED ones). */
async function statusOf(t: { context: Ctx }, id: string): Promise<string> {
  const r = data(
    await admin(t, VolumesDocument, { first: 500, filter: { status: ['DELETED'] } }),
  );
  return r.volumes.edges.find((e) => e.node.id === id)?.node.status ?? (await volume(t, id))?.status ?? 'gone';
}

async function sha(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function allocated(t: { context: Ctx }): Promise<number> {
  const pools = data(await admin(t, PoolsDocument)).pools;
  return pools.find((p) => p.id === 'host-a@fast')!.allocatedCapacityGiB;
}

test.serial('an image made with qemu-img is managed with its bytes, then unmanaged with them kept', async (t) => {
  const { dir } = t.context;
  const file = join(dir, 'legacy.raw');
  await run('qemu-img', ['create', '-q', '-f', 'raw', file, String(GiB + 512 * 1024)]);
  await run('qemu-io', ['-f', 'raw', '-c', 'write -q -P 0xa5 0 1M', '-c', `write -q -P 0x3c ${GiB} 512k`, file]);

  const offered = data(
    await admin(t, ManageableVolumesDocument, { host: 'host-a', pool: 'fast' }),
  ).manageableVolumes;
  t.deepEqual(offered, [{ reference: 'legacy.raw', sizeBytes: GiB + 512 * 1024, sizeGiB: 2, format: 'raw', safeToManage: true, reasonNotSafe: null }]);

  const before = await allocated(t);
  const r = data(
    await admin(t, ManageVolumeDocument, { input: { host: 'host-a', pool: 'fast', reference: 'legacy.raw', name: 'legacy', projectId: null } }),
  ).manageVolume;
  t.is(r.volume.status, 'CREATING');
  t.is(r.operation.kind, 'manage_volume');
  const managed = await settle(t, r.volume.id);
  t.is(managed.status, 'AVAILABLE');
  t.is(managed.sizeGiB, 2, 'rounded up to whole GiB');
  t.is(managed.host, 'host-a');
  t.is(managed.pool, 'fast');
  t.is(await allocated(t), before + 2, 'its capacity is reserved on the pool');
  const op = data(await admin(t, OperationDocument, { id: r.operation.id })).operation!;
  t.is(op.status, 'SUCCEEDED');

  // The pattern reads back from the managed image (qemu-io exits non-zero on a mismatch).
  const image = join(dir, `volume-${managed.id}.raw`);
  await t.throwsAsync(fs.stat(file), undefined, 'the file was renamed into the driver naming');
  await run('qemu-io', ['-f', 'raw', '-c', 'read -q -P 0xa5 0 1M', '-c', `read -q -P 0x3c ${GiB} 512k`, '-c', `read -q -P 0 ${GiB + 512 * 1024} 512k`, image]);
  t.is((await fs.stat(image)).size, 2 * GiB);
  const bytes = await sha(image);
  t.deepEqual(data(await admin(t, ManageableVolumesDocument, { host: 'host-a', pool: 'fast' })).manageableVolumes, []);

  const u = data(await admin(t, UnmanageVolumeDocument, { input: { id: managed.id, expectedVersion: managed.version } })).unmanageVolume;
  t.is(u.volume.status, 'DELETING');
  t.is(u.operation.kind, 'unmanage_volume');
  await waitFor(async () => (await statusOf(t, managed.id)) === 'DELETED', 30_000, () => 'the volume did not become DELETED');
  const kept = join(dir, `unmanaged-volume-${managed.id}.raw`);
  t.is(await sha(kept), bytes, 'same bytes');
  await t.throwsAsync(fs.stat(image));
  t.is(await allocated(t), before, 'its capacity is released');
  const listed = data(await admin(t, VolumesDocument, { first: 500 }));
  t.false(listed.volumes.edges.some((e) => e.node.id === managed.id));
  const again = data(await admin(t, ManageableVolumesDocument, { host: 'host-a', pool: 'fast' })).manageableVolumes;
  t.deepEqual(again.map((m) => [m.reference, m.safeToManage]), [[`unmanaged-volume-${managed.id}.raw`, true]]);

  // The agent's start-up reconciliation does not take the unmanaged file for an orphan volume.
  await t.context.cluster.restartAgent('host-a');
  const reconciled = () => t.context.cluster.logs().split('\n').filter((l) => l.includes('start-up reconciliation done'));
  await waitFor(async () => reconciled().length >= 2, 30_000, () => 'the restarted agent did not reconcile');
  t.regex(reconciled().at(-1)!, /"orphans":0/);
  t.false(t.context.cluster.logs().includes(`"volumeId":"${managed.id}","path"`), 'not reported as an orphan');
  t.is(await sha(kept), bytes);
});

test.serial('a reference that is missing or unsuitable leaves the volume ERROR with a message and the file untouched', async (t) => {
  const { dir } = t.context;
  const missing = data(await admin(t, ManageVolumeDocument, { input: { host: 'host-a', pool: 'fast', reference: 'nothing-here.qcow2', name: 'ghost' } })).manageVolume;
  const ghost = await settle(t, missing.volume.id);
  t.is(ghost.status, 'ERROR');
  t.is(ghost.messages[0]?.event, 'manage_volume');
  t.regex(ghost.messages[0]!.message, /nothing-here\.qcow2 does not exist/);

  await run('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'base.qcow2'), '1G']);
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', join(dir, 'overlay.qcow2')]);
  const before = await sha(join(dir, 'overlay.qcow2'));
  const backed = data(await admin(t, ManageVolumeDocument, { input: { host: 'host-a', pool: 'fast', reference: 'overlay.qcow2', name: 'backed' } })).manageVolume;
  const failed = await settle(t, backed.volume.id);
  t.is(failed.status, 'ERROR');
  t.regex(failed.messages[0]!.message, /backing file/);
  t.is(await sha(join(dir, 'overlay.qcow2')), before, 'untouched');
  const flagged = data(
    await admin(t, ManageableVolumesDocument, { host: 'host-a', pool: 'fast' }),
  ).manageableVolumes.find((m) => m.reference === 'overlay.qcow2');
  t.false(flagged?.safeToManage);
  t.regex(flagged?.reasonNotSafe ?? '', /backing file/);

  // An ERROR volume of a failed manage is unmanaged without touching anything.
  await admin(t, UnmanageVolumeDocument, { input: { id: failed.id } });
  await waitFor(async () => (await statusOf(t, failed.id)) === 'DELETED', 30_000, () => 'not DELETED');
  t.is(await sha(join(dir, 'overlay.qcow2')), before);
});

test.serial('manage bad paths answer their codes and make no volume', async (t) => {
  const count = async () => data(await admin(t, VolumesDocument, {})).volumes.totalCount;
  const n = await count();
  const input = { host: 'host-a', pool: 'fast', reference: 'x.raw', name: 'bad' };
  t.is(code(await admin(t, ManageVolumeDocument, { input: { ...input, host: 'host-zz' } })), 'NO_VALID_BACKEND');
  t.is(code(await admin(t, ManageVolumeDocument, { input: { ...input, pool: 'slow' } })), 'NO_VALID_BACKEND');
  t.is(code(await admin(t, ManageVolumeDocument, { input: { ...input, reference: '../etc/passwd' } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, ManageVolumeDocument, { input: { ...input, reference: '.hidden' } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, ManageVolumeDocument, { input: { ...input, name: '' } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, ManageVolumeDocument, { input: { ...input, availabilityZone: 'elsewhere' } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, ManageVolumeDocument, { input: { ...input, volumeType: 'no-such-type' } })), 'NOT_FOUND');
  t.is(code(await admin(t, ManageVolumeDocument, { input: { ...input, projectId: '00000000-0000-0000-0000-000000000000' } })), 'NOT_FOUND');
  t.is(code(await as(t, t.context.member, ManageVolumeDocument, { input })), 'FORBIDDEN');
  t.is(code(await as(t, null, ManageVolumeDocument, { input })), 'UNAUTHENTICATED');
  t.is(code(await as(t, t.context.member, ManageableVolumesDocument, { host: 'host-a', pool: 'fast' })), 'FORBIDDEN');
  t.is(code(await admin(t, ManageableVolumesDocument, { host: 'host-a', pool: 'slow' })), 'NO_VALID_BACKEND');

  // A file that is a volume already.
  const created = data(await admin(t, CreateVolumeDocument, { input: { name: 'real', sizeGiB: 1 } })).createVolume.volume;
  const real = await settle(t, created.id);
  const own = await admin(t, ManageVolumeDocument, { input: { ...input, reference: `volume-${real.id}.qcow2` } });
  t.is(code(own), 'BAD_USER_INPUT');
  t.regex(own.errors![0]!.message, /image of a Flint volume/);
  t.is(await count(), n + 1, 'only the volume created on purpose');

  // Idempotency: the same key and request give the same volume; other parameters are CONFLICT.
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', join(t.context.dir, 'keyed.qcow2'), '1G']);
  const keyed = { host: 'host-a', pool: 'fast', reference: 'keyed.qcow2', name: 'keyed', idempotencyKey: 'k-1' };
  const first = data(await admin(t, ManageVolumeDocument, { input: keyed })).manageVolume.volume;
  const second = data(await admin(t, ManageVolumeDocument, { input: keyed })).manageVolume.volume;
  t.is(second.id, first.id);
  t.is(code(await admin(t, ManageVolumeDocument, { input: { ...keyed, name: 'other' } })), 'CONFLICT');
  t.is((await settle(t, first.id)).status, 'AVAILABLE');
});

test.serial('unmanage bad paths answer their codes', async (t) => {
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', join(t.context.dir, 'snappy.qcow2'), '1G']);
  const m = data(await admin(t, ManageVolumeDocument, { input: { host: 'host-a', pool: 'fast', reference: 'snappy.qcow2', name: 'snappy' } })).manageVolume.volume;
  const v = await settle(t, m.id);
  t.is(code(await as(t, t.context.member, UnmanageVolumeDocument, { input: { id: v.id } })), 'FORBIDDEN');
  t.is(code(await admin(t, UnmanageVolumeDocument, { input: { id: '00000000-0000-0000-0000-000000000000' } })), 'NOT_FOUND');
  t.is(code(await admin(t, UnmanageVolumeDocument, { input: { id: v.id, expectedVersion: v.version + 5 } })), 'CONFLICT');
  const snap = data(
    await admin(t, CreateSnapshotDocument, { input: { volumeId: v.id, name: 's' } }),
  ).createSnapshot.snapshot;
  await waitForSnapshot(t.context.cluster.client(), snap.id, 'AVAILABLE', { timeoutMs: 30_000 });
  const withSnap = await admin(t, UnmanageVolumeDocument, { input: { id: v.id } });
  t.is(code(withSnap), 'INVALID_STATE');
  t.regex(withSnap.errors![0]!.message, /1 snapshot/);
  // While the volume is busy (EXTENDING), an unmanage is refused by its state.
  const ext = await admin(t, ExtendVolumeDocument, { input: { id: v.id, newSizeGiB: 2 } });
  t.falsy(ext.errors);
  const busy = await admin(t, UnmanageVolumeDocument, { input: { id: v.id } });
  t.true(['INVALID_STATE'].includes(code(busy) ?? ''), JSON.stringify(busy.errors));
  await settle(t, v.id);
  t.is((await volume(t, v.id))?.status, 'AVAILABLE', 'nothing changed by the refusals');
});

test.after.always('no process is left behind', noProcessesLeft);
