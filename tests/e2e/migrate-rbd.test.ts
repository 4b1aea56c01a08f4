/**
 * migrateVolume between a file pool and an rbd pool, end to end: gateway, scheduler and two
 * agents as separate processes over a real nats-server and SQLite, host-b's pool in a real
 * Ceph cluster. The volume's bytes go in with qemu-io and are checked by sha256 of the whole
 * volume, read outside Flint (qemu-img convert of the file, `rbd export` of the image).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateVolumeDocument, MigrateVolumeDocument } from '../../src/client/index.js';
import { testRbdPool, type TestRbdPool } from '../helpers/ceph.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { rbdSha256, rbdSnapshots } from '../helpers/rbd-images.js';
import { tempDir } from '../helpers/tmp.js';
import { waitForOperation, waitForVolume } from '../helpers/wait.js';

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
});

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

test('a volume migrates from a qcow2 file pool into an rbd pool and back, with every byte', async (t) => {
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
  await run('qemu-io', ['-f', 'raw', '-c', 'write -q -P 0x77 100M 1M', `rbd:${ceph.rbdPool}/volume-${id}:conf=${ceph.conf}:id=${ceph.user}:keyring=${ceph.keyring}`]);
  const onCeph = await rbdSha256(ceph, `volume-${id}`);
  const back = await admin.request(MigrateVolumeDocument, { input: { id, host: 'host-a', pool: 'fast' } });
  t.is((await waitForOperation(admin, back.migrateVolume.operation.id, { timeoutMs: 120_000 })).status, 'SUCCEEDED');
  t.like(await waitForVolume(admin, id, (x) => x?.status === 'AVAILABLE'), { host: 'host-a', pool: 'fast' });
  t.is(await fileSha256(filePath), onCeph, 'the file holds the bytes written on Ceph');
  await waitFor(async () => (await run('rbd', ['--conf', ceph.conf, '--id', ceph.user, '--keyring', ceph.keyring, 'ls', ceph.rbdPool])).stdout.trim() === '', 20_000, () => 'the rbd image is still there');
});

test.after.always('no process is left behind', noProcessesLeft);
