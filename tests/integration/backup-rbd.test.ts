/**
 * Backups of RBD images with rbd's own change tracking, on a real Ceph cluster: a tracked
 * backup reads an rbd snapshot it creates, the next one reads only the extents
 * `rbd diff --from-snap` lists, and restores into an rbd image give back every byte.
 */
import test from 'ava';
import type { BackupLog, BackupManifest } from '../../src/node-agent/backup/index.js';
import { testRbdPool, type TestRbdPool } from '../helpers/ceph.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { createRbdImage, qemuWriteRbd, rbd, rbdSha256, rbdSnapshots, rbdSource } from '../helpers/rbd-images.js';
import { engine, MiB, repository, workDir } from './backup-fixtures.js';

const CHUNK = 1 * MiB;
const SIZE = 64 * MiB;

let pool: TestRbdPool;

test.before(async () => {
  pool = await testRbdPool();
});

test.after.always(async () => {
  await pool?.remove();
});

function memoryLog(): BackupLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (_f, m) => lines.push(m), warn: (_f, m) => lines.push(`WARN ${m}`) };
}

const same = (m: BackupManifest) => ({ entries: m.entries, sha256: m.sha256, dataBytes: m.dataBytes, sizeBytes: m.sizeBytes });

test('a full and an incremental backup of an rbd image read only allocated and then only changed extents, and restore every byte', async (t) => {
  t.timeout(240_000);
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo, CHUNK);
  const vol = await createRbdImage(pool, 'volume-v1', SIZE);
  // 20 MiB of data in three extents; the other 44 MiB were never written.
  await qemuWriteRbd(vol, [
    [0, 8 * MiB, 0x11],
    [20 * MiB, 8 * MiB, 0x22],
    [SIZE - 4 * MiB, 4 * MiB, 0x33],
  ]);
  const sumFull = await rbdSha256(pool, 'volume-v1');

  const full = await eng.backup({ backupId: 'full', volumeId: 'v1', source: vol, parent: null, trackChanges: true });
  t.is(full.changeTracking, 'full');
  t.is(full.readBytes, 20 * MiB, 'only the allocated extents are read');
  t.deepEqual(await rbdSnapshots(pool, 'volume-v1'), ['backup-full']);

  // Written after the backup's snapshot: 64 KiB in chunk 2, 4 KiB across chunks 21/22.
  await qemuWriteRbd(vol, [
    [2 * MiB + 4096, 64 * 1024, 0x44],
    [22 * MiB - 2048, 4096, 0x55],
  ]);
  const sumIncr = await rbdSha256(pool, 'volume-v1');
  t.not(sumIncr, sumFull);

  const log = memoryLog();
  const incr = await eng.backup({ backupId: 'incr', volumeId: 'v1', source: vol, parent: full, trackChanges: true, log });
  t.is(incr.changeTracking, 'rbd-diff', log.lines.join('; '));
  // The three chunks the writes touch, each allocated whole; nothing else.
  t.is(incr.readBytes, 3 * CHUNK, `read ${incr.readBytes}`);
  t.deepEqual(await rbdSnapshots(pool, 'volume-v1'), ['backup-incr'], 'the parent’s snapshot is replaced by the new one');

  // Reading everything (no tracking) gives the same manifest.
  const compare = await eng.backup({ backupId: 'cmp', volumeId: 'v1', source: vol, parent: full });
  t.is(compare.changeTracking, 'compare');
  t.is(compare.readBytes, 20 * MiB);
  t.deepEqual(same(incr), same(compare));
  t.deepEqual(await rbdSnapshots(pool, 'volume-v1'), ['backup-incr'], 'an untracked backup leaves the snapshots alone');

  // Restores into rbd images that hold other bytes: sha256 of the whole volume as backed up.
  for (const [m, sum] of [[full, sumFull], [incr, sumIncr]] as const) {
    const name = `volume-r-${m.backupId}`;
    const target = await createRbdImage(pool, name, SIZE);
    await qemuWriteRbd(target, [[30 * MiB, 2 * MiB, 0x77]]);
    await eng.restore({ manifest: m, target });
    t.is(await rbdSha256(pool, name), sum, `restore of ${m.backupId}`);
  }
});

test('an rbd backup whose parent snapshot is gone reads every allocated chunk, and the next one diffs again', async (t) => {
  t.timeout(240_000);
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo, CHUNK);
  const vol = await createRbdImage(pool, 'volume-v2', SIZE);
  await qemuWriteRbd(vol, [[0, 6 * MiB, 0x21]]);
  const b1 = await eng.backup({ backupId: 'b1', volumeId: 'v2', source: vol, parent: null, trackChanges: true });
  await rbd(pool, ['snap', 'rm', '--no-progress', `${pool.rbdPool}/volume-v2@backup-b1`]);
  await qemuWriteRbd(vol, [[MiB, 4096, 0x22]]);

  const log = memoryLog();
  const b2 = await eng.backup({ backupId: 'b2', volumeId: 'v2', source: vol, parent: b1, trackChanges: true, log });
  t.is(b2.changeTracking, 'compare');
  t.is(b2.readBytes, 6 * MiB);
  t.true(log.lines.some((l) => l.includes('no rbd snapshot backup-b1')), log.lines.join('; '));
  t.deepEqual(await rbdSnapshots(pool, 'volume-v2'), ['backup-b2']);

  await qemuWriteRbd(vol, [[3 * MiB, 4096, 0x23]]);
  const b3 = await eng.backup({ backupId: 'b3', volumeId: 'v2', source: vol, parent: b2, trackChanges: true });
  t.is(b3.changeTracking, 'rbd-diff');
  t.is(b3.readBytes, CHUNK);
  const target = await createRbdImage(pool, 'volume-r-b3', SIZE);
  await eng.restore({ manifest: b3, target });
  t.is(await rbdSha256(pool, 'volume-r-b3'), await rbdSha256(pool, 'volume-v2'));
});

test('a backup of an rbd snapshot reads that snapshot and leaves no backup snapshot', async (t) => {
  t.timeout(120_000);
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo, CHUNK);
  await createRbdImage(pool, 'volume-v3', SIZE);
  const vol = rbdSource(pool, 'volume-v3', SIZE);
  await qemuWriteRbd(vol, [[0, 2 * MiB, 0x31]]);
  await rbd(pool, ['snap', 'create', `${pool.rbdPool}/volume-v3@snapshot-s1`]);
  const sum = await rbdSha256(pool, 'volume-v3', 'snapshot-s1');
  await qemuWriteRbd(vol, [[0, 4 * MiB, 0x32]]);

  const m = await eng.backup({ backupId: 's1', volumeId: 'v3', source: rbdSource(pool, 'volume-v3', SIZE, 'snapshot-s1'), parent: null, trackChanges: false });
  t.is(m.changeTracking, 'full');
  t.is(m.readBytes, 2 * MiB);
  t.deepEqual(await rbdSnapshots(pool, 'volume-v3'), ['snapshot-s1']);
  const target = await createRbdImage(pool, 'volume-r-s1', SIZE);
  await eng.restore({ manifest: m, target });
  t.is(await rbdSha256(pool, 'volume-r-s1'), sum);
});

test.after.always('no process is left behind', noProcessesLeft);
