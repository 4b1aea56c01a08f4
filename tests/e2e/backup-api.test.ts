/**
 * Backups end to end (issue 5) on one real cluster (nats-server, SQLite, gateway, scheduler,
 * one agent with a qcow2 pool and the default directory repository), driven through HTTP
 * and a real graphql-ws client; data written with qemu-io, images compared with qemu-img.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import {
  BackupDocument,
  BackupNodeDocument,
  BackupProgressDocument,
  BackupsDocument,
  CreateBackupDocument,
  DeleteBackupDocument,
  ExportBackupRecordDocument,
  ImportBackupRecordDocument,
  RestoreBackupDocument,
  VerifyBackupDocument,
  VolumeBackupsDocument,
} from '../../src/client/index.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { tempDir } from '../helpers/tmp.js';
import { EventLog, waitForBackup, waitForOperation, waitForVolume } from '../helpers/wait.js';
import { call, chunkFiles, code, copyImage, imagePath, newVolume, ok, qemuIo, sameBytes, sha256Of, takeBackup, volume, writeRandom } from './backup-helpers.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  c: Cluster;
  member: string;
  other: string;
  reader: string;
  tmp: { path: string; cleanup(): Promise<void> };
  big?: string;
}

const test = anyTest as TestFn<Ctx>;
const HOST = 'bk';
const POOL = 'p';

test.before(async (t) => {
  const c = await startCluster({ database: 'sqlite', agents: [{ host: HOST, pools: [{ name: POOL, imageFormat: 'qcow2' }] }] });
  t.context = {
    c,
    member: await c.token('alpha', 'member'),
    other: await c.token('beta', 'member'),
    reader: await c.token('alpha', 'reader'),
    tmp: await tempDir('flint-backup-e2e-'),
  };
});

test.after.always(async (t) => {
  await t.context.c?.stop();
  await t.context.tmp?.cleanup();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.c) t.log(t.context.c.logs());
});

const img = (t: { context: Ctx }, id: string) => imagePath(t.context.c, HOST, POOL, id);
const repo = (t: { context: Ctx }) => join(t.context.c.dataDir, 'backups');

test.serial('round trip: a volume with patterns and holes is backed up with progress, restored into a new and into an existing volume, byte for byte', async (t) => {
  const { c, member } = t.context;
  const id = await newVolume(c, member, 'source');
  await qemuIo(img(t, id), 'write -P 0xaa 0 4M', 'write -P 0x55 100M 3M', 'write -P 0x11 700M 1M', 'write -P 0x22 1020M 4M');

  const created = ok(await call(c, member, CreateBackupDocument, { input: { volumeId: id, name: 'first', incremental: true } }));
  const b = created.createBackup.backup;
  t.is(b.status, 'CREATING');
  t.is(created.createBackup.operation.kind, 'create_backup');
  t.regex(b.incrementalNote ?? '', /No AVAILABLE backup of this volume/, 'an incremental without a parent says it is full');
  t.false(b.isIncremental);
  const progress = EventLog.of(c.client(member).subscribe(BackupProgressDocument, { id: b.id }), `backupProgress of ${b.id}`, (e) => e.backupProgress);
  await progress.waitEnd(60_000);
  const last = progress.values.at(-1)!;
  t.is(last.status, 'AVAILABLE');
  t.is(last.totalBytes, 2 ** 30);
  t.is(last.doneBytes, 2 ** 30);
  t.is(last.percent, 100);
  t.true(progress.values.every((p) => p.backupId === b.id && p.phase === 'BACKUP' && p.doneBytes <= p.totalBytes));

  const done = await waitForBackup(c.client(member), b.id, 'AVAILABLE');
  t.is(done.sizeBytes, 2 ** 30);
  t.is(done.dataBytes, 4 * 4 * 2 ** 20, 'only the four chunks written to are data; the holes are not');
  t.is(done.chunkCount, 4);
  t.true(done.storedBytes! > 0 && done.storedBytes! < done.dataBytes!, 'patterns compress');
  t.is(done.repository, `dir:${repo(t)}`);
  t.regex(done.sha256 ?? '', /^[0-9a-f]{64}$/);
  t.true(done.durationSeconds! >= 0);
  t.is((await volume(c, member, id))!.status, 'AVAILABLE');

  // Into a new volume, through the scheduler.
  const r = ok(await call(c, member, RestoreBackupDocument, { input: { backupId: b.id, name: 'restored' } }));
  t.is(r.restoreBackup.backup.status, 'RESTORING');
  t.is(r.restoreBackup.volume.status, 'CREATING');
  t.is(r.restoreBackup.volume.sizeGiB, 1);
  const restored = r.restoreBackup.volume.id;
  await waitForVolume(c.client(member), restored, 'AVAILABLE');
  await waitForBackup(c.client(member), b.id, 'AVAILABLE');
  t.true(await sameBytes(img(t, id), img(t, restored)), 'the new volume holds the backup\'s bytes');

  // Into an existing, larger volume holding other data: overwritten, zeros included.
  const target = await newVolume(c, member, 'target', 2);
  await qemuIo(img(t, target), 'write -P 0xee 0 8M', 'write -P 0xdd 500M 1M');
  const r2 = ok(await call(c, member, RestoreBackupDocument, { input: { backupId: b.id, volumeId: target } }));
  t.is(r2.restoreBackup.volume.status, 'RESTORING_BACKUP');
  await waitForVolume(c.client(member), target, 'AVAILABLE');
  await waitForBackup(c.client(member), b.id, 'AVAILABLE');
  t.true(await sameBytes(img(t, id), img(t, target)), 'the existing volume holds the backup\'s bytes, zeros where it had none');

  const listed = ok(await call(c, member, VolumeBackupsDocument, { id }));
  t.deepEqual(listed.volume!.backups.map((x) => x.id), [b.id]);
  const page = ok(await call(c, member, BackupsDocument, { first: 10, filter: { volumeId: id } }));
  t.is(page.backups.totalCount, 1);
  t.deepEqual(ok(await call(c, member, BackupNodeDocument, { id: b.id })).node, { id: b.id, status: 'AVAILABLE', isIncremental: false });
  t.is(ok(await call(c, t.context.other, BackupNodeDocument, { id: b.id })).node, null, 'not visible to another project');
});

test.serial('incremental backups store only what changed; deleting the middle one keeps the others restorable', async (t) => {
  const { c, member } = t.context;
  const id = await newVolume(c, member, 'chain');
  await writeRandom(img(t, id), join(t.context.tmp.path, 'r1'), 64, 0);
  const refs = join(t.context.tmp.path, 'chain');
  const full = await takeBackup(c, member, { volumeId: id, name: 'full' });
  await copyImage(img(t, id), `${refs}-1.qcow2`);
  await writeRandom(img(t, id), join(t.context.tmp.path, 'r2'), 4, 32);
  const inc1 = await takeBackup(c, member, { volumeId: id, name: 'inc1', incremental: true });
  await copyImage(img(t, id), `${refs}-2.qcow2`);
  await writeRandom(img(t, id), join(t.context.tmp.path, 'r3'), 4, 512);
  const inc2 = await takeBackup(c, member, { volumeId: id, name: 'inc2', incremental: true });
  await copyImage(img(t, id), `${refs}-3.qcow2`);

  t.true(inc1.isIncremental);
  t.is(inc1.parentId, full.id);
  t.is(inc1.parent?.id, full.id);
  t.is(inc2.parentId, inc1.id);
  t.is(inc1.incrementalNote, null);
  t.true(inc1.storedBytes! <= 4 * 2 ** 20 + 4096, `incremental stored ${inc1.storedBytes} bytes for 4 MiB changed`);
  t.true(full.storedBytes! >= 64 * 2 ** 20, 'random data does not compress');
  t.true(inc1.dedupBytes! >= 60 * 2 ** 20, 'the unchanged data is deduplicated');

  // inc1's chunks are all used by full or inc2 still: deleting it frees none.
  const chunksBefore = (await chunkFiles(repo(t))).length;
  const del = ok(await call(c, member, DeleteBackupDocument, { input: { id: inc1.id } }));
  t.is(del.deleteBackup.backup.status, 'DELETING');
  await waitForBackup(c.client(member), inc1.id, (x) => x === null, { what: `backup ${inc1.id} to be deleted` });
  t.is((await waitForOperation(c.client(member), del.deleteBackup.operation!.id)).status, 'SUCCEEDED');
  t.is((await chunkFiles(repo(t))).length, chunksBefore, 'every chunk of inc1 is still referenced');
  // Deleting it again is done already, with the operation that deleted it; nothing more is removed.
  const again = ok(await call(c, member, DeleteBackupDocument, { input: { id: inc1.id } }));
  t.deepEqual({ alreadyDeleted: again.deleteBackup.alreadyDeleted, status: again.deleteBackup.backup.status, operation: again.deleteBackup.operation?.id }, { alreadyDeleted: true, status: 'DELETED', operation: del.deleteBackup.operation!.id });

  for (const [b, ref] of [[full, `${refs}-1.qcow2`], [inc2, `${refs}-3.qcow2`]] as const) {
    const target = await newVolume(c, member, `from-${b.name}`);
    ok(await call(c, member, RestoreBackupDocument, { input: { backupId: b.id, volumeId: target } }));
    await waitForVolume(c.client(member), target, 'AVAILABLE');
    t.true(await sameBytes(ref, img(t, target)), `${b.name} restores to the bytes it had`);
    await waitForBackup(c.client(member), b.id, 'AVAILABLE');
  }
  // inc2 alone held the chunks at 32 MiB (since inc1) and 512 MiB: deleting it frees exactly those two.
  ok(await call(c, member, DeleteBackupDocument, { input: { id: inc2.id } }));
  await waitForBackup(c.client(member), inc2.id, (x) => x === null, { what: `backup ${inc2.id} to be deleted` });
  await waitFor(async () => (await chunkFiles(repo(t))).length === chunksBefore - 2, 30_000, () => 'GC did not free exactly the two chunks only inc2 had');
  t.pass();
});

test.serial('a corrupted chunk: verifyBackup fails naming it, a restore ends ERROR_RESTORING, never AVAILABLE', async (t) => {
  const { c, member } = t.context;
  const id = await newVolume(c, member, 'to-corrupt');
  await qemuIo(img(t, id), 'write -P 0xc3 0 4M', 'write -P 0x3c 4M 4M');
  const b = await takeBackup(c, member, { volumeId: id, name: 'doomed' });
  const good = ok(await call(c, member, VerifyBackupDocument, { input: { id: b.id } }));
  t.is((await waitForOperation(c.client(member), good.verifyBackup.operation.id)).status, 'SUCCEEDED');

  const hash = sha256Of(Buffer.alloc(4 * 2 ** 20, 0xc3));
  const file = join(repo(t), 'chunks', hash.slice(0, 2), hash);
  t.true(existsSync(file), 'the chunk is stored under its hash');
  const bytes = await readFile(file);
  bytes[bytes.length - 1] ^= 0xff;
  await writeFile(file, bytes);

  const v = ok(await call(c, member, VerifyBackupDocument, { input: { id: b.id } }));
  t.is(v.verifyBackup.operation.kind, 'verify_backup');
  const op = await waitForOperation(c.client(member), v.verifyBackup.operation.id);
  t.is(op.status, 'FAILED');
  t.true(op.error!.message.includes(hash), op.error!.message);
  const after = (await waitForBackup(c.client(member), b.id, (x) => !!x?.messages.length, { what: 'a message on the backup' }))!;
  t.is(after.status, 'AVAILABLE', 'verification does not change the status');
  t.true(after.messages.some((m) => m.event === 'verify_backup' && m.message.includes(hash)));

  const r = ok(await call(c, member, RestoreBackupDocument, { input: { backupId: b.id } }));
  const restored = r.restoreBackup.volume.id;
  const seen: string[] = [];
  await waitFor(async () => {
    const s = (await volume(c, member, restored))?.status ?? 'gone';
    if (seen.at(-1) !== s) seen.push(s);
    return s === 'ERROR_RESTORING';
  }, 60_000, () => `the restore did not fail: ${seen.join(' → ')}`);
  t.false(seen.slice(seen.indexOf('RESTORING_BACKUP') + 1).includes('AVAILABLE'), `never AVAILABLE once restoring: ${seen.join(' → ')}`);
  const vol = (await volume(c, member, restored))!;
  t.true(vol.messages.some((m) => m.event === 'restore_backup'), JSON.stringify(vol.messages));
  await waitForBackup(c.client(member), b.id, 'AVAILABLE');
  await rm(file);
});

/** A 2 GiB volume holding 1.5 GiB of random data: a backup of it runs for a while. */
async function bigVolume(t: { context: Ctx }): Promise<string> {
  const { c, member } = t.context;
  if (t.context.big) return t.context.big;
  const id = await newVolume(c, member, 'big', 2);
  await writeRandom(img(t, id), join(t.context.tmp.path, 'big'), 1536, 0);
  await rm(join(t.context.tmp.path, 'big'));
  t.context.big = id;
  return id;
}

