/**
 * What only the `rbd` driver does, against a real Ceph cluster (tests/helpers/ceph.ts): its
 * setup errors, its refusals (encryption, clones it did not make), imports, and that
 * `imageSource` serves through qemu-nbd. The contract itself: driver-compliance.test.ts.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RbdPoolConfig } from '../../src/config/index.js';
import { DriverError, GiB, RbdDriver, type CopyProgress } from '../../src/node-agent/drivers/index.js';
import { serveNbd } from '../../src/node-agent/qemu-nbd.js';
import { testRbdPool } from '../helpers/ceph.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

async function ready(t: ExecutionContext, over: Partial<RbdPoolConfig> = {}): Promise<{ driver: RbdDriver; pool: RbdPoolConfig }> {
  const p = await testRbdPool();
  t.teardown(() => p.remove());
  const pool: RbdPoolConfig = {
    name: 'ceph',
    driver: 'rbd',
    cluster: { conf: p.conf, user: p.user, keyring: p.keyring },
    rbdPool: p.rbdPool,
    imageFormat: 'raw',
    capabilities: {},
    maxOverSubscriptionRatio: 20,
    reservedPercentage: 0,
    thinProvisioning: true,
    capacityGiB: 10,
    ...over,
  };
  const driver = new RbdDriver(pool);
  await driver.setup();
  return { driver, pool };
}

function rbdCmd(pool: RbdPoolConfig, ...args: string[]) {
  return run('rbd', ['-c', pool.cluster.conf, '--id', pool.cluster.user, '--keyring', pool.cluster.keyring!, ...args]);
}

test.serial('setup names the Ceph pool to create when it does not exist', async (t) => {
  const { pool } = await ready(t);
  const missing = new RbdDriver({ ...pool, rbdPool: 'no-such-pool' });
  const err = await t.throwsAsync(missing.setup(), { instanceOf: DriverError });
  t.regex(err!.message, /Ceph pool "no-such-pool".*does not exist: create it/);
});

test.serial('encrypted volumes are refused, not retryable, and leave nothing', async (t) => {
  const { driver } = await ready(t);
  const encryption = { sealedKey: 'x', cipher: 'aes-xts-plain64', keySize: 256 };
  const err = await t.throwsAsync(driver.createVolume('v1', 1, encryption), { instanceOf: DriverError });
  t.false(err!.retryable);
  t.regex(err!.message, /does not offer encryption/);
  await driver.createVolume('src', 1);
  t.false((await t.throwsAsync(driver.cloneVolume('v2', 1, 'src', encryption), { instanceOf: DriverError }))!.retryable);
  t.deepEqual(await driver.listVolumes(), ['src']);
});

test.serial('a snapshot another tool cloned cannot be deleted, nor its volume, until the clone is flattened', async (t) => {
  const { driver, pool } = await ready(t);
  await driver.createVolume('v1', 1);
  await driver.createSnapshot('v1', 's1');
  const snap = `${pool.rbdPool}/volume-v1@snapshot-s1`;
  await rbdCmd(pool, 'snap', 'protect', snap);
  await rbdCmd(pool, 'clone', snap, `${pool.rbdPool}/foreign`);
  for (const attempt of [driver.deleteSnapshot('v1', 's1'), driver.deleteVolume('v1')]) {
    const err = await t.throwsAsync(attempt, { instanceOf: DriverError });
    t.false(err!.retryable);
    t.regex(err!.message, /foreign.*flatten them/);
  }
  t.deepEqual(await driver.listSnapshots('v1'), ['s1']);
  await rbdCmd(pool, 'flatten', `${pool.rbdPool}/foreign`);
  await driver.deleteVolume('v1');
  t.is(await driver.getVolume('v1'), null);
});

test.serial('a volume from a snapshot is flattened: the snapshot and its volume can go at once', async (t) => {
  const { driver, pool } = await ready(t);
  const src = await driver.createVolume('src', 1);
  await run('qemu-io', ['-f', 'raw', '-c', 'write -q -P 0x42 0 1M', src.location]);
  await driver.createSnapshot('src', 's1');
  await driver.createVolumeFromSnapshot('copy', 1, 'src', 's1');
  const info = JSON.parse((await rbdCmd(pool, 'info', `${pool.rbdPool}/volume-copy`, '--format', 'json')).stdout) as { parent?: unknown };
  t.is(info.parent, undefined, 'no parent');
  await driver.deleteVolume('src');
  const { stdout } = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x42 0 1M', (await driver.getVolume('copy'))!.location]);
  t.notRegex(stdout, /Pattern verification failed/);
});

test.serial('an image served by qemu-nbd from imageSource imports into the pool with its bytes, with progress, and again as a no-op', async (t) => {
  const { driver } = await ready(t);
  const src = await driver.createVolume('src', 1);
  await run('qemu-io', ['-f', 'raw', '-c', 'write -q -P 0x7e 0 1M', src.location]);
  await driver.createSnapshot('src', 's1');
  const image = await driver.imageSource('src', 's1');
  t.like(image.rbd, { image: 'volume-src', snapshot: 'snapshot-s1' });
  t.is(image.sizeBytes, GiB);
  const dir = await tempDir('flint-rbd-nbd-');
  t.teardown(dir.cleanup);
  const server = await serveNbd({ processes: testProcesses(t), image, exportName: 'src', listen: { socket: join(dir.path, 'nbd.sock') }, readOnly: true });
  const progress: CopyProgress[] = [];
  const copy = await driver.importVolume('moved', 1, { uri: server.uri, format: 'raw' }, (p) => progress.push(p));
  t.is(copy.sizeBytes, GiB);
  t.is(progress.at(-1)?.doneBytes, 2 * GiB);
  t.is(progress.at(-1)?.totalBytes, 2 * GiB);
  await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', image.path, copy.location]);
  t.is((await driver.importVolume('moved', 1, { uri: server.uri, format: 'raw' })).location, copy.location, 'a repeat keeps the copy');
  await run('qemu-io', ['-f', 'raw', '-c', 'write -q -P 0x01 0 4k', copy.location]);
  const differs = await t.throwsAsync(driver.importVolume('moved', 1, { uri: server.uri, format: 'raw' }), { instanceOf: DriverError });
  t.false(differs!.retryable);
  t.deepEqual((await driver.listVolumes()).sort(), ['moved', 'src']);
});

test.after.always('no process is left behind', noProcessesLeft);
