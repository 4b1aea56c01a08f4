/**
 * Backup engine round trips with real qemu-nbd and real repositories (a directory, and the
 * object store of a nats-server the test starts): the restored image has the original's
 * bytes, for raw images and for a qcow2 internal snapshot.
 */
import test from 'ava';
import { join } from 'node:path';
import { blankImage, chunkListChecksum, engine, imageSha256, MiB, patterns, rawImage, repository, run, toRaw, workDir } from './backup-fixtures.js';
import { randomBytes } from 'node:crypto';
import { noProcessesLeft } from '../helpers/processes.js';

const SIZE = 40 * MiB + 512 * 1024; // not a multiple of the chunk size: the last chunk is short

for (const kind of ['dir', 'nats'] as const) {
  test(`a raw volume with several patterns and holes round-trips through a ${kind} repository into a new qcow2 image`, async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
    const dir = await workDir(t);
    const { repo } = await repository(t, kind, dir);
    const eng = engine(repo);
    const chunk = 4 * MiB;
    const source = await rawImage(join(dir, 'src.raw'), SIZE, patterns(SIZE, chunk));
    const progress: number[] = [];
    const m = await eng.backup({ backupId: 'b1', volumeId: 'v1', source, parent: null, onProgress: (p) => progress.push(p.doneBytes / p.totalBytes) });

    t.is(m.sizeBytes, SIZE);
    t.is(m.chunkSize, chunk);
    t.is(m.parentId, null);
    t.is(m.codec, 'lz4');
    t.true(m.entries.length >= 4 && m.entries.every((e) => e.offset % chunk === 0), 'entries sit on the chunk grid');
    t.false(
      m.entries.some((e) => e.offset === 12 * MiB),
      'the chunk holding only written zeros is not an entry',
    );
    t.is(progress.at(-1), 1);
    t.true(m.storedBytes < m.dataBytes, 'compressible data is stored compressed');
    t.is(m.sha256, await chunkListChecksum(await toRaw(source, join(dir, 'src-copy.raw')), chunk));
    t.deepEqual(await eng.manifest('b1'), m);
    t.deepEqual(await eng.verify('b1'), { ok: true, chunks: m.entries.length });

    const target = await blankImage(join(dir, 'restored.qcow2'), 'qcow2', SIZE);
    await eng.restore({ manifest: m, target });
    t.is(await imageSha256(target, join(dir, 'r.raw')), await imageSha256(source, join(dir, 's.raw')));
    await repo.close();
  });
}

test('restore writes zeros over whatever the target held where the backup has none', async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo);
  const source = await rawImage(join(dir, 'src.raw'), 16 * MiB, [{ offset: MiB, data: randomBytes(MiB) }]);
  const m = await eng.backup({ backupId: 'b1', volumeId: 'v1', source, parent: null });
  const target = await rawImage(join(dir, 'dirty.raw'), 16 * MiB, [{ offset: 0, data: randomBytes(16 * MiB) }]);
  await eng.restore({ manifest: m, target });
  t.is(await imageSha256(target, join(dir, 'r.raw')), await imageSha256(source, join(dir, 's.raw')));
});

test('a qcow2 internal snapshot is backed up with the bytes it had, not the image’s current bytes', async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo, 1 * MiB);
  const img = join(dir, 'vol.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', img, String(64 * MiB)]);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x11 0 3M', '-c', 'write -P 0x22 20M 1M', img]);
  await run('qemu-img', ['snapshot', '-c', 's1', img]);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x33 0 4M', '-c', 'write -P 0x44 40M 1M', img]);
  const snap = { path: img, format: 'qcow2' as const, snapshotName: 's1', sizeBytes: 64 * MiB };

  const m = await eng.backup({ backupId: 'snap-b', volumeId: 'v1', source: snap, parent: null });
  t.is(m.dataBytes, 4 * MiB, 'only the snapshot’s 4 chunks of 1 MiB');
  const target = await blankImage(join(dir, 'r.raw'), 'raw', 64 * MiB);
  await eng.restore({ manifest: m, target });
  const want = await imageSha256(snap, join(dir, 'snap.raw'));
  t.is(await imageSha256(target, join(dir, 'r2.raw')), want);
  t.not(await imageSha256({ path: img, format: 'qcow2', sizeBytes: 64 * MiB }, join(dir, 'cur.raw')), want);
});

test('a target smaller than the backup is refused before anything is written', async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo);
  const source = await rawImage(join(dir, 'src.raw'), 8 * MiB, [{ offset: 0, data: randomBytes(MiB) }]);
  const m = await eng.backup({ backupId: 'b1', volumeId: 'v1', source, parent: null });
  const target = await blankImage(join(dir, 'small.raw'), 'raw', 4 * MiB);
  const err = await t.throwsAsync(eng.restore({ manifest: m, target }));
  t.is(err?.name, 'DriverError');
  t.regex(err!.message, /extend the target first/);
});

test.after.always('no process is left behind', noProcessesLeft);
