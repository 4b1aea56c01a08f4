/** Behaviours of the `file` driver beyond the common contract: crash safety, capacity cap, file names. */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FilePoolConfig } from '../../src/config/index.js';
import { DriverError, FileDriver, GiB } from '../../src/node-agent/index.js';
import { filePoolConfig } from '../helpers/file-pool.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

const run = promisify(execFile);

async function pool(t: ExecutionContext, over: Partial<FilePoolConfig> = {}): Promise<FilePoolConfig> {
  const dir = await tempDir('flint-file-driver-');
  t.teardown(dir.cleanup);
  return filePoolConfig(join(dir.path, 'pool'), over);
}

test('a thick create that does not fit fails as retryable and leaves no file behind', async (t) => {
  const p = await pool(t, { imageFormat: 'raw', thinProvisioning: false });
  const driver = new FileDriver(p);
  await driver.setup();
  const err = await t.throwsAsync(driver.createVolume('huge', 1024 * 1024), { instanceOf: DriverError });
  t.true(err.retryable, 'another pool may have the room');
  t.regex(err.message, /pool p1: could not create volume huge/);
  t.deepEqual(await fs.readdir(p.directory), []);
  t.like(await driver.stats(), { volumeCount: 0, provisionedCapacityGiB: 0 });
});

test('setup removes temporaries left by a crash and indexes the images already there', async (t) => {
  const p = await pool(t);
  await fs.mkdir(p.directory, { recursive: true });
  await fs.writeFile(join(p.directory, '.volume-v1.qcow2.tmp-0badf00d'), 'half an image');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', join(p.directory, 'volume-v2.qcow2'), String(3 * GiB)]);
  await run('qemu-img', ['create', '-q', '-f', 'raw', join(p.directory, 'volume-v3.raw'), String(GiB)]);
  await fs.writeFile(join(p.directory, 'notes.txt'), 'not a volume');
  const driver = new FileDriver(p);
  await driver.setup();
  t.deepEqual((await fs.readdir(p.directory)).sort(), ['notes.txt', 'volume-v2.qcow2', 'volume-v3.raw']);
  t.like(await driver.stats(), { volumeCount: 2, provisionedCapacityGiB: 4 });
  t.deepEqual(await driver.listVolumes(), ['v2', 'v3']);
  t.is((await driver.getVolume('v3'))?.format, 'raw', 'an image in the other format is still found');
});

test('deleting a volume also removes what a crashed create of it left', async (t) => {
  const p = await pool(t);
  const driver = new FileDriver(p);
  await driver.setup();
  await fs.writeFile(join(p.directory, '.volume-v1.qcow2.tmp-12345678'), 'half an image');
  await fs.writeFile(join(p.directory, '.volume-v10.qcow2.tmp-12345678'), 'another volume');
  await driver.deleteVolume('v1');
  t.deepEqual(await fs.readdir(p.directory), ['.volume-v10.qcow2.tmp-12345678']);
});

test('capacityGiB caps the total, and free space shrinks by what the images occupy', async (t) => {
  const p = await pool(t, { imageFormat: 'raw', thinProvisioning: false, capacityGiB: 4 });
  const driver = new FileDriver(p);
  await driver.setup();
  const before = await driver.stats();
  t.is(before.totalCapacityGiB, 4);
  t.true(before.freeCapacityGiB > 3.9 && before.freeCapacityGiB <= 4, `free ${before.freeCapacityGiB}`);
  await driver.createVolume('v1', 1);
  const after = await driver.stats();
  t.is(after.totalCapacityGiB, 4);
  t.true(after.freeCapacityGiB <= 3 && after.freeCapacityGiB > 2.9, `free ${after.freeCapacityGiB}`);
});

test('a volume id that is not a plain file name is refused', async (t) => {
  const p = await pool(t);
  const driver = new FileDriver(p);
  await driver.setup();
  for (const id of ['../escape', 'a/b', '', '.hidden']) {
    const err = await t.throwsAsync(driver.createVolume(id, 1), { instanceOf: DriverError });
    t.false(err.retryable, id);
  }
  t.deepEqual(await fs.readdir(p.directory), []);
});

test('setup fails with a DriverError when the pool directory cannot be made', async (t) => {
  const p = await pool(t);
  await fs.mkdir(join(p.directory, '..'), { recursive: true });
  await fs.writeFile(p.directory, 'a file where the directory should be');
  const err = await t.throwsAsync(new FileDriver(p).setup(), { instanceOf: DriverError });
  t.regex(err.message, /pool p1: directory .* cannot be created/);
});

test('a raw snapshot copy interrupted by a crash is removed by setup and never listed', async (t) => {
  const p = await pool(t, { imageFormat: 'raw' });
  const driver = new FileDriver(p);
  await driver.setup();
  await driver.createVolume('v1', 1);
  await driver.createSnapshot('v1', 's1');
  const dir = driver.snapshotDirOf('v1');
  const leftover = join(dir, '.snapshot-s2.raw.tmp-0badcafe');
  await fs.writeFile(leftover, 'half a copy');
  t.deepEqual(await driver.listSnapshots('v1'), ['s1']);
  const restarted = new FileDriver(p);
  await restarted.setup();
  t.deepEqual((await fs.readdir(dir)).sort(), ['snapshot-s1.raw']);
  t.like(await restarted.stats(), { volumeCount: 1, provisionedCapacityGiB: 2 });
});

test('a qcow2 snapshot is taken with the image format pinned and its size read from the snapshot table', async (t) => {
  const p = await pool(t, { imageFormat: 'qcow2' });
  const driver = new FileDriver(p);
  await driver.setup();
  await driver.createVolume('v1', 1);
  await driver.createSnapshot('v1', 's1');
  await driver.extendVolume('v1', 3);
  const { stdout } = await run('qemu-img', ['snapshot', '-U', '-l', join(p.directory, 'volume-v1.qcow2')]);
  t.regex(stdout, /snapshot-s1/);
  t.is((await driver.createSnapshot('v1', 's1')).sizeBytes, GiB);
  t.is((await driver.createSnapshot('v1', 's2')).sizeBytes, 3 * GiB);
});

test.after.always('no process is left behind', noProcessesLeft);
