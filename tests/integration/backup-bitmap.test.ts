/**
 * Incremental backups that read only what changed, through qcow2 persistent dirty bitmaps,
 * with real qemu-img, qemu-io and qemu-nbd: the bitmap path reads the changed chunks only
 * and gives the same manifest as reading everything; crashes, reverts, restores and raw
 * images fall back to comparing and stay correct.
 */
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { BackupEngine, BackupLog, BackupManifest } from '../../src/node-agent/backup/index.js';
import { qcow2Bitmaps, type ImageSource } from '../../src/node-agent/drivers/index.js';
import { serveNbd } from '../../src/node-agent/qemu-nbd.js';
import { setUpFileDriver } from '../helpers/file-pool.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';
import { blankImage, engine, MiB, rawImage, repository, run, workDir } from './backup-fixtures.js';

const CHUNK = 4 * MiB;

/** A qcow2 image of `size` bytes full of random data (written raw, converted). */
async function randomQcow2(dir: string, name: string, size: number): Promise<ImageSource> {
  const raw = await rawImage(join(dir, `${name}.src.raw`), size, [{ offset: 0, data: randomBytes(size) }]);
  const path = join(dir, `${name}.qcow2`);
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw.path, path]);
  await fs.rm(raw.path);
  return { path, format: 'qcow2', sizeBytes: size };
}

/** Writes through qemu (so bitmaps record it): `[offset, length, pattern]` each. */
async function qemuWrite(image: ImageSource, writes: [number, number, number][]): Promise<void> {
  await run('qemu-io', ['-f', image.format, ...writes.flatMap(([o, l, p]) => ['-c', `write -P ${p} ${o} ${l}`]), image.path]);
}

async function bitmapNames(image: ImageSource): Promise<string[]> {
  return (await qcow2Bitmaps.listBitmaps(image.path)).map((b) => b.name).sort();
}

/** Restores `m` into a new qcow2 image and checks it holds exactly `image`'s bytes (qemu-img compare exits 0). */
async function restoresTo(t: ExecutionContext, eng: BackupEngine, m: BackupManifest, image: ImageSource, dir: string): Promise<void> {
  const target = await blankImage(join(dir, `restore-${m.backupId}.qcow2`), 'qcow2', m.sizeBytes);
  await eng.restore({ manifest: m, target });
  const r = await run('qemu-img', ['compare', '-f', 'qcow2', '-F', image.format, target.path, image.path]);
  t.regex(r.stdout, /Images are identical/);
}

/** A log that keeps the messages, to see why a backup compared. */
function memoryLog(): BackupLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (_f, m) => lines.push(m), warn: (_f, m) => lines.push(`WARN ${m}`) };
}

const same = (m: BackupManifest) => ({ entries: m.entries, sha256: m.sha256, dataBytes: m.dataBytes, sizeBytes: m.sizeBytes });

test('an incremental of a qcow2 volume with 1% changed reads only the changed chunks, and equals a compare of the same bytes', async (t) => {
  t.timeout(300_000);
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo);
  const size = 256 * MiB;
  const vol = await randomQcow2(dir, 'vol', size);

  const full = await eng.backup({ backupId: 'full', volumeId: 'v1', source: vol, parent: null, trackChanges: true });
  t.is(full.changeTracking, 'full');
  t.is(full.readBytes, size);
  t.deepEqual(await bitmapNames(vol), ['flint-backup-full']);

  // ~1%: 2 MiB across a chunk boundary, and 64 KiB in three other chunks = 5 chunks touched.
  const writes: [number, number, number][] = [
    [100 * MiB - MiB, 2 * MiB, 0x11],
    [10 * MiB, 64 * 1024, 0x22],
    [150 * MiB + 4096, 64 * 1024, 0x33],
    [size - 64 * 1024, 64 * 1024, 0x44],
  ];
  await qemuWrite(vol, writes);
  const touched = new Set(writes.flatMap(([o, l]) => [Math.floor(o / CHUNK), Math.floor((o + l - 1) / CHUNK)]));
  t.is(touched.size, 5);

  const log = memoryLog();
  const incr = await eng.backup({ backupId: 'incr', volumeId: 'v1', source: vol, parent: full, trackChanges: true, log });
  t.is(incr.changeTracking, 'dirty-bitmap', log.lines.join('; '));
  t.true(incr.readBytes! >= 2 * MiB + 3 * 64 * 1024, `read ${incr.readBytes}`);
  t.true(incr.readBytes! <= touched.size * CHUNK, `read ${incr.readBytes}, at most ${touched.size} chunks`);
  t.is(incr.dedupBytes, size - touched.size * CHUNK, 'every clean chunk is the parent’s');
  t.deepEqual(await bitmapNames(vol), ['flint-backup-incr'], 'the parent’s bitmap is replaced by the new one');

  // The same bytes read in full (compare mode, no bitmap touched) give the same manifest.
  const compare = await eng.backup({ backupId: 'cmp', volumeId: 'v1', source: vol, parent: full });
  t.is(compare.changeTracking, 'compare');
  t.is(compare.readBytes, size);
  t.deepEqual(same(incr), same(compare));
  t.not(incr.sha256, full.sha256);
  t.deepEqual(await bitmapNames(vol), ['flint-backup-incr'], 'an untracked backup leaves the bitmaps alone');
  await restoresTo(t, eng, incr, vol, dir);
});