test.serial('deleteBackup of a CREATING backup cancels it: DELETED, its create operation FAILED, nothing of it left in the repository', async (t) => {
  const { c, member } = t.context;
  const id = await bigVolume(t);
  const chunksBefore = new Set(await chunkFiles(repo(t)));
  const created = ok(await call(c, member, CreateBackupDocument, { input: { volumeId: id } }));
  const b = created.createBackup.backup;
  const del = ok(await call(c, member, DeleteBackupDocument, { input: { id: b.id } }));
  t.is(del.deleteBackup.backup.status, 'DELETING');
  await waitForBackup(c.client(member), b.id, (x) => x === null, { what: `backup ${b.id} to be deleted` });
  const op = await waitForOperation(c.client(member), created.createBackup.operation.id);
  t.is(op.status, 'FAILED');
  t.regex(op.error!.message, /cancelled by deleteBackup/);
  t.false(existsSync(join(repo(t), 'manifests', `${b.id}.json`)), 'no manifest');
  t.deepEqual(new Set(await chunkFiles(repo(t))), chunksBefore, 'no chunk of it remains');
  await waitForVolume(c.client(member), id, 'AVAILABLE');
});

test.serial('an agent restarted during a backup: the backup ends ERROR with a message, the volume AVAILABLE, the repository usable', async (t) => {
  const { c, member } = t.context;
  const id = await bigVolume(t);
  const created = ok(await call(c, member, CreateBackupDocument, { input: { volumeId: id } }));
  const b = created.createBackup.backup;
  const progress = EventLog.of(c.client(member).subscribe(BackupProgressDocument, { id: b.id }), `backupProgress of ${b.id}`, (e) => e.backupProgress);
  await progress.waitFor((p) => p.doneBytes > 0, 60_000);
  await c.restartAgent(HOST);
  const failed = (await waitForBackup(c.client(member), b.id, (x) => x?.status !== 'CREATING', { what: 'the interrupted backup to end' }))!;
  t.is(failed.status, 'ERROR');
  t.true(failed.messages.some((m) => /stopped while it took this backup/.test(m.message)), JSON.stringify(failed.messages));
  await waitForVolume(c.client(member), id, 'AVAILABLE');
  await progress.waitEnd(30_000);
  t.is(progress.values.at(-1)!.status, 'ERROR');
  t.false(existsSync(join(repo(t), 'manifests', `${b.id}.json`)));
  // The repository still works, and the ERROR backup deletes.
  const small = await newVolume(c, member, 'after-restart');
  await qemuIo(img(t, small), 'write -P 0x9a 0 1M');
  const again = await takeBackup(c, member, { volumeId: small, name: 'after restart' });
  t.is(again.status, 'AVAILABLE');
  ok(await call(c, member, DeleteBackupDocument, { input: { id: b.id } }));
  await waitForBackup(c.client(member), b.id, (x) => x === null, { what: `backup ${b.id} to be deleted` });
});

