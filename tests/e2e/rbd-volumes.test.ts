/**
 * Migration and backups of rbd volumes, end to end: gateway, scheduler and two agents as
 * separate processes over a real nats-server and SQLite, host-b's pool in a real Ceph
 * cluster. The volumes' bytes go in with qemu-io and are checked by sha256 of the whole
 * volume, read outside Flint (qemu-img convert of the file, `rbd export` of the image).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BackupDocument, CreateVolumeDocument, CreateVolumeTypeDocument, MigrateVolumeDocument, RestoreBackupDocument } from '../../src/client/index.js';
import { testRbdPool, type TestRbdPool } from '../helpers/ceph.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { rbdSha256, rbdSnapshots } from '../helpers/rbd-images.js';
import { tempDir } from '../helpers/tmp.js';
import { waitForBackup, waitForOperation, waitForVolume } from '../helpers/wait.js';
import { takeBackup } from './backup-helpers.js';

const run = promisify(execFile);

let ceph: TestRbdPool;
let cluster: Cluster;

test.before(async () => {
  ceph = await testRbdPool();
  cluster = await startCluster({
    database: 'sqlite',
    agents: [
      // The larger pool: new volumes start on host-a.
      { host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 200 }] },
      { host: 'host-b', pools: [{ name: 'ceph', driver: 'rbd', cluster: { conf: ceph.conf, user: ceph.user, keyring: ceph.keyring }, rbdPool: ceph.rbdPool, capacityGiB: 100 }] },
    ],
  });
  await cluster.client().request(CreateVolumeTypeDocument, { input: { name: 'ceph', extraSpecs: { driver: 'rbd' } } });
});

test.afterEach.always((t) => {
  if (!t.passed && cluster) t.log(cluster.logs());
});

const rbdPath = (image: string) => `rbd:${ceph.rbdPool}/${image}:conf=${ceph.conf}:id=${ceph.user}:keyring=${ceph.keyring}`;

test.after.always(async () => {
  await cluster?.stop();
  await ceph?.remove();
});

async function fileSha256(path: string): Promise<string> {
  const dir = await tempDir('flint-migrate-rbd-');
  try {
    const raw = join(dir.path, 'v.raw');
    await run('qemu-img', ['convert', '-U', '-O', 'raw', path, raw]);
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(raw)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } finally {
    await dir.cleanup();
  }
}

test.serial('a volume migrates from a qcow2 file pool into an rbd pool and back, with every byte', async (t) => {
  t.timeout(300_000);
  const admin = cluster.client();
  const created = await admin.request(CreateVolumeDocument, { input: { name: 'traveller', sizeGiB: 1 } });
  const id = created.createVolume.volume.id;
  const v = await waitForVolume(admin, id, (x) => x?.status === 'AVAILABLE' || x?.status === 'ERROR', { what: `volume ${id} AVAILABLE`, timeoutMs: 30_000 });
  t.like(v, { status: 'AVAILABLE', host: 'host-a', pool: 'fast' });
  const filePath = join(cluster.poolDir('host-a', 'fast'), `volume-${id}.qcow2`);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -q -P 0x5a 0 1M', '-c', 'write -q -P 0xc3 512M 1M', filePath]);
  const before = await fileSha256(filePath);

  const into = await admin.request(MigrateVolumeDocument, { input: { id, host: 'host-b', pool: 'ceph' } });
  t.is((await waitForOperation(admin, into.migrateVolume.operation.id, { timeoutMs: 120_000 })).status, 'SUCCEEDED');
  t.like(await waitForVolume(admin, id, (x) => x?.status === 'AVAILABLE'), { host: 'host-b', pool: 'ceph', migrationStatus: 'SUCCESS' });
  t.is(await rbdSha256(ceph, `volume-${id}`), before, 'the rbd image holds the volume’s bytes');
  t.deepEqual(await rbdSnapshots(ceph, `volume-${id}`), []);
  await waitFor(async () => !(await fs.stat(filePath).then(() => true, () => false)), 20_000, () => `the file ${filePath} is still there`);

  // Changed on Ceph, then home again.
  await run('qemu-io', ['-f', 'raw', '-c', 'write -q -P 0x77 100M 1M', rbdPath(`volume-${id}`)]);
  const onCeph = await rbdSha256(ceph, `volume-${id}`);
  const back = await admin.request(MigrateVolumeDocument, { input: { id, host: 'host-a', pool: 'fast' } });
  t.is((await waitForOperation(admin, back.migrateVolume.operation.id, { timeoutMs: 120_000 })).status, 'SUCCEEDED');
  t.like(await waitForVolume(admin, id, (x) => x?.status === 'AVAILABLE'), { host: 'host-a', pool: 'fast' });
  t.is(await fileSha256(filePath), onCeph, 'the file holds the bytes written on Ceph');
  await waitFor(async () => !(await run('rbd', ['--conf', ceph.conf, '--id', ceph.user, '--keyring', ceph.keyring, 'ls', ceph.rbdPool])).stdout.includes(id), 20_000, () => 'the rbd image is still there');
});

test.serial('backups of a volume of type ceph: full, then an incremental through rbd diff, restored into another rbd volume with every byte', async (t) => {
  t.timeout(300_000);
  const admin = cluster.client();
  const newCephVolume = async (name: string): Promise<string> => {
    const r = await admin.request(CreateVolumeDocument, { input: { name, sizeGiB: 1, volumeType: 'ceph' } });
    const v = await waitForVolume(admin, r.createVolume.volume.id, (x) => x?.status === 'AVAILABLE' || x?.status === 'ERROR', { what: `volume ${name} AVAILABLE`, timeoutMs: 30_000 });
    t.like(v, { status: 'AVAILABLE', host: 'host-b', pool: 'ceph' });
    return r.createVolume.volume.id;
  };
  const backupRow = async (id: string) => (await admin.request(BackupDocument, { id })).backup!;
  const id = await newCephVolume('on-ceph');
  await run('qemu-io', ['-f', 'raw', '-c', 'write -q -P 0x11 0 8M', '-c', 'write -q -P 0x22 300M 4M', rbdPath(`volume-${id}`)]);

  const full = await backupRow((await takeBackup(cluster, cluster.adminToken, { volumeId: id, name: 'full' })).id);
  t.is(full.changeTracking, 'FULL');
  t.is(full.readBytes, 12 * 1024 * 1024, 'only the allocated extents');
  t.deepEqual(await rbdSnapshots(ceph, `volume-${id}`), [`backup-${full.id}`]);

  await run('qemu-io', ['-f', 'raw', '-c', 'write -q -P 0x33 1M 64k', rbdPath(`volume-${id}`)]);
  const sum = await rbdSha256(ceph, `volume-${id}`);
  const inc = await backupRow((await takeBackup(cluster, cluster.adminToken, { volumeId: id, name: 'inc', incremental: true })).id);
  t.is(inc.parentId, full.id);
  t.is(inc.changeTracking, 'RBD_DIFF', cluster.logs());
  t.is(inc.readBytes, 4 * 1024 * 1024, 'one 4 MiB chunk');
  t.deepEqual(await rbdSnapshots(ceph, `volume-${id}`), [`backup-${inc.id}`]);

  const target = await newCephVolume('restored');
  await admin.request(RestoreBackupDocument, { input: { backupId: inc.id, volumeId: target } });
  await waitForBackup(admin, inc.id, 'AVAILABLE');
  t.like(await waitForVolume(admin, target, (x) => x?.status === 'AVAILABLE' || x?.status === 'ERROR_RESTORING', { what: 'the restore to end', timeoutMs: 60_000 }), { status: 'AVAILABLE' });
  t.is(await rbdSha256(ceph, `volume-${target}`), sum);
});

test.after.always('no process is left behind', noProcessesLeft);