test('an incremental after a restore into the same volume reads what the restore wrote and is correct', async (t) => {
  t.timeout(300_000);
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo);
  const vol = await randomQcow2(dir, 'vol', 64 * MiB);
  const b1 = await eng.backup({ backupId: 'b1', volumeId: 'v1', source: vol, parent: null, trackChanges: true });
  await qemuWrite(vol, [[8 * MiB, MiB, 0x55]]);
  const b2 = await eng.backup({ backupId: 'b2', volumeId: 'v1', source: vol, parent: b1, trackChanges: true });
  t.is(b2.changeTracking, 'dirty-bitmap');
  // Restore b1 into the volume itself: qemu-nbd writes it, so b2's bitmap records every write.
  await eng.restore({ manifest: b1, target: vol });
  const b3 = await eng.backup({ backupId: 'b3', volumeId: 'v1', source: vol, parent: b2, trackChanges: true });
  t.is(b3.changeTracking, 'dirty-bitmap');
  t.is(b3.sha256, b1.sha256, 'the volume holds b1’s bytes again');
  t.deepEqual(b3.entries, b1.entries);
  await restoresTo(t, eng, b3, vol, dir);
});

test('a bitmap left in-use by a writer killed with SIGKILL is not trusted: the backup compares, is correct, and tracking resumes', async (t) => {
  t.timeout(300_000);
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo);
  const vol = await randomQcow2(dir, 'vol', 64 * MiB);
  const c1 = await eng.backup({ backupId: 'c1', volumeId: 'v1', source: vol, parent: null, trackChanges: true });

  await writerDies(t, vol, dir, 20 * MiB);
  const left = await qcow2Bitmaps.listBitmaps(vol.path);
  t.deepEqual(
    left.map((b) => [b.name, b.flags.includes('in-use')]),
    [['flint-backup-c1', true]],
  );

  const log = memoryLog();
  const c2 = await eng.backup({ backupId: 'c2', volumeId: 'v1', source: vol, parent: c1, trackChanges: true, log });
  t.is(c2.changeTracking, 'compare');
  t.true(
    log.lines.some((l) => /bitmap of parent c1 is marked in-use.*reading all allocated chunks/.test(l)),
    log.lines.join('; '),
  );
  t.deepEqual(await bitmapNames(vol), ['flint-backup-c2'], 'the broken bitmap is removed');
  await restoresTo(t, eng, c2, vol, dir);

  await qemuWrite(vol, [[40 * MiB, 4096, 0x77]]);
  const c3 = await eng.backup({ backupId: 'c3', volumeId: 'v1', source: vol, parent: c2, trackChanges: true });
  t.is(c3.changeTracking, 'dirty-bitmap');
  t.is(c3.readBytes, CHUNK);
  await restoresTo(t, eng, c3, vol, dir);
});

