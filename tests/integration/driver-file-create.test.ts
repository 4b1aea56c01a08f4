/**
 * Images the file driver makes without qemu-img (src/node-agent/drivers/file-create.ts,
 * qcow2-image.ts) against what `qemu-img create` makes: the same bytes, a clean `qemu-img
 * check`, the same `qemu-img info`, data written and read back through qemu-io; and a plain
 * create through the driver that runs no qemu-img at all.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FilePoolConfig } from '../../src/config/index.js';
import { createImageFile } from '../../src/node-agent/drivers/file-create.js';
import { FileDriver } from '../../src/node-agent/drivers/file-driver.js';
import { syncDirShared } from '../../src/node-agent/drivers/file-util.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

const run = promisify(execFile);
const GiB = 1024 ** 3;

async function dir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const d = await tempDir('flint-spawnfree-');
  t.teardown(d.cleanup);
  return d.path;
}

async function info(path: string, format: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('qemu-img', ['info', '--output=json', '-f', format, path]);
  const i = JSON.parse(stdout) as Record<string, unknown>;
  delete i.filename;
  return i;
}

for (const [label, size] of [
  ['1 GiB', GiB],
  ['3 GiB', 3 * GiB],
  ['100 GiB', 100 * GiB],
  ['5 TiB (an L1 table of two clusters)', 5 * 1024 * GiB],
] as const) {
  test(`a ${label} qcow2 image holds the bytes qemu-img create writes, and qemu-img info says the same of it`, async (t) => {
    const d = await dir(t);
    const ours = join(d, 'ours.qcow2');
    const theirs = join(d, 'theirs.qcow2');
    t.truthy(await createImageFile(ours, 'qcow2', size, 'off'));
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', theirs, String(size)]);
    const [a, b] = await Promise.all([fs.readFile(ours), fs.readFile(theirs)]);
    t.is(a.length, b.length);
    t.true(a.equals(b), 'byte for byte');
    const [sa, sb] = await Promise.all([fs.stat(ours), fs.stat(theirs)]);
    t.is(sa.blocks, sb.blocks, 'as allocated: no hole where qemu wrote zeros');
    t.deepEqual(await info(ours, 'qcow2'), await info(theirs, 'qcow2'));
  });
}

test('a qcow2 image made without qemu-img checks clean and keeps what is written through it', async (t) => {
  const d = await dir(t);
  const path = join(d, 'v.qcow2');
  await createImageFile(path, 'qcow2', 2 * GiB, 'off');
  const check = JSON.parse((await run('qemu-img', ['check', '--output=json', '-f', 'qcow2', path])).stdout) as Record<string, unknown>;
  t.is(check['check-errors'], 0);
  t.is(check.leaks, undefined);
  t.is(check.corruptions, undefined);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xa5 0 1M', '-c', `write -P 0x5a ${2 * GiB - 65536} 64k`, path]);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0xa5 0 1M', '-c', `read -P 0x5a ${2 * GiB - 65536} 64k`, '-c', 'read -P 0 1M 1M', path]);
  const after = JSON.parse((await run('qemu-img', ['check', '--output=json', '-f', 'qcow2', path])).stdout) as Record<string, unknown>;
  t.is(after['check-errors'], 0);
  t.is(after.leaks, undefined);
});

test('on a full disk, qemu rewrites the metadata of an image made without qemu-img as it does its own: a refcount block flush never fails for a hole', async (t) => {
  // A filesystem of its own to fill: a tmpfs (the chaos suite's full-disk fault mounts one per pool too).
  const d = await dir(t);
  await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', d]).catch((err: { stderr?: string }) => {
    throw new Error(`this test fills a filesystem of its own and needs to mount a tmpfs, which failed: ${err.stderr ?? String(err)}`);
  });
  t.teardown(() => run('umount', ['-l', d]).then(() => undefined));
  const path = join(d, 'v.qcow2');
  await createImageFile(path, 'qcow2', GiB, 'off');
  const { stdout } = await run('df', ['--output=avail', '-B1', d]);
  await run('fallocate', ['-l', stdout.trim().split('\n').pop()!.trim(), join(d, 'fill')]).catch(() => undefined);
  await run('dd', ['if=/dev/zero', `of=${join(d, 'fill2')}`, 'bs=4k']).catch(() => undefined);
  // A backup adds a bitmap: qemu cannot store it on the full disk, but must keep its refcounts.
  const add = await run('qemu-img', ['bitmap', '--add', '--enable', '-f', 'qcow2', path, 'flint-backup-b1']).catch((err: { stderr?: string }) => ({ stderr: err.stderr ?? '' }));
  t.notRegex(add.stderr, /refcount block/, 'the refcount block is rewritten in place');
  await fs.rm(join(d, 'fill'), { force: true });
  await fs.rm(join(d, 'fill2'), { force: true });
  await run('qemu-img', ['resize', '-q', '-f', 'qcow2', path, String(2 * GiB)]).catch(() => undefined);
  const check = JSON.parse((await run('qemu-img', ['check', '--output=json', '-f', 'qcow2', path]).catch((err: { stdout: string }) => err)).stdout) as Record<string, unknown>;
  t.is(check.corruptions, undefined, JSON.stringify(check));
  t.is(check['check-errors'], 0);
});

test('a sparse raw image made without qemu-img is what qemu-img makes: the size, holes but its first 4 KiB', async (t) => {
  const d = await dir(t);
  const ours = join(d, 'ours.raw');
  const theirs = join(d, 'theirs.raw');
  const made = await createImageFile(ours, 'raw', GiB, 'off');
  await run('qemu-img', ['create', '-q', '-f', 'raw', theirs, String(GiB)]);
  const [a, b] = await Promise.all([fs.stat(ours), fs.stat(theirs)]);
  t.is(a.size, b.size);
  t.is(a.blocks, b.blocks);
  t.is(made?.allocatedBytes, a.blocks * 512);
  t.deepEqual(await info(ours, 'raw'), await info(theirs, 'raw'));
  await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x11 4096 4096', '-c', 'read -P 0x11 4096 4096', '-c', 'read -P 0 0 4096', ours]);
});

test('what qemu-img must make is left to it: preallocated raw, sizes qcow2-image.ts refuses; nothing is written', async (t) => {
  const d = await dir(t);
  t.is(await createImageFile(join(d, 'thick.raw'), 'raw', GiB, 'falloc'), null);
  t.is(await createImageFile(join(d, 'odd.qcow2'), 'qcow2', GiB + 1, 'off'), null);
  t.deepEqual(await fs.readdir(d), []);
});

test('an image is never made over an existing file', async (t) => {
  const d = await dir(t);
  const path = join(d, 'v.qcow2');
  await fs.writeFile(path, 'data');
  await t.throwsAsync(createImageFile(path, 'qcow2', GiB, 'off'), { code: 'EEXIST' });
  t.is(await fs.readFile(path, 'utf8'), 'data');
});

for (const imageFormat of ['qcow2', 'raw'] as const) {
  test(`a plain ${imageFormat} create through the file driver runs no qemu-img, and reports what qemu-img info would`, async (t) => {
    const d = await dir(t);
    // A qemu-img that logs each call before it runs the real one.
    const calls = join(d, 'calls.log');
    const wrapper = join(d, 'qemu-img');
    await fs.writeFile(wrapper, `#!/bin/sh\necho "$1" >> '${calls}'\nexec qemu-img "$@"\n`, { mode: 0o755 });
    const pool: FilePoolConfig = {
      name: 'p',
      driver: 'file',
      directory: join(d, 'pool'),
      imageFormat,
      capabilities: {},
      maxOverSubscriptionRatio: 20,
      reservedPercentage: 0,
      thinProvisioning: true,
      capacityGiB: undefined,
    };
    const driver = new FileDriver(pool, { qemuImg: { binary: wrapper } });
    await driver.setup();
    t.is((await fs.readFile(calls, 'utf8')).trim(), '--version', 'the wrapper sees the calls (setup checks the version)');
    await fs.rm(calls);
    const created = await driver.createVolume('v1', 1);
    t.is(await fs.readFile(calls, 'utf8').catch(() => ''), '', 'no qemu-img call');
    t.deepEqual(await driver.getVolume('v1'), created, 'what qemu-img info reads afterwards');
    t.deepEqual(await fs.readdir(pool.directory), [`volume-v1.${imageFormat}`]);
  });
}

test('directory fsyncs asked for together all complete, and one that fails fails each of its callers', async (t) => {
  const d = await dir(t);
  await Promise.all(Array.from({ length: 20 }, () => syncDirShared(d)));
  const missing = join(d, 'gone');
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => syncDirShared(missing)));
  t.deepEqual(
    results.map((r) => (r.status === 'rejected' ? (r.reason as NodeJS.ErrnoException).code : 'ok')),
    ['ENOENT', 'ENOENT', 'ENOENT', 'ENOENT', 'ENOENT'],
  );
  await fs.mkdir(missing);
  await t.notThrowsAsync(syncDirShared(missing), 'a failure is not remembered');
});

test.after.always('no process is left behind', noProcessesLeft);
