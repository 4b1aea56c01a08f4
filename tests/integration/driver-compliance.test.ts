/**
 * Every registered driver, in every variant it supports, against the VolumeDriver
 * contract (Cinder's tests/compliance/test_volume_drivers.py). Real qemu-img, real
 * files in temporary directories, a real Ceph cluster (tests/helpers/ceph.ts) with an rbd
 * pool per test. Bytes are read and written outside the driver with qemu-io / qemu-img on
 * what the driver names (`VolumeInfo.location`, `imageSource()`), which are paths or `rbd:`
 * file names; what only a file pool has (its directory, `.snapshots/`) is checked through the
 * variant.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PoolConfig, RbdPoolConfig } from '../../src/config/index.js';
import { createDriver, DRIVERS, DriverError, GiB, type VolumeDriver, type VolumeInfo } from '../../src/node-agent/index.js';
import { testRbdPool } from '../helpers/ceph.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

const run = promisify(execFile);

interface Variant {
  label: string;
  /** Thin variants must not allocate the whole virtual size; thick ones must. */
  thin: boolean;
  /** The pool of one test: `dir` is a fresh directory; a Ceph pool is made (and removed by `t`'s teardown). */
  pool(dir: string, t: ExecutionContext): Promise<PoolConfig>;
  /** The format the pool's volumes have. */
  imageFormat: 'raw' | 'qcow2';
  /** Snapshots are copies that count in the provisioned capacity (raw files), not copy-on-write. */
  snapshotsProvisioned: boolean;
  /** Run one test at a time (an rbd pool per test: placement groups are few on one OSD). */
  serial: boolean;
}

/** The names in the pool: files of its directory, or images of its Ceph pool. */
async function poolNames(pool: PoolConfig): Promise<string[]> {
  if (pool.driver === 'file') return fs.readdir(pool.directory);
  return JSON.parse((await run('rbd', [...rbdArgs(pool), 'ls', pool.rbdPool, '--format', 'json'])).stdout) as string[];
}

function rbdArgs(pool: RbdPoolConfig): string[] {
  const { conf, user, keyring } = pool.cluster;
  return ['-c', conf, '--id', user, ...(keyring ? ['--keyring', keyring] : [])];
}

/** What changes when an image is made again (inode, RBD image id): proof that a repeat kept the image. */
async function identity(pool: PoolConfig, info: VolumeInfo): Promise<string> {
  if (pool.driver === 'file') return String((await fs.stat(info.location)).ino);
  return (JSON.parse((await run('rbd', [...rbdArgs(pool), 'info', `${pool.rbdPool}/volume-${info.volumeId}`, '--format', 'json'])).stdout) as { id: string }).id;
}

/** The qemu file name of an image `name` of the pool (made outside the driver). */
function locate(pool: PoolConfig, name: string): string {
  if (pool.driver === 'file') return join(pool.directory, name);
  const { conf, user, keyring } = pool.cluster;
  return `rbd:${pool.rbdPool}/${name}:conf=${conf}:id=${user}${keyring ? `:keyring=${keyring}` : ''}`;
}

function filePool(dir: string, imageFormat: 'raw' | 'qcow2', thinProvisioning: boolean): Promise<PoolConfig> {
  return Promise.resolve({
    name: `p-${imageFormat}-${thinProvisioning ? 'thin' : 'thick'}`,
    driver: 'file',
    directory: dir,
    imageFormat,
    capabilities: { tier: 'test' },
    maxOverSubscriptionRatio: 20,
    reservedPercentage: 0,
    thinProvisioning,
    capacityGiB: undefined,
  });
}

/** A Ceph pool of its own for the test; without a ceph-mgr the cluster reports no capacity, so the pool caps it. */
async function rbdPool(t: ExecutionContext): Promise<PoolConfig> {
  const p = await testRbdPool();
  t.teardown(() => p.remove());
  return {
    name: 'p-rbd',
    driver: 'rbd',
    cluster: { conf: p.conf, user: p.user, keyring: p.keyring },
    rbdPool: p.rbdPool,
    imageFormat: 'raw',
    capabilities: { tier: 'test' },
    maxOverSubscriptionRatio: 20,
    reservedPercentage: 0,
    thinProvisioning: true,
    capacityGiB: 20,
  };
}