test('after a revert to a snapshot the next incremental reads everything and holds the snapshot’s bytes', async (t) => {
  t.timeout(300_000);
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo);
  const driver = await setUpFileDriver(dir);
  await driver.createVolume('v1', 1);
  const vol = await driver.imageSource('v1');
  await qemuWrite(vol, [
    [0, 8 * MiB, 0x01],
    [600 * MiB, 4 * MiB, 0x02],
  ]);
  await driver.createSnapshot('v1', 's1');
  await qemuWrite(vol, [[2 * MiB, MiB, 0x03]]);
  const r1 = await eng.backup({ backupId: 'r1', volumeId: 'v1', source: vol, parent: null, trackChanges: true });
  t.deepEqual(await bitmapNames(vol), ['flint-backup-r1']);

  // qemu-img 7.2 refuses to revert with enabled bitmaps: the driver drops them first.
  await driver.revertToSnapshot('v1', 's1');
  t.deepEqual(await bitmapNames(vol), []);
  const log = memoryLog();
  const r2 = await eng.backup({ backupId: 'r2', volumeId: 'v1', source: vol, parent: r1, trackChanges: true, log });
  t.is(r2.changeTracking, 'compare');
  t.true(log.lines.some((l) => /no bitmap for parent r1/.test(l)), log.lines.join('; '));
  t.not(r2.sha256, r1.sha256);
  const snap = await eng.backup({ backupId: 'snap', volumeId: 'v1', source: await driver.imageSource('v1', 's1'), parent: null });
  t.deepEqual(same(r2), same(snap), 'the backup after the revert holds exactly the snapshot’s bytes');
  await restoresTo(t, eng, r2, vol, dir);
});

test('a raw volume has no bitmap: its incremental compares', async (t) => {
  t.timeout(120_000);
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo);
  const vol = await rawImage(join(dir, 'vol.raw'), 32 * MiB, [{ offset: 0, data: randomBytes(8 * MiB) }]);
  const f = await eng.backup({ backupId: 'f', volumeId: 'v1', source: vol, parent: null, trackChanges: true });
  t.is(f.changeTracking, 'full');
  await qemuWrite(vol, [[MiB, 4096, 0x09]]);
  const log = memoryLog();
  const i = await eng.backup({ backupId: 'i', volumeId: 'v1', source: vol, parent: f, trackChanges: true, log });
  t.is(i.changeTracking, 'compare');
  t.is(i.readBytes, 8 * MiB);
  t.true(log.lines.some((l) => /a raw image keeps no dirty bitmap/.test(l)), log.lines.join('; '));
  await restoresTo(t, eng, i, vol, dir);
});

test('a cancelled tracked backup removes its own bitmap and keeps the parent’s, so the next one still reads only changes', async (t) => {
  t.timeout(120_000);
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo, MiB);
  const vol = await randomQcow2(dir, 'vol', 32 * MiB);
  const a = await eng.backup({ backupId: 'a', volumeId: 'v1', source: vol, parent: null, trackChanges: true });
  await qemuWrite(vol, [[0, 16 * MiB, 0x31]]);
  const controller = new AbortController();
  await t.throwsAsync(
    eng.backup({ backupId: 'b', volumeId: 'v1', source: vol, parent: a, trackChanges: true, signal: controller.signal, onProgress: () => controller.abort() }),
    { name: 'BackupAbortedError' },
  );
  t.deepEqual(await bitmapNames(vol), ['flint-backup-a']);
  // A bitmap left by a crashed backup (never finished) is stale: the next backup removes it.
  await qcow2Bitmaps.addBitmap(vol.path, 'flint-backup-crashed');
  const c = await eng.backup({ backupId: 'c', volumeId: 'v1', source: vol, parent: a, trackChanges: true });
  t.is(c.changeTracking, 'dirty-bitmap');
  t.is(c.readBytes, 16 * MiB);
  t.deepEqual(await bitmapNames(vol), ['flint-backup-c']);
  await restoresTo(t, eng, c, vol, dir);
});

test('qemu-nbd -B refuses a bitmap the image does not have', async (t) => {
  t.timeout(60_000);
  const dir = await workDir(t);
  const vol = await randomQcow2(dir, 'vol', 8 * MiB);
  await t.throwsAsync(serveNbd({ processes: testProcesses(t), image: vol, exportName: 'x', listen: { socket: join(dir, 's') }, readOnly: true, bitmap: 'nope' }), { message: /nope/ });
});

test('managing a qcow2 image drops the backup bitmaps of its past, unmanaging drops this Flint’s; other bitmaps stay', async (t) => {
  t.timeout(120_000);
  const dir = await workDir(t);
  const driver = await setUpFileDriver(dir);
  const foreign = join(driver.pool.directory, 'imported.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', foreign, '16M']);
  await qcow2Bitmaps.addBitmap(foreign, 'flint-backup-elsewhere');
  await qcow2Bitmaps.addBitmap(foreign, 'mine');
  await driver.manageExisting('m1', 'imported.qcow2');
  const vol = await driver.imageSource('m1');
  t.deepEqual(await bitmapNames(vol), ['mine']);

  const { repo } = await repository(t, 'dir', dir);
  await engine(repo).backup({ backupId: 'mb', volumeId: 'm1', source: vol, parent: null, trackChanges: true });
  t.deepEqual(await bitmapNames(vol), ['flint-backup-mb', 'mine']);
  await driver.unmanage('m1');
  t.deepEqual(await bitmapNames({ ...vol, path: join(driver.pool.directory, 'unmanaged-volume-m1.qcow2') }), ['mine']);
});

