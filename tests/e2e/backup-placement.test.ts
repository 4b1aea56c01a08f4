/**
 * Restores go where the backup's repository is (src/scheduler/placement/backup-repository.ts):
 * two agents, each with its own directory repository, then both on one shared directory.
 * Host names are chosen so that, without the filter, the scheduler's tie-break (pool id
 * order) would pick the host that cannot read the backup.
 */
import anyTest, { type TestFn } from 'ava';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { call, code, imagePath, ok, qemuIo, sameBytes, takeBackup } from './backup-helpers.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { BackupDocument, CreateVolumeDocument, RestoreBackupDocument, VerifyBackupDocument } from '../../src/client/index.js';
import { waitForOperation, waitForVolume } from '../helpers/wait.js';

const test = anyTest as TestFn<{ clusters: Cluster[]; scratch: TempDir }>;
const POOLS = [{ name: 'p', imageFormat: 'qcow2' as const }];

test.before(async (t) => {
  t.context = { clusters: [], scratch: await tempDir('flint-placement-') };
});

test.after.always(async (t) => {
  await Promise.all(t.context.clusters.map((c) => c.stop()));
  await t.context.scratch.cleanup();
});

async function volumeIn(c: Cluster, token: string, name: string, zone: string): Promise<string> {
  const r = ok(await call(c, token, CreateVolumeDocument, { input: { name, sizeGiB: 1, availabilityZone: zone } }));
  await waitForVolume(c.client(token), r.createVolume.volume.id, 'AVAILABLE');
  return r.createVolume.volume.id;
}

const exists = (path: string) => access(path).then(() => true, () => false);

test.serial('separate directory repositories: a restore lands on the host that reaches the backup, and nowhere else', async (t) => {
  const repo = (host: string) => join(t.context.scratch.path, `repo-${host}`);
  const c = await startCluster({
    database: 'sqlite',
    agents: [
      { host: 'aa', zone: 'z1', pools: POOLS, env: { FLINT_BACKUP_REPOSITORY: `dir:${repo('aa')}` } },
      { host: 'zz', zone: 'z2', pools: POOLS, env: { FLINT_BACKUP_REPOSITORY: `dir:${repo('zz')}` } },
    ],
  });
  t.context.clusters.push(c);
  t.teardown(() => {
    if (!t.passed) t.log(c.logs());
  });
  const member = await c.token('alpha', 'member');
  const src = await volumeIn(c, member, 'src', 'z2');
  await qemuIo(imagePath(c, 'zz', 'p', src), 'write -P 0x3c 0 2M', 'write -P 0xc3 300M 1M');
  const b = await takeBackup(c, member, { volumeId: src, name: 'on-zz' });
  t.is(b.repository, `dir:${repo('zz')}`);
  // The backup records the identity stored in the repository it was written to.
  const stored = JSON.parse(await readFile(join(repo('zz'), 'repository.json'), 'utf8')) as { id: string };
  const recorded = ok(await call(c, member, BackupDocument, { id: b.id })).backup!.repositoryId;
  t.is(recorded, stored.id);

  // Into a new volume: placed on zz, the only host that reaches repo-zz, with the same bytes.
  const r = ok(await call(c, member, RestoreBackupDocument, { input: { backupId: b.id } }));
  t.is((await waitForOperation(c.client(member), r.restoreBackup.operation.id)).status, 'SUCCEEDED');
  const restored = r.restoreBackup.volume.id;
  await waitForVolume(c.client(member), restored, 'AVAILABLE');
  t.true(await exists(imagePath(c, 'zz', 'p', restored)), 'the new volume is on zz');
  t.false(await exists(imagePath(c, 'aa', 'p', restored)));
  t.true(await sameBytes(imagePath(c, 'zz', 'p', src), imagePath(c, 'zz', 'p', restored)));

  // Into an existing volume on aa, which cannot read repo-zz: refused up front.
  const onAa = await volumeIn(c, member, 'on-aa', 'z1');
  const refused = await call(c, member, RestoreBackupDocument, { input: { backupId: b.id, volumeId: onAa } });
  t.is(code(refused), 'INVALID_STATE', JSON.stringify(refused.errors));
  t.regex(refused.errors![0]!.message, /Host aa, which holds the volume, does not reach backup .* repository dir:.*repo-zz.*Restore into a new volume/);
  t.is((await waitForVolume(c.client(member), onAa, 'AVAILABLE')).status, 'AVAILABLE', 'nothing changed');

  // Verify goes to an agent that reaches the repository.
  const v = ok(await call(c, member, VerifyBackupDocument, { input: { id: b.id } }));
  t.is((await waitForOperation(c.client(member), v.verifyBackup.operation.id)).status, 'SUCCEEDED');

  // With zz gone, no host reaches repo-zz: the restore fails with NO_VALID_BACKEND saying what to do.
  await c.stopAgent('zz');
  try {
    await new Promise((res) => setTimeout(res, 4_000)); // zz's heartbeat goes stale (3 beats); until then it still looks UP
    const none = ok(await call(c, member, RestoreBackupDocument, { input: { backupId: b.id } }));
    await waitForVolume(c.client(member), none.restoreBackup.volume.id, 'ERROR', { timeoutMs: 90_000 });
    const op = await waitForOperation(c.client(member), none.restoreBackup.operation.id, { timeoutMs: 120_000 });
    t.is(op.status, 'FAILED');
    t.is(op.error?.code, 'NO_VALID_BACKEND');
    t.regex(op.error!.message, /aa@p rejected by BackupRepositoryFilter/);
    t.regex(op.error!.message, /repository dir:.*repo-zz/);
    t.regex(op.error!.message, /mount that repository on a storage host/);
  } finally {
    c.startAgent('zz');
  }
});

