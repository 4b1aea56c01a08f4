/**
 * Incremental backups, independence of backups in a chain, garbage collection and sparse
 * volumes, with real qemu-nbd and a directory repository.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { asStore } from '../../src/node-agent/backup/repository.js';
import { blankImage, engine, imageSha256, MiB, patchRaw, rawImage, repository, run, workDir } from './backup-fixtures.js';
import { noProcessesLeft } from '../helpers/processes.js';

const GiB = 1024 * MiB;

test('an incremental backup after changing 1% of a 1 GiB volume stores about 1% of its bytes', async (t) => {
  t.timeout(300_000); // 1 GiB written, read twice and verified on a shared 2-core machine
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo);
  const writes = [];
  for (let off = 0; off < GiB; off += 64 * MiB) writes.push({ offset: off, data: randomBytes(64 * MiB) });
  const source = await rawImage(join(dir, 'vol.raw'), GiB, writes);
  writes.length = 0;
  const full = await eng.backup({ backupId: 'full', volumeId: 'v1', source, parent: null });
  t.is(full.dataBytes, GiB);
  t.true(full.storedBytes >= GiB, 'random data does not compress: stored raw');

  // 1% of the volume: 10 MiB in one place and 0.24 MiB scattered over 6 chunks.
  await patchRaw(source.path, [
    { offset: 300 * MiB, data: randomBytes(10 * MiB) },
    ...[1, 2, 3, 4, 5, 6].map((i) => ({ offset: i * 150 * MiB + 20 * MiB + 777, data: randomBytes(40_000) })),
  ]);
  const incr = await eng.backup({ backupId: 'incr', volumeId: 'v1', source, parent: full });
  t.is(incr.parentId, 'full');
  t.is(incr.dataBytes, GiB);
  // 3 chunks for the 10 MiB (300-312 MiB) and 6 for the scattered writes: 9 × 4 MiB = 3.5% at most.
  t.true(incr.storedBytes >= 10 * MiB, `stored ${incr.storedBytes}`);
  t.true(incr.storedBytes <= 9 * 4 * MiB + 9 * 64, `stored ${incr.storedBytes}`);
  t.is(incr.dedupBytes, GiB - 9 * 4 * MiB);
  t.not(incr.sha256, full.sha256);
  t.deepEqual(await eng.verify('incr'), { ok: true, chunks: 256 });
});

test('deleting the middle backup of a chain keeps the others restorable, and GC frees exactly its own chunks', async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const store = asStore(repo);
  const eng = engine(repo, MiB);
  const source = await rawImage(join(dir, 'vol.raw'), 32 * MiB, [{ offset: 0, data: randomBytes(16 * MiB) }]);
  const snapshots: string[] = [];
  const keep = async (name: string): Promise<void> => {
    const p = join(dir, `${name}.raw`);
    await run('cp', ['--sparse=always', source.path, p]);
    snapshots.push(p);
  };
  const b1 = await eng.backup({ backupId: 'b1', volumeId: 'v1', source, parent: null });
  await keep('b1');
  await patchRaw(source.path, [{ offset: 2 * MiB, data: randomBytes(2 * MiB) }]);
  const b2 = await eng.backup({ backupId: 'b2', volumeId: 'v1', source, parent: b1 });
  await patchRaw(source.path, [
    { offset: 2 * MiB, data: randomBytes(MiB) },
    { offset: 20 * MiB, data: randomBytes(MiB) },
  ]);
  const b3 = await eng.backup({ backupId: 'b3', volumeId: 'v1', source, parent: b2 });
  await keep('b3');

  const hashes = (m: typeof b1): Set<string> => new Set(m.entries.map((e) => e.hash));
  const onlyB2 = [...hashes(b2)].filter((h) => !hashes(b1).has(h) && !hashes(b3).has(h));
  t.is(onlyB2.length, 1, 'b2’s chunk at 3 MiB was overwritten again in b3');
  const before = new Set((await store.listChunks()).map((c) => c.hash));

  await eng.deleteManifest('b2');
  await eng.deleteManifest('b2'); // idempotent
  t.is(await eng.manifest('b2'), null);
  const gc = await eng.collectGarbage();
  t.is(gc.deletedChunks, onlyB2.length);
  const after = new Set((await store.listChunks()).map((c) => c.hash));
  t.deepEqual(
    [...before].filter((h) => !after.has(h)).sort(),
    onlyB2.sort(),
  );
  t.deepEqual([...after].sort(), [...new Set([...hashes(b1), ...hashes(b3)])].sort());
  t.is(gc.keptChunks, after.size);
  t.deepEqual(await eng.collectGarbage(), { deletedChunks: 0, freedBytes: 0, keptChunks: after.size });

  for (const [i, m] of [b1, b3].entries()) {
    const target = await blankImage(join(dir, `r${i}.raw`), 'raw', 32 * MiB);
    await eng.restore({ manifest: m, target });
    t.is(await imageSha256(target, join(dir, `rr${i}.raw`)), await imageSha256({ path: snapshots[i]!, format: 'raw', sizeBytes: 32 * MiB }, join(dir, `ss${i}.raw`)));
  }
  t.deepEqual(await eng.verify('b1'), { ok: true, chunks: b1.entries.length });

  await eng.deleteManifest('b1');
  await eng.deleteManifest('b3');
  const last = await eng.collectGarbage();
  t.is(last.keptChunks, 0);
  t.is((await store.listChunks()).length, 0);
});

test('a chunk written less than graceMs ago is kept by GC even when no manifest references it', async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo, MiB);
  const source = await rawImage(join(dir, 'vol.raw'), 8 * MiB, [{ offset: 0, data: randomBytes(2 * MiB) }]);
  await eng.backup({ backupId: 'b1', volumeId: 'v1', source, parent: null });
  await eng.deleteManifest('b1');
  t.deepEqual(await eng.collectGarbage({ graceMs: 3600_000 }), { deletedChunks: 0, freedBytes: 0, keptChunks: 2 });
  const gc = await eng.collectGarbage({ graceMs: 0 });
  t.is(gc.deletedChunks, 2);
  t.true(gc.freedBytes > 2 * MiB);
});

test('a sparse 64 GiB qcow2 volume holding 100 MiB is backed up reading only its 100 MiB', async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo);
  const img = join(dir, 'big.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', img, '64G']);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x61 0 40M', '-c', 'write -P 0x62 10G 30M', '-c', 'write -P 0x63 40G 20M', '-c', 'write -P 0x64 63G 10M', img]);
  const source = { path: img, format: 'qcow2' as const, sizeBytes: 64 * GiB };
  const m = await eng.backup({ backupId: 'sparse', volumeId: 'v1', source, parent: null });
  t.is(m.sizeBytes, 64 * GiB);
  t.is(m.readBytes, 100 * MiB, 'only allocated extents are read');
  // Entries are whole chunks of the grid: the 30 MiB at 10 GiB make 8 chunks of 4 MiB.
  t.is(m.dataBytes, 104 * MiB);
  t.true(m.storedBytes < 2 * MiB, `patterns compress: stored ${m.storedBytes}`);
  t.is(m.entries.length, 26);
});

test.after.always('no process is left behind', noProcessesLeft);