/** Keyed by driver name: a driver added to the registry without variants here fails to compile. */
const VARIANTS: Record<(typeof DRIVERS)[number], Variant[]> = {
  file: [
    { label: 'file raw thin', thin: true, imageFormat: 'raw', snapshotsProvisioned: true, serial: false, pool: (d) => filePool(d, 'raw', true) },
    { label: 'file raw thick', thin: false, imageFormat: 'raw', snapshotsProvisioned: true, serial: false, pool: (d) => filePool(d, 'raw', false) },
    { label: 'file qcow2 thin', thin: true, imageFormat: 'qcow2', snapshotsProvisioned: false, serial: false, pool: (d) => filePool(d, 'qcow2', true) },
  ],
  rbd: [{ label: 'rbd', thin: true, imageFormat: 'raw', snapshotsProvisioned: false, serial: true, pool: (_d, t) => rbdPool(t) }],
};

async function ready(t: ExecutionContext, variant: Variant): Promise<{ driver: VolumeDriver; pool: PoolConfig }> {
  const dir = await tempDir('flint-driver-');
  t.teardown(dir.cleanup);
  const pool = await variant.pool(`${dir.path}/pool`, t);
  const driver = createDriver(pool);
  await driver.setup();
  return { driver, pool };
}

/** The virtual size as qemu-img itself reports it (not through the driver). */
async function qemuVirtualSize(path: string, format: string): Promise<number> {
  const { stdout } = await run('qemu-img', ['info', '--output=json', '-U', '-f', format, path]);
  return (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'];
}

const MiB = 1024 ** 2;

/** Writes 1 MiB of `byte` at offset 0 of the volume, through qemu-io (as a consumer would). */
async function writePattern(info: VolumeInfo, byte: number): Promise<void> {
  await run('qemu-io', ['-f', info.format, '-c', `write -q -P 0x${byte.toString(16)} 0 1M`, info.location]);
}

/**
 * The first MiB of a snapshot, read by qemu-img from where `imageSource` says it is (a qcow2
 * internal snapshot, a raw copy in `.snapshots/`, an RBD snapshot `…@snapshot-<id>`).
 */
async function snapshotHead(t: ExecutionContext, driver: VolumeDriver, info: VolumeInfo, snapshotId: string): Promise<Buffer> {
  const source = await driver.imageSource(info.volumeId, snapshotId);
  const dir = await tempDir('flint-snapshot-read-');
  t.teardown(dir.cleanup);
  const path = join(dir.path, 'snapshot.raw');
  const snapshot = source.snapshotName === undefined ? [] : ['-l', `snapshot.name=${source.snapshotName}`];
  await run('qemu-img', ['convert', '-U', '-f', source.format, ...snapshot, '-O', 'raw', source.path, path]);
  return head(path);
}

async function head(path: string): Promise<Buffer> {
  const handle = await fs.open(path, 'r');
  try {
    const buf = Buffer.alloc(MiB);
    await handle.read(buf, 0, MiB, 0);
    return buf;
  } finally {
    await handle.close();
  }
}

/** The first MiB of the volume as it is now. */
async function volumeHead(t: ExecutionContext, info: VolumeInfo): Promise<Buffer> {
  const dir = await tempDir('flint-volume-read-');
  t.teardown(dir.cleanup);
  const path = join(dir.path, 'volume.raw');
  await run('qemu-img', ['convert', '-U', '-f', info.format, '-O', 'raw', info.location, path]);
  return head(path);
}

function filled(byte: number): Buffer {
  return Buffer.alloc(MiB, byte);
}

function isRefusal(t: ExecutionContext, err: unknown): void {
  t.true(err instanceof DriverError, `a DriverError, got ${String(err)}`);
  t.false((err as DriverError).retryable, 'not retryable: another pool cannot help');
}

test('every registered driver has compliance variants', (t) => {
  t.deepEqual(Object.keys(VARIANTS).sort(), [...DRIVERS].sort());
});

for (const variant of Object.values(VARIANTS).flat()) {
  const name = variant.label;
  const vtest = variant.serial ? test.serial : test;

  vtest(`${name}: a new pool reports capacity and no volumes`, async (t) => {
    const { driver } = await ready(t, variant);
    const s = await driver.stats();
    t.true(s.totalCapacityGiB > 0);
    t.true(s.freeCapacityGiB >= 0 && s.freeCapacityGiB <= s.totalCapacityGiB);
    t.is(s.provisionedCapacityGiB, 0);
    t.is(s.volumeCount, 0);
    t.deepEqual(await driver.listVolumes(), []);
    const caps = driver.capabilities();
    t.is(caps.thinProvisioningSupport, variant.thin);
    t.is(caps.thickProvisioningSupport, !variant.thin);
    t.is(caps.extra.tier, 'test');
  });

  vtest(`${name}: a created volume has the requested virtual size`, async (t) => {
    const { driver, pool } = await ready(t, variant);
    const info = await driver.createVolume('vol1', 1);
    t.is(info.sizeBytes, GiB);
    t.is(info.format, pool.imageFormat);
    t.is(await qemuVirtualSize(info.location, info.format), GiB);
    if (variant.thin) t.true(info.allocatedBytes < GiB / 2, `thin: ${info.allocatedBytes} bytes allocated`);
    else t.true(info.allocatedBytes >= GiB, `thick: ${info.allocatedBytes} bytes allocated`);
    t.deepEqual(await driver.getVolume('vol1'), info);
    t.deepEqual(await driver.listVolumes(), ['vol1']);
  });

  vtest(`${name}: creating a volume again with the same size succeeds and keeps it`, async (t) => {
    const { driver, pool } = await ready(t, variant);
    const first = await driver.createVolume('vol1', 1);
    const id = await identity(pool, first);
    const again = await driver.createVolume('vol1', 1);
    t.is(again.location, first.location);
    t.is(await identity(pool, again), id, 'the image was not made again');
    t.is(again.sizeBytes, GiB);
    t.is((await driver.stats()).volumeCount, 1);
  });

  vtest(`${name}: creating a volume again with another size is refused`, async (t) => {
    const { driver } = await ready(t, variant);
    await driver.createVolume('vol1', 1);
    isRefusal(t, await t.throwsAsync(driver.createVolume('vol1', 2)));
    t.is((await driver.getVolume('vol1'))?.sizeBytes, GiB, 'the existing volume is untouched');
  });

  vtest(`${name}: extending grows the virtual size, and extending to the same size succeeds`, async (t) => {
    const { driver } = await ready(t, variant);
    await driver.createVolume('vol1', 1);
    const grown = await driver.extendVolume('vol1', 2);
    t.is(grown.sizeBytes, 2 * GiB);
    t.is(await qemuVirtualSize(grown.location, grown.format), 2 * GiB);
    t.is((await driver.extendVolume('vol1', 2)).sizeBytes, 2 * GiB);
    if (!variant.thin) t.true(grown.allocatedBytes >= 2 * GiB, 'thick stays fully allocated');
  });

  vtest(`${name}: extending to a smaller size is refused and changes nothing`, async (t) => {
    const { driver } = await ready(t, variant);
    const info = await driver.createVolume('vol1', 2);
    isRefusal(t, await t.throwsAsync(driver.extendVolume('vol1', 1)));
    t.is(await qemuVirtualSize(info.location, info.format), 2 * GiB);
  });

  vtest(`${name}: extending a missing volume is refused`, async (t) => {
    const { driver } = await ready(t, variant);
    isRefusal(t, await t.throwsAsync(driver.extendVolume('nope', 2)));
  });

  vtest(`${name}: stats follow creates, extends and deletes, and survive a restart of the driver`, async (t) => {
    const { driver, pool } = await ready(t, variant);
    await driver.createVolume('a', 1);
    await driver.createVolume('b', 2);
    t.like(await driver.stats(), { volumeCount: 2, provisionedCapacityGiB: 3 });
    await driver.extendVolume('b', 3);
    t.like(await driver.stats(), { volumeCount: 2, provisionedCapacityGiB: 4 });
    await driver.deleteVolume('a');
    t.like(await driver.stats(), { volumeCount: 1, provisionedCapacityGiB: 3 });
    const restarted = createDriver(pool);
    await restarted.setup();
    t.like(await restarted.stats(), { volumeCount: 1, provisionedCapacityGiB: 3 });
  });

  vtest(`${name}: a deleted volume is gone, and deleting it again succeeds`, async (t) => {
    const { driver } = await ready(t, variant);
    await driver.createVolume('vol1', 1);
    await driver.deleteVolume('vol1');
    t.is(await driver.getVolume('vol1'), null);
    await driver.deleteVolume('vol1');
    t.is(await driver.getVolume('vol1'), null);
    t.deepEqual(await driver.listVolumes(), []);
    t.like(await driver.stats(), { volumeCount: 0, provisionedCapacityGiB: 0 });
  });

  vtest(`${name}: an unknown volume is null`, async (t) => {
    const { driver } = await ready(t, variant);
    t.is(await driver.getVolume('never-created'), null);
  });

  vtest(`${name}: a snapshot is listed, and taking it again succeeds without a second one`, async (t) => {
    const { driver } = await ready(t, variant);
    await driver.createVolume('vol1', 1);
    t.deepEqual(await driver.listSnapshots('vol1'), []);
    t.deepEqual(await driver.createSnapshot('vol1', 'snap1'), { snapshotId: 'snap1', volumeId: 'vol1', sizeBytes: GiB });
    t.deepEqual(await driver.createSnapshot('vol1', 'snap1'), { snapshotId: 'snap1', volumeId: 'vol1', sizeBytes: GiB });
    await driver.createSnapshot('vol1', 'snap0');
    t.deepEqual(await driver.listSnapshots('vol1'), ['snap0', 'snap1']);
    t.deepEqual(await driver.listSnapshots('never-created'), []);
  });

  vtest(`${name}: a snapshot of a missing volume is refused`, async (t) => {
    const { driver } = await ready(t, variant);
    isRefusal(t, await t.throwsAsync(driver.createSnapshot('nope', 'snap1')));
    t.deepEqual(await driver.listSnapshots('nope'), []);
  });

  vtest(`${name}: a snapshot keeps the bytes the volume had when it was taken`, async (t) => {
    const { driver } = await ready(t, variant);
    const info = await driver.createVolume('vol1', 1);
    await writePattern(info, 0x11);
    await driver.createSnapshot('vol1', 'snap1');
    await writePattern(info, 0xab);
    t.true((await volumeHead(t, info)).equals(filled(0xab)), 'the volume has the new bytes');
    t.true((await snapshotHead(t, driver, info, 'snap1')).equals(filled(0x11)), 'the snapshot still has the old bytes');
    await driver.createSnapshot('vol1', 'snap2');
    t.true((await snapshotHead(t, driver, info, 'snap2')).equals(filled(0xab)), 'a later snapshot has the new bytes');
  });

  vtest(`${name}: deleting a snapshot removes only it, and deleting it again succeeds`, async (t) => {
    const { driver } = await ready(t, variant);
    await driver.createVolume('vol1', 1);
    await driver.createSnapshot('vol1', 'snap1');
    await driver.createSnapshot('vol1', 'snap2');
    await driver.deleteSnapshot('vol1', 'snap1');
    t.deepEqual(await driver.listSnapshots('vol1'), ['snap2']);
    await driver.deleteSnapshot('vol1', 'snap1');
    await driver.deleteSnapshot('vol1', 'never-taken');
    await driver.deleteSnapshot('never-created', 'snap1');
    t.deepEqual(await driver.listSnapshots('vol1'), ['snap2']);
    t.not(await driver.getVolume('vol1'), null, 'the volume stays');
  });

  vtest(`${name}: a volume with snapshots can be extended and its snapshots stay intact`, async (t) => {
    const { driver } = await ready(t, variant);
    const info = await driver.createVolume('vol1', 1);
    await writePattern(info, 0x11);
    await driver.createSnapshot('vol1', 'snap1');
    await writePattern(info, 0xab);
    const grown = await driver.extendVolume('vol1', 2);
    t.is(grown.sizeBytes, 2 * GiB);
    t.is(await qemuVirtualSize(grown.location, grown.format), 2 * GiB);
    t.deepEqual(await driver.listSnapshots('vol1'), ['snap1']);
    t.is((await driver.createSnapshot('vol1', 'snap1')).sizeBytes, GiB, 'the snapshot keeps the size it was taken at');
    t.true((await snapshotHead(t, driver, grown, 'snap1')).equals(filled(0x11)), 'the snapshot keeps its bytes');
    t.true((await volumeHead(t, grown)).equals(filled(0xab)), 'the volume keeps its bytes');
    t.is((await driver.createSnapshot('vol1', 'snap2')).sizeBytes, 2 * GiB);
  });

  vtest(`${name}: deleting a volume deletes its snapshots`, async (t) => {
    const { driver, pool } = await ready(t, variant);
    await driver.createVolume('vol1', 1);
    await driver.createSnapshot('vol1', 'snap1');
    await driver.createSnapshot('vol1', 'snap2');
    await driver.deleteVolume('vol1');
    t.deepEqual(await driver.listSnapshots('vol1'), []);
    if (pool.driver === 'file') await t.throwsAsync(fs.access(join(pool.directory, '.snapshots', 'volume-vol1')), { code: 'ENOENT' });
    await driver.createVolume('vol1', 1);
    t.deepEqual(await driver.listSnapshots('vol1'), [], 'a new volume with the same id has none of the old snapshots');
    t.like(await driver.stats(), { volumeCount: 1, provisionedCapacityGiB: 1 });
  });

  vtest(`${name}: raw snapshot copies count in the provisioned capacity, copy-on-write snapshots (qcow2, rbd) do not`, async (t) => {
    const { driver, pool } = await ready(t, variant);
    await driver.createVolume('vol1', 1);
    await driver.createSnapshot('vol1', 'snap1');
    const expected = variant.snapshotsProvisioned ? 2 : 1;
    t.like(await driver.stats(), { volumeCount: 1, provisionedCapacityGiB: expected });
    const restarted = createDriver(pool);
    await restarted.setup();
    t.like(await restarted.stats(), { volumeCount: 1, provisionedCapacityGiB: expected });
    await restarted.deleteSnapshot('vol1', 'snap1');
    t.like(await restarted.stats(), { volumeCount: 1, provisionedCapacityGiB: 1 });
  });
}

/** Every variant again, for new volumes from old and revert (their bytes compared outside the driver). */
for (const variant of Object.values(VARIANTS).flat()) {
  const name = variant.label;
  const vtest = variant.serial ? test.serial : test;

  /** Whether two images hold the same bytes, by `qemu-img compare` (a larger one must be zeros past the smaller). */
  const same = async (a: VolumeInfo, b: VolumeInfo): Promise<boolean> => {
    try {
      await run('qemu-img', ['compare', '-U', '-f', a.format, '-F', b.format, a.location, b.location]);
      return true;
    } catch {
      return false;
    }
  };

  vtest(`${name}: a volume created from a snapshot has the bytes of the volume when the snapshot was taken`, async (t) => {
    const { driver, pool } = await ready(t, variant);
    const src = await driver.createVolume('src', 1);
    await writePattern(src, 0x11);
    await driver.createSnapshot('src', 'snap1');
    await writePattern(src, 0xab);
    const copy = await driver.createVolumeFromSnapshot('copy', 1, 'src', 'snap1');
    t.is(copy.sizeBytes, GiB);
    t.is(copy.format, variant.imageFormat);
    t.true((await volumeHead(t, copy)).equals(filled(0x11)), 'the copy has the snapshot\'s bytes');
    t.true((await volumeHead(t, src)).equals(filled(0xab)), 'the source keeps its own bytes');
    if (!variant.thin) t.true(copy.allocatedBytes >= GiB, 'thick: fully allocated');
    t.deepEqual(await driver.listSnapshots('copy'), [], 'the copy has no snapshots of its own');
    t.like(await driver.stats(), { volumeCount: 2 });
    // Idempotent: the same request again returns the volume as it is.
    const id = await identity(pool, copy);
    const again = await driver.createVolumeFromSnapshot('copy', 1, 'src', 'snap1');
    t.is(await identity(pool, again), id, 'not made again');
  });

  vtest(`${name}: a volume created from a snapshot may be larger, and the rest reads as zeros`, async (t) => {
    const { driver } = await ready(t, variant);
    const src = await driver.createVolume('src', 1);
    await writePattern(src, 0x22);
    await driver.createSnapshot('src', 'snap1');
    const copy = await driver.createVolumeFromSnapshot('copy', 2, 'src', 'snap1');
    t.is(copy.sizeBytes, 2 * GiB);
    t.is(await qemuVirtualSize(copy.location, copy.format), 2 * GiB);
    t.true((await volumeHead(t, copy)).equals(filled(0x22)));
    await driver.deleteSnapshot('src', 'snap1');
    t.true(await same(src, copy), 'qemu-img compare: equal to the source, zeros past its end');
  });

  vtest(`${name}: creating from a missing snapshot, a missing volume or with a smaller size is refused and leaves nothing`, async (t) => {
    const { driver, pool } = await ready(t, variant);
    await driver.createVolume('src', 2);
    await driver.createSnapshot('src', 'snap1');
    isRefusal(t, await t.throwsAsync(driver.createVolumeFromSnapshot('copy', 2, 'src', 'never-taken')));
    isRefusal(t, await t.throwsAsync(driver.createVolumeFromSnapshot('copy', 2, 'nope', 'snap1')));
    isRefusal(t, await t.throwsAsync(driver.createVolumeFromSnapshot('copy', 1, 'src', 'snap1')));
    isRefusal(t, await t.throwsAsync(driver.cloneVolume('copy', 2, 'nope')));
    isRefusal(t, await t.throwsAsync(driver.cloneVolume('copy', 1, 'src')));
    t.is(await driver.getVolume('copy'), null);
    t.deepEqual((await poolNames(pool)).filter((n) => n.includes('copy')), [], 'no image or temporary of it');
  });

  vtest(`${name}: a clone has the bytes of its source, and both change independently afterwards`, async (t) => {
    const { driver } = await ready(t, variant);
    const src = await driver.createVolume('src', 1);
    await writePattern(src, 0x33);
    const clone = await driver.cloneVolume('clone', 1, 'src');
    t.is(clone.sizeBytes, GiB);
    t.true(await same(src, clone), 'qemu-img compare: identical');
    await writePattern(src, 0x44);
    t.true((await volumeHead(t, clone)).equals(filled(0x33)), 'the clone keeps the bytes it was made with');
    t.false(await same(src, clone));
    const bigger = await driver.cloneVolume('bigger', 3, 'src');
    t.is(bigger.sizeBytes, 3 * GiB);
    t.true(await same(src, bigger), 'a larger clone equals the source, zeros past its end');
    t.is((await driver.cloneVolume('bigger', 3, 'src')).location, bigger.location, 'idempotent');
    isRefusal(t, await t.throwsAsync(driver.cloneVolume('bigger', 2, 'src')));
  });

  vtest(`${name}: reverting puts the snapshot's bytes back, keeps the snapshot, and can be repeated`, async (t) => {
    const { driver, pool } = await ready(t, variant);
    const vol = await driver.createVolume('vol1', 1);
    await writePattern(vol, 0x55);
    await driver.createSnapshot('vol1', 'snap1');
    await writePattern(vol, 0x66);
    const reverted = await driver.revertToSnapshot('vol1', 'snap1');
    t.is(reverted.sizeBytes, GiB);
    t.true((await volumeHead(t, reverted)).equals(filled(0x55)), 'the volume has the snapshot\'s bytes again');
    t.deepEqual(await driver.listSnapshots('vol1'), ['snap1'], 'the snapshot stays');
    t.true((await snapshotHead(t, driver, reverted, 'snap1')).equals(filled(0x55)));
    await writePattern(reverted, 0x77);
    await driver.revertToSnapshot('vol1', 'snap1');
    await driver.revertToSnapshot('vol1', 'snap1');
    t.true((await volumeHead(t, reverted)).equals(filled(0x55)), 'reverting again gives the same bytes');
    if (!variant.thin) t.true((await driver.getVolume('vol1'))!.allocatedBytes >= GiB, 'thick: still fully allocated');
    const names = await poolNames(pool);
    t.deepEqual(names.filter((n) => n.includes('.tmp-')), [], 'no temporaries left');
  });

  vtest(`${name}: reverting a missing volume, to a missing snapshot, or after an extend is refused`, async (t) => {
    const { driver } = await ready(t, variant);
    await driver.createVolume('vol1', 1);
    await driver.createSnapshot('vol1', 'snap1');
    isRefusal(t, await t.throwsAsync(driver.revertToSnapshot('nope', 'snap1')));
    isRefusal(t, await t.throwsAsync(driver.revertToSnapshot('vol1', 'never-taken')));
    await driver.extendVolume('vol1', 2);
    isRefusal(t, await t.throwsAsync(driver.revertToSnapshot('vol1', 'snap1')));
    t.is((await driver.getVolume('vol1'))?.sizeBytes, 2 * GiB, 'untouched');
  });
}

/**
 * How to put a foreign image (one Flint did not make) where a driver's `manageExisting`
 * looks, and what its reference is; keyed by driver name like VARIANTS.
 */
const FOREIGN: Record<(typeof DRIVERS)[number], { formats: readonly ('raw' | 'qcow2')[]; place(pool: PoolConfig, name: string, format: 'raw' | 'qcow2', sizeBytes: number): Promise<string> }> = {
  file: {
    formats: ['raw', 'qcow2'],
    place: async (pool, name, format, sizeBytes) => {
      await run('qemu-img', ['create', '-q', '-f', format, locate(pool, name), String(sizeBytes)]);
      return name;
    },
  },
  // An image in the Ceph pool holds raw bytes (one holding a qcow2 is refused, below).
  rbd: {
    formats: ['raw'],
    place: async (pool, name, format, sizeBytes) => {
      await run('qemu-img', ['create', '-q', '-f', format, locate(pool, name), String(sizeBytes)]);
      return name;
    },
  },
};

for (const variant of Object.values(VARIANTS).flat()) {
  const name = variant.label;
  const vtest = variant.serial ? test.serial : test;
  const driverName = variant.label.split(' ')[0] as (typeof DRIVERS)[number];
  const { formats, place } = FOREIGN[driverName];

  for (const format of formats) {
    vtest(`${name}: manageExisting adopts a ${format} image with its bytes, grown to whole GiB, and unmanage gives it back`, async (t) => {
      const { driver, pool } = await ready(t, variant);
      const reference = await place(pool, `legacy-disk.${format}`, format, 1.5 * GiB);
      await run('qemu-io', ['-f', format, '-c', 'write -q -P 0x5a 0 1M', locate(pool, reference)]);
      const offered = await driver.listManageable();
      t.deepEqual(offered.map((m) => [m.reference, m.format, m.sizeBytes, m.safeToManage, m.reasonNotSafe]), [[reference, format, 1.5 * GiB, true, null]]);

      const info = await driver.manageExisting('adopted', reference);
      t.is(info.sizeBytes, 2 * GiB, 'rounded up to whole GiB');
      t.is(info.format, format);
      t.deepEqual(await driver.listVolumes(), ['adopted']);
      t.is((await driver.stats()).volumeCount, 1);
      t.deepEqual(await volumeHead(t, info), filled(0x5a));
      t.deepEqual(await driver.listManageable(), [], 'no longer offered');
      // A redelivered command finds the volume adopted.
      t.deepEqual(await driver.manageExisting('adopted', reference), info);

      await driver.unmanage('adopted');
      t.deepEqual(await driver.listVolumes(), []);
      t.is(await driver.getVolume('adopted'), null);
      t.is((await driver.stats()).volumeCount, 0);
      const back = await driver.listManageable();
      t.is(back.length, 1);
      t.is(back[0]!.format, format);
      t.is(back[0]!.sizeBytes, 2 * GiB);
      t.true(back[0]!.safeToManage);
      t.deepEqual(await volumeHead(t, { ...info, location: locate(pool, back[0]!.reference) }), filled(0x5a), 'the bytes are kept');
      await driver.unmanage('adopted');
      t.is((await driver.listManageable()).length, 1, 'a second unmanage is a no-op');
      // And it can be managed again.
      const again = await driver.manageExisting('adopted-again', back[0]!.reference);
      t.is(again.sizeBytes, 2 * GiB);
      t.deepEqual(await volumeHead(t, again), filled(0x5a));
    });
  }

  if (driverName === 'rbd') {
    vtest(`${name}: manageExisting refuses missing, qcow2-holding, cloned, snapshotted, in-use and volume images and leaves them untouched`, async (t) => {
      const { driver, pool } = await ready(t, variant);
      if (pool.driver !== 'rbd') throw new Error('an rbd variant');
      const rbdCmd = (...args: string[]) => run('rbd', [...rbdArgs(pool), ...args]);
      isRefusal(t, await t.throwsAsync(driver.manageExisting('v1', 'no-such-image')));
      await driver.createVolume('existing', 1);
      isRefusal(t, await t.throwsAsync(driver.manageExisting('v2', 'volume-existing')));
      t.is((await driver.getVolume('existing'))?.sizeBytes, GiB);

      await place(pool, 'holds-qcow2', 'qcow2', GiB);
      const qcowErr = await t.throwsAsync(driver.manageExisting('v3', 'holds-qcow2'));
      isRefusal(t, qcowErr);
      t.regex(qcowErr!.message, /qcow2/);

      await place(pool, 'parent', 'raw', GiB);
      await rbdCmd('snap', 'create', `${pool.rbdPool}/parent@s`);
      await rbdCmd('snap', 'protect', `${pool.rbdPool}/parent@s`);
      await rbdCmd('clone', `${pool.rbdPool}/parent@s`, `${pool.rbdPool}/child`);
      const cloneErr = await t.throwsAsync(driver.manageExisting('v4', 'child'));
      isRefusal(t, cloneErr);
      t.regex(cloneErr!.message, /clone of/);
      t.regex((await t.throwsAsync(driver.manageExisting('v5', 'parent')))!.message, /snapshots/);

      // A qemu-nbd serving the image holds a watch on it.
      const busy = await place(pool, 'busy', 'raw', GiB);
      const dir = await tempDir('flint-nbd-');
      t.teardown(dir.cleanup);
      const sock = join(dir.path, 'nbd.sock');
      const { spawn } = await import('node:child_process');
      const nbd = spawn('qemu-nbd', ['-k', sock, '-f', 'raw', locate(pool, busy)], { stdio: 'ignore' });
      t.teardown(() => void nbd.kill());
      const until = Date.now() + 10_000;
      while (Date.now() < until && !(await fs.stat(sock).catch(() => null))) await new Promise((r) => setTimeout(r, 50));
      const busyErr = await t.throwsAsync(driver.manageExisting('v6', busy));
      isRefusal(t, busyErr);
      t.regex(busyErr!.message, /another process/);

      const listed = new Map((await driver.listManageable()).map((m) => [m.reference, m]));
      t.false(listed.get('holds-qcow2')?.safeToManage);
      t.is(listed.get('holds-qcow2')?.format, 'qcow2');
      t.false(listed.get('child')?.safeToManage);
      t.false(listed.get('parent')?.safeToManage);
      t.false(listed.get('busy')?.safeToManage);
      t.false(listed.has('volume-existing'), 'volumes are not offered');
      t.deepEqual(await driver.listVolumes(), ['existing'], 'no refused image became a volume');
      t.deepEqual((await poolNames(pool)).sort(), ['busy', 'child', 'holds-qcow2', 'parent', 'volume-existing'], 'the refused images are where they were');
      await rbdCmd('rm', `${pool.rbdPool}/child`);
    });
    continue;
  }

  vtest(`${name}: manageExisting refuses missing, foreign-format, backed, in-use and volume images and leaves them untouched`, async (t) => {
    const { driver, pool } = await ready(t, variant);
    if (pool.driver !== 'file') throw new Error('a file variant');
    await t.throwsAsync(driver.manageExisting('v1', 'no-such-file.raw')).then((err) => isRefusal(t, err));

    await driver.createVolume('existing', 1);
    await t.throwsAsync(driver.manageExisting('v2', `volume-existing.${pool.imageFormat}`)).then((err) => isRefusal(t, err));
    t.is((await driver.getVolume('existing'))?.sizeBytes, GiB);

    const base = await place(pool, 'base.qcow2', 'qcow2', GiB);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', join(pool.directory, 'overlay.qcow2')]);
    const backedErr = await t.throwsAsync(driver.manageExisting('v3', 'overlay.qcow2'));
    isRefusal(t, backedErr);
    t.regex(backedErr!.message, /backing file/);
    t.truthy(await fs.stat(join(pool.directory, 'overlay.qcow2')));

    await run('qemu-img', ['create', '-q', '-f', 'vmdk', join(pool.directory, 'other.vmdk'), '1M']);
    const vmdkErr = await t.throwsAsync(driver.manageExisting('v4', 'other.vmdk'));
    isRefusal(t, vmdkErr);
    t.regex(vmdkErr!.message, /vmdk/);

    // A qemu-nbd serving the image writable holds its write lock.
    const busy = await place(pool, 'busy.qcow2', 'qcow2', GiB);
    const sock = join(pool.directory, '..', 'nbd.sock');
    const { spawn } = await import('node:child_process');
    const nbd = spawn('qemu-nbd', ['-k', sock, '-f', 'qcow2', join(pool.directory, busy)], { stdio: 'ignore' });
    t.teardown(() => void nbd.kill());
    const until = Date.now() + 10_000;
    while (Date.now() < until && !(await fs.stat(sock).catch(() => null))) await new Promise((r) => setTimeout(r, 50));
    const busyErr = await t.throwsAsync(driver.manageExisting('v5', busy));
    isRefusal(t, busyErr);
    t.regex(busyErr!.message, /another process/);

    const listed = new Map((await driver.listManageable()).map((m) => [m.reference, m]));
    t.true(listed.get('base.qcow2')?.safeToManage);
    t.false(listed.get('overlay.qcow2')?.safeToManage);
    t.false(listed.get('other.vmdk')?.safeToManage);
    t.is(listed.get('other.vmdk')?.format, 'vmdk');
    t.false(listed.get('busy.qcow2')?.safeToManage);
    t.false(listed.has(`volume-existing.${pool.imageFormat}`), 'volumes are not offered');
    t.deepEqual(await driver.listVolumes(), ['existing'], 'no refused file became a volume');
  });
}

test.after.always('no process is left behind', noProcessesLeft);