/** A 1 GiB qcow2 volume of a file pool with 8 MiB written, and its first tracked backup `backupId`. */
async function backedUpVolume(t: ExecutionContext, backupId: string) {
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo);
  const driver = await setUpFileDriver(dir);
  await driver.createVolume('v1', 1);
  const vol = await driver.imageSource('v1');
  await qemuWrite(vol, [[0, 8 * MiB, 0x01]]);
  const first = await eng.backup({ backupId, volumeId: 'v1', source: vol, parent: null, trackChanges: true });
  return { dir, eng, driver, vol, first };
}

test('after an extend the bitmap survives (qemu-img resize keeps it) but the next incremental compares, and the one after reads only changes', async (t) => {
  t.timeout(180_000);
  const { dir, eng, driver, first: e1 } = await backedUpVolume(t, 'e1');
  await driver.extendVolume('v1', 2);
  const vol2 = await driver.imageSource('v1');
  t.deepEqual(await bitmapNames(vol2), ['flint-backup-e1']);
  await qemuWrite(vol2, [[1536 * MiB, MiB, 0x02]]);
  const log = memoryLog();
  const e2 = await eng.backup({ backupId: 'e2', volumeId: 'v1', source: vol2, parent: e1, trackChanges: true, log });
  t.is(e2.changeTracking, 'compare');
  t.true(log.lines.some((l) => /extended/.test(l)), log.lines.join('; '));
  t.is(e2.readBytes, 9 * MiB);
  await qemuWrite(vol2, [[4 * MiB, 4096, 0x03]]);
  const e3 = await eng.backup({ backupId: 'e3', volumeId: 'v1', source: vol2, parent: e2, trackChanges: true });
  t.is(e3.changeTracking, 'dirty-bitmap');
  t.is(e3.readBytes, CHUNK);
  await restoresTo(t, eng, e3, vol2, dir);
});

/** An NBD export of `image` writes, flushes and is killed with the image open: its bitmaps are left in-use. */
async function writerDies(t: ExecutionContext, image: ImageSource, dir: string, offset: number): Promise<void> {
  const server = await serveNbd({ processes: testProcesses(t), image, exportName: 'w', listen: { socket: join(dir, 'w.sock') } });
  await run('qemu-io', ['-f', 'raw', '-c', `write -P 0x66 ${offset} ${MiB}`, '-c', 'flush', server.uri]);
  process.kill(server.pid, 'SIGKILL');
  await server.exited;
  await server.stop();
}

test('an extend past a bitmap a dead writer left in-use (qemu-img resize refuses it) removes Flint\'s broken bitmap and grows; another\'s stops it with a way out', async (t) => {
  t.timeout(180_000);
  const { dir, driver, vol } = await backedUpVolume(t, 'x1');
  await writerDies(t, vol, dir, 16 * MiB);
  t.deepEqual((await qcow2Bitmaps.listBitmaps(vol.path)).map((b) => [b.name, b.flags.includes('in-use')]), [['flint-backup-x1', true]]);
  await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', vol.path, join(dir, 'before.raw')]);

  const grown = await driver.extendVolume('v1', 2);
  t.is(grown.sizeBytes, 2 * 1024 * MiB);
  t.deepEqual(await bitmapNames(vol), [], 'the broken backup bitmap is gone');
  const cmp = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', join(dir, 'before.raw'), vol.path]);
  t.regex(cmp.stdout, /Images are identical/, 'the bytes are kept (the grown tail reads as zeros)');

  await run('qemu-img', ['bitmap', '--add', '--enable', '-f', 'qcow2', vol.path, 'theirs']);
  await writerDies(t, vol, dir, 24 * MiB);
  const err = await t.throwsAsync(driver.extendVolume('v1', 3));
  t.regex(err?.message ?? '', /bitmap 'theirs' is marked in-use.*qemu-img bitmap --remove .*v1.* theirs/);
  t.false((err as { retryable?: boolean }).retryable, 'another pool cannot help');
  t.deepEqual(await bitmapNames(vol), ['theirs'], 'a bitmap that is not Flint\'s is left alone');
  t.is((await driver.getVolume('v1'))?.sizeBytes, 2 * 1024 * MiB);
});

test.after.always('no process is left behind', noProcessesLeft);