test.serial('bad requests: every one a GraphQL error with its code, nothing changed', async (t) => {
  const { c, member, other, reader } = t.context;
  const id = await newVolume(c, member, 'small-src', 2);
  await qemuIo(img(t, id), 'write -P 0x42 1536M 1M');
  const b = await takeBackup(c, member, { volumeId: id, name: 'two-gib' });
  const small = await newVolume(c, member, 'small', 1);

  const tooSmall = await call(c, member, RestoreBackupDocument, { input: { backupId: b.id, volumeId: small } });
  t.is(code(tooSmall), 'BAD_USER_INPUT');
  t.regex(tooSmall.errors![0]!.message, /smaller than the backup/);
  t.is((await volume(c, member, small))!.status, 'AVAILABLE');

  t.is(code(await call(c, other, BackupDocument, { id: b.id })), undefined);
  t.is(ok(await call(c, other, BackupDocument, { id: b.id })).backup, null);
  t.is(code(await call(c, other, RestoreBackupDocument, { input: { backupId: b.id } })), 'NOT_FOUND');
  t.is(code(await call(c, other, DeleteBackupDocument, { input: { id: b.id } })), 'NOT_FOUND');
  t.is(code(await call(c, other, VerifyBackupDocument, { input: { id: b.id } })), 'NOT_FOUND');
  t.is(code(await call(c, reader, CreateBackupDocument, { input: { volumeId: id } })), 'FORBIDDEN');
  t.is(code(await call(c, reader, DeleteBackupDocument, { input: { id: b.id } })), 'FORBIDDEN');
  t.is(code(await call(c, reader, RestoreBackupDocument, { input: { backupId: b.id } })), 'FORBIDDEN');
  t.is(code(await call(c, member, ExportBackupRecordDocument, { id: b.id })), 'FORBIDDEN');
  t.is(code(await call(c, c.adminToken, ImportBackupRecordDocument, { input: { record: 'bm90IGEgcmVjb3Jk' } })), 'BAD_USER_INPUT');
  t.is(code(await call(c, member, CreateBackupDocument, { input: { volumeId: '5d0c2f4e-8b1a-4c3d-9e7f-0a1b2c3d4e5f' } })), 'NOT_FOUND');
  // An id that is not a UUID is refused at the edge (src/resolvers/input-hygiene.ts).
  t.is(code(await call(c, member, CreateBackupDocument, { input: { volumeId: 'no-such-volume' } })), 'BAD_USER_INPUT');
  t.is(code(await call(c, member, CreateBackupDocument, { input: { volumeId: id, name: '' } })), 'BAD_USER_INPUT');
  t.is(code(await call(c, member, RestoreBackupDocument, { input: { backupId: b.id, volumeId: small, name: 'x' } })), 'BAD_USER_INPUT');

  // Wrong states, held still by a stopped agent: the backup stays CREATING and the volume BACKING_UP.
  await c.stopAgent(HOST);
  const running = ok(await call(c, member, CreateBackupDocument, { input: { volumeId: id } }));
  t.is(running.createBackup.backup.status, 'CREATING');
  t.is((await volume(c, member, id))!.status, 'BACKING_UP');
  const busy = await call(c, member, CreateBackupDocument, { input: { volumeId: id } });
  t.is(code(busy), 'INVALID_STATE');
  t.regex(busy.errors![0]!.message, /is BACKING_UP and cannot be backed up; allowed from: AVAILABLE/);
  const notYet = await call(c, member, RestoreBackupDocument, { input: { backupId: running.createBackup.backup.id } });
  t.is(code(notYet), 'INVALID_STATE');
  t.regex(notYet.errors![0]!.message, /is CREATING and cannot be restored/);
  t.is(code(await call(c, member, VerifyBackupDocument, { input: { id: running.createBackup.backup.id } })), 'INVALID_STATE');
  t.is(code(await call(c, member, RestoreBackupDocument, { input: { backupId: b.id, volumeId: id } })), 'INVALID_STATE', 'a BACKING_UP volume cannot be restored into');
  c.startAgent(HOST);
  await waitForBackup(c.client(member), running.createBackup.backup.id, 'AVAILABLE');
  await waitForVolume(c.client(member), id, 'AVAILABLE');
  const deleted = ok(await call(c, member, DeleteBackupDocument, { input: { id: running.createBackup.backup.id } }));
  t.is((await waitForOperation(c.client(member), deleted.deleteBackup.operation!.id)).status, 'SUCCEEDED');
  t.is(code(await call(c, member, VerifyBackupDocument, { input: { id: running.createBackup.backup.id } })), 'NOT_FOUND');

  // Export and import: a record this Flint knows is a CONFLICT.
  const record = ok(await call(c, c.adminToken, ExportBackupRecordDocument, { id: b.id })).exportBackupRecord;
  t.is(code(await call(c, c.adminToken, ImportBackupRecordDocument, { input: { record } })), 'CONFLICT');
});

test.after.always('no process is left behind', noProcessesLeft);
