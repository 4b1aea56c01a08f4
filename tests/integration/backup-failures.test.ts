/**
 * Backup engine failures and concurrency with real qemu-nbd and real repositories: damaged
 * and missing chunks, a cancelled backup, garbage collection during a backup, imports.
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { uncompressSync } from 'lz4-napi';
import { BackupAbortedError, type BackupManifest } from '../../src/node-agent/backup/index.js';
import { parseChunk } from '../../src/node-agent/backup/chunk-codec.js';
import { asStore } from '../../src/node-agent/backup/repository.js';
import { DriverError } from '../../src/node-agent/drivers/index.js';
import { blankImage, engine, imageSha256, MiB, rawImage, repository, workDir } from './backup-fixtures.js';
import { noProcessesLeft } from '../helpers/processes.js';

for (const kind of ['dir', 'nats'] as const) {
  test(`${kind}: a corrupted chunk and a missing chunk are named by verify (hash and offset) and make restore fail naming them`, async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
    const dir = await workDir(t);
    const { repo } = await repository(t, kind, dir);
    const store = asStore(repo);
    const eng = engine(repo, MiB);
    const source = await rawImage(join(dir, 'vol.raw'), 16 * MiB, [{ offset: 0, data: randomBytes(8 * MiB) }]);
    const m = await eng.backup({ backupId: 'b1', volumeId: 'v1', source, parent: null });
    t.is(m.entries.length, 8);

    const bad = m.entries[5]!;
    const stored = await store.getChunk(bad.hash);
    const damaged = Buffer.from(stored!);
    damaged[damaged.length - 10] ^= 0xff;
    await store.putChunk(bad.hash, damaged);
    const v1 = await eng.verify('b1');
    t.deepEqual(v1.ok ? null : v1.problem.hash, bad.hash);
    t.is(v1.ok ? -1 : v1.problem.offset, bad.offset);
    t.regex(v1.ok ? '' : v1.problem.reason, /corrupt/);
    let target = await blankImage(join(dir, 'r1.raw'), 'raw', 16 * MiB);
    let err = await t.throwsAsync(eng.restore({ manifest: m, target }), { instanceOf: DriverError });
    t.true(err!.message.includes(bad.hash) && err!.message.includes(String(bad.offset)), err!.message);
    t.regex(err!.message, /corrupt/);

    const gone = m.entries[2]!;
    await store.deleteChunk(gone.hash);
    const v2 = await eng.verify('b1');
    t.false(v2.ok);
    t.deepEqual(v2.ok ? null : v2.problem, { hash: gone.hash, offset: gone.offset, reason: 'missing from the repository' }, 'the first bad chunk in volume order');
    target = await blankImage(join(dir, 'r2.raw'), 'raw', 16 * MiB);
    err = await t.throwsAsync(eng.restore({ manifest: m, target }), { instanceOf: DriverError });
    t.true(err!.message.includes(gone.hash), err!.message);
    t.regex(err!.message, /missing/);
  });

  test(`${kind}: a cancelled backup leaves no manifest, no lease and only whole, valid chunks; the next backup works`, async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
    const dir = await workDir(t);
    const { repo } = await repository(t, kind, dir);
    const store = asStore(repo);
    const eng = engine(repo, MiB);
    const source = await rawImage(join(dir, 'vol.raw'), 64 * MiB, [{ offset: 0, data: randomBytes(64 * MiB) }]);
    const ac = new AbortController();
    let calls = 0;
    const err = await t.throwsAsync(
      eng.backup({
        backupId: 'b1',
        volumeId: 'v1',
        source,
        parent: null,
        signal: ac.signal,
        onProgress: () => {
          if (++calls === 3) ac.abort();
        },
      }),
    );
    t.true(err instanceof BackupAbortedError, String(err));
    t.is(await eng.manifest('b1'), null);
    t.deepEqual(await store.listRecords('manifest'), []);
    t.deepEqual(await store.listRecords('lease'), []);
    const chunks = await store.listChunks();
    t.true(chunks.length < 64, `stopped early: ${chunks.length} chunks`);
    for (const c of chunks) {
      const parsed = parseChunk((await store.getChunk(c.hash))!);
      if (typeof parsed === 'string') return t.fail(`chunk ${c.hash}: ${parsed}`);
      const raw = parsed.codec === 'lz4' ? uncompressSync(parsed.payload) : parsed.payload;
      t.is(createHash('sha256').update(raw).digest('hex'), c.hash);
    }
    if (kind === 'dir') t.deepEqual(await fs.readdir(join(dir, 'repo', 'tmp')), [], 'no temp file left');

    const m = await eng.backup({ backupId: 'b1', volumeId: 'v1', source, parent: null });
    t.true(m.dedupBytes <= chunks.length * MiB);
    const target = await blankImage(join(dir, 'r.raw'), 'raw', 64 * MiB);
    await eng.restore({ manifest: m, target });
    t.is(await imageSha256(target, join(dir, 'rr.raw')), await imageSha256(source, join(dir, 'ss.raw')));
  });

  test(`${kind}: garbage collection during a backup that reuses unreferenced chunks never deletes them`, async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
    const dir = await workDir(t);
    const { repo } = await repository(t, kind, dir);
    const eng = engine(repo, MiB);
    const source = await rawImage(join(dir, 'vol.raw'), 32 * MiB, [{ offset: 0, data: randomBytes(24 * MiB) }]);
    await eng.backup({ backupId: 'old', volumeId: 'v1', source, parent: null });
    await eng.deleteManifest('old'); // its 24 chunks are now garbage, unless a backup relies on them
    const collections: Promise<{ deletedChunks: number }>[] = [];
    const m = await eng.backup({
      backupId: 'new',
      volumeId: 'v1',
      source,
      parent: null,
      onProgress: () => {
        if (collections.length < 4) collections.push(eng.collectGarbage());
      },
    });
    await Promise.all(collections);
    t.deepEqual(await eng.verify('new'), { ok: true, chunks: 24 });
    const target = await blankImage(join(dir, 'r.raw'), 'raw', 32 * MiB);
    await eng.restore({ manifest: m, target });
    t.is(await imageSha256(target, join(dir, 'rr.raw')), await imageSha256(source, join(dir, 'ss.raw')));
    t.is((await eng.collectGarbage()).deletedChunks, 0, 'after the backup, its manifest keeps every chunk');
  });
}

test('an exported manifest imports back (idempotently), a damaged or conflicting one is refused; a repeated backup returns the finished one', async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo, MiB);
  const source = await rawImage(join(dir, 'vol.raw'), 8 * MiB, [{ offset: MiB, data: randomBytes(2 * MiB) }]);
  const m = await eng.backup({ backupId: 'b1', volumeId: 'v1', source, parent: null });
  const exported = JSON.parse(JSON.stringify(m)) as BackupManifest;
  await eng.deleteManifest('b1');
  await eng.putManifest(exported);
  await eng.putManifest(exported);
  t.deepEqual(await eng.manifest('b1'), m);
  const progress: { doneBytes: number; totalBytes: number }[] = [];
  t.deepEqual(await eng.verify('b1', undefined, (p) => progress.push(p)), { ok: true, chunks: 2 });
  t.deepEqual(progress.at(-1), { doneBytes: 2 * MiB, totalBytes: 2 * MiB }, 'verify reports every byte it checked');

  const conflict = await t.throwsAsync(eng.putManifest({ ...exported, volumeId: 'other' }), { instanceOf: DriverError });
  t.regex(conflict!.message, /already exists/);
  const bad = await t.throwsAsync(eng.putManifest({ ...exported, backupId: 'b2', dataBytes: 1 }), { instanceOf: DriverError });
  t.regex(bad!.message, /dataBytes/);
  const badPath = await t.throwsAsync(eng.putManifest({ ...exported, backupId: '../etc' }), { instanceOf: DriverError });
  t.regex(badPath!.message, /backupId/);
  t.is(await eng.manifest('b2'), null);

  t.deepEqual(await eng.backup({ backupId: 'b1', volumeId: 'v1', source, parent: null }), m, 'a repeated backup command returns the finished backup');
  const other = await t.throwsAsync(eng.backup({ backupId: 'b1', volumeId: 'v2', source, parent: null }), { instanceOf: DriverError });
  t.regex(other!.message, /already has a backup b1 of volume v1/);
});

test('a cancelled restore or verify ends with BackupAbortedError', async (t) => {
  t.timeout(240_000); // real qemu-nbd and repositories on a shared 2-core machine
  const dir = await workDir(t);
  const { repo } = await repository(t, 'dir', dir);
  const eng = engine(repo, MiB);
  const source = await rawImage(join(dir, 'vol.raw'), 32 * MiB, [{ offset: 0, data: randomBytes(32 * MiB) }]);
  const m = await eng.backup({ backupId: 'b1', volumeId: 'v1', source, parent: null });
  const ac = new AbortController();
  const target = await blankImage(join(dir, 'r.raw'), 'raw', 32 * MiB);
  const restoring = eng.restore({ manifest: m, target, signal: ac.signal, onProgress: (p) => p.doneBytes >= 2 * MiB && ac.abort() });
  await t.throwsAsync(restoring, { instanceOf: BackupAbortedError });
  await t.throwsAsync(eng.verify('b1', AbortSignal.abort()), { instanceOf: BackupAbortedError });
  t.deepEqual(await eng.verify('b1'), { ok: true, chunks: 32 });
});

test.after.always('no process is left behind', noProcessesLeft);
