/**
 * Backups end to end (issue 5) on one real cluster (nats-server, SQLite, gateway, scheduler,
 * one agent with a qcow2 pool and the default directory repository), driven through HTTP
 * and a real graphql-ws client; data written with qemu-io, images compared with qemu-img.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import type { Client } from 'graphql-ws';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { tempDir } from '../helpers/tmp.js';
import { collect, wsClient } from '../helpers/ws.js';
import {
  call,
  chunkFiles,
  code,
  copyImage,
  CREATE_BACKUP,
  DELETE_BACKUP,
  imagePath,
  newVolume,
  ok,
  PROGRESS,
  qemuIo,
  RESTORE_BACKUP,
  sameBytes,
  sha256Of,
  takeBackup,
  untilBackup,
  untilOperation,
  untilVolume,
  VERIFY_BACKUP,
  volume,
  writeRandom,
  type BackupRow,
  type ProgressRow,
} from './backup-helpers.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  c: Cluster;
  member: string;
  other: string;
  reader: string;
  ws: Client[];
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
    ws: [],
    tmp: await tempDir('flint-backup-e2e-'),
  };
});

test.after.always(async (t) => {
  for (const w of t.context.ws ?? []) await w.dispose();
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

  const ws = wsClient(c.url, member);
  t.context.ws.push(ws);
  const created = ok(await call<{ createBackup: { backup: BackupRow; operation: { id: string; kind: string } } }>(c, member, CREATE_BACKUP, { input: { volumeId: id, name: 'first', incremental: true } }));
  const b = created.createBackup.backup;
  t.is(b.status, 'CREATING');
  t.is(created.createBackup.operation.kind, 'create_backup');
  t.regex(b.incrementalNote ?? '', /No AVAILABLE backup of this volume/, 'an incremental without a parent says it is full');
  t.false(b.isIncremental);
  const progress = collect(ws, PROGRESS, { id: b.id }, (d) => d.backupProgress as ProgressRow);
  await progress.waitComplete(60_000);
  const last = progress.values.at(-1)!;
  t.is(last.status, 'AVAILABLE');
  t.is(last.totalBytes, 2 ** 30);
  t.is(last.doneBytes, 2 ** 30);
  t.is(last.percent, 100);
  t.true(progress.values.every((p) => p.backupId === b.id && p.phase === 'BACKUP' && p.doneBytes <= p.totalBytes));

  const done = (await untilBackup(c, member, b.id, (x) => x?.status === 'AVAILABLE', 'not AVAILABLE'))!;
  t.is(done.sizeBytes, 2 ** 30);
  t.is(done.dataBytes, 4 * 4 * 2 ** 20, 'only the four chunks written to are data; the holes are not');
  t.is(done.chunkCount, 4);
  t.true(done.storedBytes! > 0 && done.storedBytes! < done.dataBytes!, 'patterns compress');
  t.is(done.repository, `dir:${repo(t)}`);
  t.regex(done.sha256 ?? '', /^[0-9a-f]{64}$/);
  t.true(done.durationSeconds! >= 0);
  t.is((await volume(c, member, id))!.status, 'AVAILABLE');

  // Into a new volume, through the scheduler.
  const r = ok(await call<{ restoreBackup: { backup: { status: string }; volume: { id: string; status: string; sizeGiB: number } } }>(c, member, RESTORE_BACKUP, { input: { backupId: b.id, name: 'restored' } }));
  t.is(r.restoreBackup.backup.status, 'RESTORING');
  t.is(r.restoreBackup.volume.status, 'CREATING');
  t.is(r.restoreBackup.volume.sizeGiB, 1);
  const restored = r.restoreBackup.volume.id;
  await untilVolume(c, member, restored, 'AVAILABLE');
  await untilBackup(c, member, b.id, (x) => x?.status === 'AVAILABLE', 'the backup did not come back to AVAILABLE');
  t.true(await sameBytes(img(t, id), img(t, restored)), 'the new volume holds the backup\'s bytes');

  // Into an existing, larger volume holding other data: overwritten, zeros included.
  const target = await newVolume(c, member, 'target', 2);
  await qemuIo(img(t, target), 'write -P 0xee 0 8M', 'write -P 0xdd 500M 1M');
  const r2 = ok(await call<{ restoreBackup: { volume: { status: string } } }>(c, member, RESTORE_BACKUP, { input: { backupId: b.id, volumeId: target } }));
  t.is(r2.restoreBackup.volume.status, 'RESTORING_BACKUP');
  await untilVolume(c, member, target, 'AVAILABLE');
  await untilBackup(c, member, b.id, (x) => x?.status === 'AVAILABLE', 'the backup did not come back to AVAILABLE');
  t.true(await sameBytes(img(t, id), img(t, target)), 'the existing volume holds the backup\'s bytes, zeros where it had none');

  const listed = ok(await call<{ volume: { backups: Array<{ id: string }> } }>(c, member, 'query($id: ID!) { volume(id: $id) { backups { id } } }', { id }));
  t.deepEqual(listed.volume.backups.map((x) => x.id), [b.id]);
  const page = ok(await call<{ backups: { totalCount: number; edges: Array<{ node: { id: string } }> } }>(c, member, 'query($v: ID) { backups(first: 10, filter: { volumeId: $v }) { totalCount edges { node { id } } } }', { v: id }));
  t.is(page.backups.totalCount, 1);
  const NODE = 'query($id: ID!) { node(id: $id) { id ... on Backup { status isIncremental } } }';
  t.deepEqual(ok(await call<{ node: unknown }>(c, member, NODE, { id: b.id })).node, { id: b.id, status: 'AVAILABLE', isIncremental: false });
  t.is(ok(await call<{ node: unknown }>(c, t.context.other, NODE, { id: b.id })).node, null, 'not visible to another project');
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
  const del = ok(await call<{ deleteBackup: { backup: { status: string }; operation: { id: string } } }>(c, member, DELETE_BACKUP, { input: { id: inc1.id } }));
  t.is(del.deleteBackup.backup.status, 'DELETING');
  await untilBackup(c, member, inc1.id, (x) => x === null, 'the middle backup was not deleted');
  t.is((await untilOperation(c, member, del.deleteBackup.operation.id)).status, 'SUCCEEDED');
  t.is((await chunkFiles(repo(t))).length, chunksBefore, 'every chunk of inc1 is still referenced');

  for (const [b, ref] of [[full, `${refs}-1.qcow2`], [inc2, `${refs}-3.qcow2`]] as const) {
    const target = await newVolume(c, member, `from-${b.name}`);
    ok(await call(c, member, RESTORE_BACKUP, { input: { backupId: b.id, volumeId: target } }));
    await untilVolume(c, member, target, 'AVAILABLE');
    t.true(await sameBytes(ref, img(t, target)), `${b.name} restores to the bytes it had`);
    await untilBackup(c, member, b.id, (x) => x?.status === 'AVAILABLE', 'back to AVAILABLE');
  }
  // inc2 alone held the chunks at 32 MiB (since inc1) and 512 MiB: deleting it frees exactly those two.
  ok(await call(c, member, DELETE_BACKUP, { input: { id: inc2.id } }));
  await untilBackup(c, member, inc2.id, (x) => x === null, 'inc2 was not deleted');
  await waitFor(async () => (await chunkFiles(repo(t))).length === chunksBefore - 2, 30_000, () => 'GC did not free exactly the two chunks only inc2 had');
  t.pass();
});

test.serial('a corrupted chunk: verifyBackup fails naming it, a restore ends ERROR_RESTORING, never AVAILABLE', async (t) => {
  const { c, member } = t.context;
  const id = await newVolume(c, member, 'to-corrupt');
  await qemuIo(img(t, id), 'write -P 0xc3 0 4M', 'write -P 0x3c 4M 4M');
  const b = await takeBackup(c, member, { volumeId: id, name: 'doomed' });
  const good = ok(await call<{ verifyBackup: { operation: { id: string } } }>(c, member, VERIFY_BACKUP, { input: { id: b.id } }));
  t.is((await untilOperation(c, member, good.verifyBackup.operation.id)).status, 'SUCCEEDED');

  const hash = sha256Of(Buffer.alloc(4 * 2 ** 20, 0xc3));
  const file = join(repo(t), 'chunks', hash.slice(0, 2), hash);
  t.true(existsSync(file), 'the chunk is stored under its hash');
  const bytes = await readFile(file);
  bytes[bytes.length - 1] ^= 0xff;
  await writeFile(file, bytes);

  const v = ok(await call<{ verifyBackup: { backup: { status: string }; operation: { id: string; kind: string } } }>(c, member, VERIFY_BACKUP, { input: { id: b.id } }));
  t.is(v.verifyBackup.operation.kind, 'verify_backup');
  const op = await untilOperation(c, member, v.verifyBackup.operation.id);
  t.is(op.status, 'FAILED');
  t.true(op.error!.message.includes(hash), op.error!.message);
  const after = (await untilBackup(c, member, b.id, (x) => !!x?.messages.length, 'no message on the backup'))!;
  t.is(after.status, 'AVAILABLE', 'verification does not change the status');
  t.true(after.messages.some((m) => m.event === 'verify_backup' && m.message.includes(hash)));

  const r = ok(await call<{ restoreBackup: { volume: { id: string } } }>(c, member, RESTORE_BACKUP, { input: { backupId: b.id } }));
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
  await untilBackup(c, member, b.id, (x) => x?.status === 'AVAILABLE', 'the backup did not come back to AVAILABLE');
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
  const created = ok(await call<{ createBackup: { backup: BackupRow; operation: { id: string } } }>(c, member, CREATE_BACKUP, { input: { volumeId: id } }));
  const b = created.createBackup.backup;
  const del = ok(await call<{ deleteBackup: { backup: { status: string } } }>(c, member, DELETE_BACKUP, { input: { id: b.id } }));
  t.is(del.deleteBackup.backup.status, 'DELETING');
  await untilBackup(c, member, b.id, (x) => x === null, 'the cancelled backup did not end DELETED');
  const op = await untilOperation(c, member, created.createBackup.operation.id);
  t.is(op.status, 'FAILED');
  t.regex(op.error!.message, /cancelled by deleteBackup/);
  t.false(existsSync(join(repo(t), 'manifests', `${b.id}.json`)), 'no manifest');
  t.deepEqual(new Set(await chunkFiles(repo(t))), chunksBefore, 'no chunk of it remains');
  await untilVolume(c, member, id, 'AVAILABLE');
});

test.serial('an agent restarted during a backup: the backup ends ERROR with a message, the volume AVAILABLE, the repository usable', async (t) => {
  const { c, member } = t.context;
  const id = await bigVolume(t);
  const ws = wsClient(c.url, member);
  t.context.ws.push(ws);
  const created = ok(await call<{ createBackup: { backup: BackupRow } }>(c, member, CREATE_BACKUP, { input: { volumeId: id } }));
  const b = created.createBackup.backup;
  const progress = collect(ws, PROGRESS, { id: b.id }, (d) => d.backupProgress as ProgressRow);
  await progress.waitFor((p) => p.doneBytes > 0, 60_000);
  await c.restartAgent(HOST);
  const failed = (await untilBackup(c, member, b.id, (x) => x?.status !== 'CREATING', 'the interrupted backup stayed CREATING'))!;
  t.is(failed.status, 'ERROR');
  t.true(failed.messages.some((m) => /stopped while it took this backup/.test(m.message)), JSON.stringify(failed.messages));
  await untilVolume(c, member, id, 'AVAILABLE');
  await progress.waitComplete(30_000);
  t.is(progress.values.at(-1)!.status, 'ERROR');
  t.false(existsSync(join(repo(t), 'manifests', `${b.id}.json`)));
  // The repository still works, and the ERROR backup deletes.
  const small = await newVolume(c, member, 'after-restart');
  await qemuIo(img(t, small), 'write -P 0x9a 0 1M');
  const again = await takeBackup(c, member, { volumeId: small, name: 'after restart' });
  t.is(again.status, 'AVAILABLE');
  ok(await call(c, member, DELETE_BACKUP, { input: { id: b.id } }));
  await untilBackup(c, member, b.id, (x) => x === null, 'the ERROR backup was not deleted');
});

test.serial('bad requests: every one a GraphQL error with its code, nothing changed', async (t) => {
  const { c, member, other, reader } = t.context;
  const id = await newVolume(c, member, 'small-src', 2);
  await qemuIo(img(t, id), 'write -P 0x42 1536M 1M');
  const b = await takeBackup(c, member, { volumeId: id, name: 'two-gib' });
  const small = await newVolume(c, member, 'small', 1);

  const tooSmall = await call(c, member, RESTORE_BACKUP, { input: { backupId: b.id, volumeId: small } });
  t.is(code(tooSmall), 'BAD_USER_INPUT');
  t.regex(tooSmall.errors![0]!.message, /smaller than the backup/);
  t.is((await volume(c, member, small))!.status, 'AVAILABLE');

  t.is(code(await call(c, other, 'query($id: ID!) { backup(id: $id) { id } }', { id: b.id })), undefined);
  t.is(ok(await call<{ backup: null }>(c, other, 'query($id: ID!) { backup(id: $id) { id } }', { id: b.id })).backup, null);
  t.is(code(await call(c, other, RESTORE_BACKUP, { input: { backupId: b.id } })), 'NOT_FOUND');
  t.is(code(await call(c, other, DELETE_BACKUP, { input: { id: b.id } })), 'NOT_FOUND');
  t.is(code(await call(c, other, VERIFY_BACKUP, { input: { id: b.id } })), 'NOT_FOUND');
  t.is(code(await call(c, reader, CREATE_BACKUP, { input: { volumeId: id } })), 'FORBIDDEN');
  t.is(code(await call(c, reader, DELETE_BACKUP, { input: { id: b.id } })), 'FORBIDDEN');
  t.is(code(await call(c, reader, RESTORE_BACKUP, { input: { backupId: b.id } })), 'FORBIDDEN');
  t.is(code(await call(c, member, 'query($id: ID!) { exportBackupRecord(id: $id) }', { id: b.id })), 'FORBIDDEN');
  t.is(code(await call(c, c.adminToken, 'mutation { importBackupRecord(input: { record: "bm90IGEgcmVjb3Jk" }) { backup { id } } }')), 'BAD_USER_INPUT');
  t.is(code(await call(c, member, CREATE_BACKUP, { input: { volumeId: '5d0c2f4e-8b1a-4c3d-9e7f-0a1b2c3d4e5f' } })), 'NOT_FOUND');
  // An id that is not a UUID is refused at the edge (src/resolvers/input-hygiene.ts).
  t.is(code(await call(c, member, CREATE_BACKUP, { input: { volumeId: 'no-such-volume' } })), 'BAD_USER_INPUT');
  t.is(code(await call(c, member, CREATE_BACKUP, { input: { volumeId: id, name: '' } })), 'BAD_USER_INPUT');
  t.is(code(await call(c, member, RESTORE_BACKUP, { input: { backupId: b.id, volumeId: small, name: 'x' } })), 'BAD_USER_INPUT');

  // Wrong states, held still by a stopped agent: the backup stays CREATING and the volume BACKING_UP.
  await c.stopAgent(HOST);
  const running = ok(await call<{ createBackup: { backup: { id: string; status: string } } }>(c, member, CREATE_BACKUP, { input: { volumeId: id } }));
  t.is(running.createBackup.backup.status, 'CREATING');
  t.is((await volume(c, member, id))!.status, 'BACKING_UP');
  const busy = await call(c, member, CREATE_BACKUP, { input: { volumeId: id } });
  t.is(code(busy), 'INVALID_STATE');
  t.regex(busy.errors![0]!.message, /is BACKING_UP and cannot be backed up; allowed from: AVAILABLE/);
  const notYet = await call(c, member, RESTORE_BACKUP, { input: { backupId: running.createBackup.backup.id } });
  t.is(code(notYet), 'INVALID_STATE');
  t.regex(notYet.errors![0]!.message, /is CREATING and cannot be restored/);
  t.is(code(await call(c, member, VERIFY_BACKUP, { input: { id: running.createBackup.backup.id } })), 'INVALID_STATE');
  t.is(code(await call(c, member, RESTORE_BACKUP, { input: { backupId: b.id, volumeId: id } })), 'INVALID_STATE', 'a BACKING_UP volume cannot be restored into');
  c.startAgent(HOST);
  await untilBackup(c, member, running.createBackup.backup.id, (x) => x?.status === 'AVAILABLE', 'the queued backup did not run once the agent was back');
  await untilVolume(c, member, id, 'AVAILABLE');
  const deleted = ok(await call<{ deleteBackup: { operation: { id: string } } }>(c, member, DELETE_BACKUP, { input: { id: running.createBackup.backup.id } }));
  t.is((await untilOperation(c, member, deleted.deleteBackup.operation.id)).status, 'SUCCEEDED');
  t.is(code(await call(c, member, VERIFY_BACKUP, { input: { id: running.createBackup.backup.id } })), 'NOT_FOUND');

  // Export and import: a record this Flint knows is a CONFLICT.
  const record = ok(await call<{ exportBackupRecord: string }>(c, c.adminToken, 'query($id: ID!) { exportBackupRecord(id: $id) }', { id: b.id })).exportBackupRecord;
  t.is(code(await call(c, c.adminToken, 'mutation($r: String!) { importBackupRecord(input: { record: $r }) { backup { id } } }', { r: record })), 'CONFLICT');
});

test.after.always('no process is left behind', noProcessesLeft);
