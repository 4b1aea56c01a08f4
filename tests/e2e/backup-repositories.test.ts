/**
 * Backup repositories end to end (issue 5): the NATS JetStream object store as the
 * repository (round trip), and a backup record moved between two Flints whose agents share
 * one directory repository (exportBackupRecord → importBackupRecord → restore there).
 */
import anyTest, { type TestFn } from 'ava';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { json, runFlint } from '../helpers/flint-cli.js';
import { tempDir } from '../helpers/tmp.js';
import { call, code, imagePath, newVolume, ok, qemuIo, sameBytes, takeBackup, type BackupRow } from './backup-helpers.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { ExportBackupRecordDocument, ImportBackupRecordDocument, RestoreBackupDocument, VerifyBackupDocument } from '../../src/client/index.js';
import { waitForBackup, waitForOperation, waitForVolume } from '../helpers/wait.js';

const test = anyTest as TestFn<{ clusters: Cluster[]; cleanups: Array<() => Promise<void>> }>;
const POOL = [{ name: 'p', imageFormat: 'qcow2' as const }];

test.before((t) => {
  t.context = { clusters: [], cleanups: [] };
});

test.after.always(async (t) => {
  await Promise.all(t.context.clusters.map((c) => c.stop()));
  for (const f of t.context.cleanups) await f();
});

async function cluster(t: { context: { clusters: Cluster[] } }, host: string, env: NodeJS.ProcessEnv): Promise<Cluster> {
  const c = await startCluster({ database: 'sqlite', agents: [{ host, pools: POOL }], env });
  t.context.clusters.push(c);
  return c;
}

test.serial('the NATS object store repository: backup, verify and restore round trip', async (t) => {
  const c = await cluster(t, 'n1', { FLINT_BACKUP_REPOSITORY: 'nats:flint-backups', FLINT_BACKUP_CHUNK_MIB: '1' });
  t.teardown(() => {
    if (!t.passed) t.log(c.logs());
  });
  const member = await c.token('alpha', 'member');
  const id = await newVolume(c, member, 'on-nats');
  const img = (v: string) => imagePath(c, 'n1', 'p', v);
  await qemuIo(img(id), 'write -P 0x5a 0 3M', 'write -P 0xa5 512M 2M');
  const b = await takeBackup(c, member, { volumeId: id, name: 'nats' });
  t.is(b.repository, 'nats:flint-backups');
  t.is(b.chunkCount, 5, '1 MiB chunks');
  const v = ok(await call(c, member, VerifyBackupDocument, { input: { id: b.id } }));
  t.is((await waitForOperation(c.client(member), v.verifyBackup.operation.id)).status, 'SUCCEEDED');
  const r = ok(await call(c, member, RestoreBackupDocument, { input: { backupId: b.id } }));
  await waitForVolume(c.client(member), r.restoreBackup.volume.id, 'AVAILABLE');
  await waitForBackup(c.client(member), b.id, 'AVAILABLE');
  t.true(await sameBytes(img(id), img(r.restoreBackup.volume.id)));

  // The same through `flint backup …`, as a user runs it.
  const cli = { cwd: c.dataDir, url: c.url, token: member };
  const made = await runFlint(cli, ['backup', 'create', id, '--name', 'from-cli', '--incremental', '--wait', '-o', 'json']);
  t.is(made.status, 0, made.stderr);
  const cliBackup = json<{ backup: { id: string; status: string; isIncremental: boolean; parentId: string } }>(made).backup;
  t.is(cliBackup.status, 'AVAILABLE');
  t.true(cliBackup.isIncremental);
  t.is(cliBackup.parentId, b.id);
  const list = await runFlint(cli, ['backup', 'list', '--volume', id]);
  t.is(list.status, 0, list.stderr);
  t.true(list.stdout.includes(cliBackup.id) && list.stdout.includes(b.id), list.stdout);
  const show = await runFlint(cli, ['backup', 'show', cliBackup.id]);
  t.regex(show.stdout, /repository\s+nats:flint-backups/);
  t.is((await runFlint(cli, ['backup', 'verify', cliBackup.id, '--wait'])).status, 0);
  const restored = await runFlint(cli, ['backup', 'restore', cliBackup.id, '--wait']);
  t.is(restored.status, 0, restored.stderr);
  t.is((await runFlint(cli, ['backup', 'delete', cliBackup.id, '--wait'])).status, 0);
  const gone = await runFlint(cli, ['backup', 'show', cliBackup.id]);
  t.is(gone.status, 4, 'NOT_FOUND exits 4');
  t.is((await runFlint({ ...cli, token: await c.token('alpha', 'reader') }, ['backup', 'create', id])).status, 3, 'a reader is FORBIDDEN (exit 3)');
});

test.serial('a backup record exported from one Flint is imported by another sharing the repository, and restores there', async (t) => {
  const shared = await tempDir('flint-shared-repo-');
  t.context.cleanups.push(() => shared.cleanup());
  const env = { FLINT_BACKUP_REPOSITORY: `dir:${shared.path}` };
  const a = await cluster(t, 'a1', env);
  const b = await cluster(t, 'b1', env);
  t.teardown(() => {
    if (!t.passed) t.log(a.logs(), b.logs());
  });
  const memberA = await a.token('alpha', 'member');
  const id = await newVolume(a, memberA, 'exported');
  await qemuIo(imagePath(a, 'a1', 'p', id), 'write -P 0x61 8M 4M');
  const backup = await takeBackup(a, memberA, { volumeId: id, name: 'moving' });
  const record = ok(await call(a, a.adminToken, ExportBackupRecordDocument, { id: backup.id })).exportBackupRecord;

  const memberB = await b.token('alpha', 'member');
  t.is(code(await call(b, memberB, ImportBackupRecordDocument, { input: { record } })), 'FORBIDDEN', 'admins only');
  const imported = ok(await call(b, b.adminToken, ImportBackupRecordDocument, { input: { record } }));
  t.is(imported.importBackupRecord.backup.id, backup.id);
  t.is(imported.importBackupRecord.operation.kind, 'import_backup');
  const there = (await waitForBackup(b.client(b.adminToken), backup.id, (x) => x?.status !== 'CREATING', { what: 'the import to end' })) as BackupRow;
  t.is(there.status, 'AVAILABLE');
  t.is(there.sha256, backup.sha256);
  t.is(code(await call(b, b.adminToken, ImportBackupRecordDocument, { input: { record } })), 'CONFLICT', 'a second import of the same record');

  // Restored in the second Flint (the backup is in project alpha there too), into a new volume.
  const r = ok(await call(b, memberB, RestoreBackupDocument, { input: { backupId: backup.id } }));
  await waitForVolume(b.client(memberB), r.restoreBackup.volume.id, 'AVAILABLE');
  t.true(await sameBytes(imagePath(a, 'a1', 'p', id), imagePath(b, 'b1', 'p', r.restoreBackup.volume.id)));
});

test.after.always('no process is left behind', noProcessesLeft);
