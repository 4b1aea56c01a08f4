/**
 * Ceph RBD pools end to end (issue 13): a real cluster (nats-server, SQLite, gateway,
 * scheduler, one agent with a qcow2 file pool and an rbd pool on the run's Ceph cluster)
 * driven through the typed SDK. What the API says is checked against Ceph itself (`rbd ls`,
 * `rbd info`, `rbd snap ls`), the bytes of copies whole (sha256 of `rbd export`), and what a
 * consumer writes through an iSCSI export (tgt's rbd backing store) in the image. Backups and
 * migrations of rbd volumes: rbd-volumes.test.ts.
 */
import anyTest, { type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import {
  CreateAttachmentDocument,
  CreateSnapshotDocument,
  CreateVolumeDocument,
  CreateVolumeTypeDocument,
  DeleteAttachmentDocument,
  DeleteSnapshotDocument,
  DeleteVolumeDocument,
  ExtendVolumeDocument,
  type CreateVolumeInput,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testRbdPool, type TestRbdPool } from '../helpers/ceph.js';
import { iscsiImageOpts } from '../helpers/iscsi.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { qemuWriteRbd, rbd, rbdSha256, rbdSnapshots, rbdSource } from '../helpers/rbd-images.js';
import { waitForAttachment, waitForSnapshot, waitForVolume } from '../helpers/wait.js';

interface Ctx {
  cluster: Cluster;
  ceph: TestRbdPool;
  member: string;
}
const test = anyTest as TestFn<Ctx>;

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const INI = 'iqn.2026-12.test.flint:rbd-consumer';

test.before(async (t) => {
  const ceph = await testRbdPool();
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [
      {
        host: 'store-1',
        pools: [
          { name: 'files', imageFormat: 'qcow2', capacityGiB: 50 },
          { name: 'ceph', driver: 'rbd', rbdPool: ceph.rbdPool, cluster: { conf: ceph.conf, user: ceph.user, keyring: ceph.keyring } },
        ],
      },
    ],
  });
  const admin = cluster.client();
  await admin.request(CreateVolumeTypeDocument, { input: { name: 'ceph', extraSpecs: { driver: 'rbd' } } });
  t.context = { cluster, ceph, member: await cluster.token('alpha', 'member') };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
  await t.context.ceph?.remove();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

const member = (t: { context: Ctx }) => t.context.cluster.client(t.context.member);
const admin = (t: { context: Ctx }) => t.context.cluster.client();

async function available(t: { context: Ctx }, input: Partial<CreateVolumeInput> & { name: string }): Promise<{ id: string; pool: string | null | undefined }> {
  const r = await member(t).request(CreateVolumeDocument, { input: { sizeGiB: 1, volumeType: 'ceph', ...input } });
  // Read as an admin: members do not see where a volume lives.
  const v = await waitForVolume(admin(t), r.createVolume.volume.id, 'AVAILABLE', { timeoutMs: 60_000 });
  return { id: v.id, pool: v.pool };
}

const images = async (t: { context: Ctx }) => (await rbd(t.context.ceph, ['ls', t.context.ceph.rbdPool])).split('\n').filter(Boolean).sort();
const rbdSize = async (t: { context: Ctx }, image: string) => (JSON.parse(await rbd(t.context.ceph, ['info', '--format', 'json', `${t.context.ceph.rbdPool}/${image}`])) as { size: number }).size;
const source = (t: { context: Ctx }, volumeId: string, sizeBytes = GiB) => rbdSource(t.context.ceph, `volume-${volumeId}`, sizeBytes);

async function deleteVolume(t: { context: Ctx }, id: string): Promise<void> {
  await member(t).request(DeleteVolumeDocument, { input: { id } });
  await waitForVolume(member(t), id, (x) => x === null || x.status === 'DELETED', { what: `volume ${id} to be gone`, timeoutMs: 60_000 });
}

test.serial('a volume of type ceph is an RBD image: create, extend, snapshot, a volume from the snapshot and a clone hold the right bytes, delete removes every image', async (t) => {
  const vol = await available(t, { name: 'rbd-a' });
  t.is(vol.pool, 'ceph');
  t.true((await images(t)).includes(`volume-${vol.id}`), 'the image exists in the Ceph pool');
  await qemuWriteRbd(source(t, vol.id), [[0, MiB, 0x5a]]);
  const before = await rbdSha256(t.context.ceph, `volume-${vol.id}`);

  const snap = await member(t).request(CreateSnapshotDocument, { input: { volumeId: vol.id, name: 's1' } });
  const snapId = snap.createSnapshot.snapshot.id;
  await waitForSnapshot(member(t), snapId, 'AVAILABLE', { timeoutMs: 60_000 });
  t.deepEqual(await rbdSnapshots(t.context.ceph, `volume-${vol.id}`), [`snapshot-${snapId}`]);

  // Written after the snapshot: neither the volume from the snapshot nor the snapshot sees it.
  await qemuWriteRbd(source(t, vol.id), [[0, MiB, 0x11]]);
  await member(t).request(ExtendVolumeDocument, { input: { id: vol.id, newSizeGiB: 2 } });
  await waitForVolume(member(t), vol.id, 'AVAILABLE', { timeoutMs: 60_000 });
  t.is(await rbdSize(t, `volume-${vol.id}`), 2 * GiB);

  const fromSnap = await available(t, { name: 'rbd-from-snap', snapshotId: snapId });
  t.is(await rbdSha256(t.context.ceph, `volume-${fromSnap.id}`), before, 'the volume from the snapshot has the bytes of the snapshot');
  const clone = await available(t, { name: 'rbd-clone', sourceVolumeId: vol.id, sizeGiB: 2 });
  t.is(await rbdSha256(t.context.ceph, `volume-${clone.id}`), await rbdSha256(t.context.ceph, `volume-${vol.id}`), 'the clone has the bytes of its source');

  // The snapshot can go although a volume was made from it (the clone was flattened).
  await member(t).request(DeleteSnapshotDocument, { input: { id: snapId } });
  await waitForSnapshot(member(t), snapId, (x) => x === null || x.status === 'DELETED', { what: 'the snapshot to be gone', timeoutMs: 60_000 });
  for (const id of [fromSnap.id, clone.id, vol.id]) await deleteVolume(t, id);
  t.deepEqual(
    (await images(t)).filter((i) => [vol.id, fromSnap.id, clone.id].some((id) => i.includes(id))),
    [],
    'no image of a deleted volume is left in the pool',
  );
});

test.serial('iSCSI through tgt\'s rbd backing store: what a consumer writes with CHAP is in the RBD image', async (t) => {
  const vol = await available(t, { name: 'rbd-iscsi' });
  const r = await member(t).request(CreateAttachmentDocument, { input: { volumeId: vol.id, instanceId: 'vm-rbd', connector: { initiator: INI, host: 'consumer-1', ip: '127.0.0.1' } } });
  const a = (await waitForAttachment(member(t), r.createAttachment.attachment.id, (x) => x?.connectionInfo != null, { what: 'connectionInfo', timeoutMs: 60_000 }))!;
  const d = a.connectionInfo!.data;
  t.is(a.connectionInfo!.driverVolumeType, 'iscsi');
  const opts = iscsiImageOpts({ ...d, username: d.authUsername, password: d.authPassword, initiator: INI });
  const w = spawnSync('qemu-io', ['--image-opts', opts, '-c', 'write -P 0x77 1M 2M'], { encoding: 'utf8', timeout: 60_000 });
  t.is(w.status, 0, `${w.stdout}${w.stderr}`);
  await member(t).request(DeleteAttachmentDocument, { id: a.id });
  await waitForAttachment(member(t), a.id, (x) => x?.status === 'DETACHED', { what: 'DETACHED', timeoutMs: 60_000 });
  const check = spawnSync('qemu-io', ['-f', 'raw', '-c', 'read -P 0x77 1M 2M', '-c', 'read -P 0 0 1M', source(t, vol.id).path], { encoding: 'utf8', timeout: 60_000 });
  t.is(check.status, 0);
  t.notRegex(`${check.stdout}${check.stderr}`, /Pattern verification failed/);
  await deleteVolume(t, vol.id);
});

test.after.always('no process is left behind', noProcessesLeft);