test.serial('one shared directory repository: both hosts qualify, and verify goes to a host that is UP', async (t) => {
  const shared = `dir:${join(t.context.scratch.path, 'shared')}`;
  const c = await startCluster({
    database: 'sqlite',
    agents: [
      { host: 'aa', zone: 'z1', pools: POOLS, env: { FLINT_BACKUP_REPOSITORY: shared } },
      { host: 'zz', zone: 'z2', pools: POOLS, env: { FLINT_BACKUP_REPOSITORY: shared } },
    ],
  });
  t.context.clusters.push(c);
  t.teardown(() => {
    if (!t.passed) t.log(c.logs());
  });
  const member = await c.token('alpha', 'member');
  const src = await volumeIn(c, member, 'src', 'z2');
  await qemuIo(imagePath(c, 'zz', 'p', src), 'write -P 0x71 0 1M');
  const b = await takeBackup(c, member, { volumeId: src, name: 'shared' });

  // Into an existing volume on aa: allowed, aa reads the shared repository.
  const onAa = await volumeIn(c, member, 'on-aa', 'z1');
  const r = ok(await call(c, member, RestoreBackupDocument, { input: { backupId: b.id, volumeId: onAa } }));
  t.is((await waitForOperation(c.client(member), r.restoreBackup.operation.id)).status, 'SUCCEEDED');
  t.true(await sameBytes(imagePath(c, 'zz', 'p', src), imagePath(c, 'aa', 'p', onAa)));

  // The host that took it is down: verify runs on aa instead of waiting for zz.
  await c.stopAgent('zz');
  try {
    await new Promise((res) => setTimeout(res, 4_000)); // zz's heartbeat goes stale (3 beats)
    const v = ok(await call(c, member, VerifyBackupDocument, { input: { id: b.id } }));
    t.is((await waitForOperation(c.client(member), v.verifyBackup.operation.id, { timeoutMs: 30_000 })).status, 'SUCCEEDED');
    // And a restore into a new volume lands on aa.
    const n = ok(await call(c, member, RestoreBackupDocument, { input: { backupId: b.id } }));
    t.is((await waitForOperation(c.client(member), n.restoreBackup.operation.id, { timeoutMs: 90_000 })).status, 'SUCCEEDED');
    await waitFor(async () => exists(imagePath(c, 'aa', 'p', n.restoreBackup.volume.id)), 10_000, () => 'the new volume is not on aa');
    t.pass();
  } finally {
    c.startAgent('zz');
  }
});

test.after.always('no process is left behind', noProcessesLeft);
