/**
 * How backups find their changes, end to end: one real cluster (nats-server, SQLite,
 * gateway, scheduler, an agent with a qcow2 pool), GraphQL over HTTP. An incremental
 * backup of an AVAILABLE qcow2 volume reads only what its parent's dirty bitmap marks;
 * `Backup.changeTracking` and `Backup.readBytes` say so.
 */
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { tempDir } from '../helpers/tmp.js';
import { call, imagePath, newVolume, ok, takeBackup, writeRandom } from './backup-helpers.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { BackupDocument, RestoreBackupDocument } from '../../src/client/index.js';
import { waitForBackup, waitForVolume, type BackupState } from '../helpers/wait.js';

interface Ctx {
  c: Cluster;
  member: string;
  tmp: { path: string; cleanup(): Promise<void> };
}

const test = anyTest as TestFn<Ctx>;
const HOST = 'ct';
const POOL = 'p';
const MiB = 2 ** 20;
type Row = BackupState;

test.before(async (t) => {
  const c = await startCluster({ database: 'sqlite', agents: [{ host: HOST, pools: [{ name: POOL, imageFormat: 'qcow2' }] }] });
  t.context = { c, member: await c.token('alpha', 'member'), tmp: await tempDir('flint-ct-e2e-') };
});

test.after.always(async (t) => {
  await t.context.c?.stop();
  await t.context.tmp?.cleanup();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.c) t.log(t.context.c.logs());
});

async function row(t: { context: Ctx }, id: string): Promise<Row> {
  const r = ok(await call(t.context.c, t.context.member, BackupDocument, { id }));
  return r.backup!;
}

test.serial('an incremental backup of a qcow2 volume reads only the chunks written since its parent, also after a restore into the volume', async (t) => {
  const { c, member } = t.context;
  const id = await newVolume(c, member, 'tracked');
  const image = imagePath(c, HOST, POOL, id);
  await writeRandom(image, join(t.context.tmp.path, 'r1'), 64, 0);
  const full = await row(t, (await takeBackup(c, member, { volumeId: id, name: 'full' })).id);
  t.is(full.changeTracking, 'FULL');
  t.is(full.readBytes, 64 * MiB);

  await writeRandom(image, join(t.context.tmp.path, 'r2'), 1, 32);
  const inc = await row(t, (await takeBackup(c, member, { volumeId: id, name: 'inc', incremental: true })).id);
  t.is(inc.parentId, full.id);
  t.is(inc.changeTracking, 'DIRTY_BITMAP', c.logs());
  t.true(inc.readBytes! >= MiB && inc.readBytes! <= 4 * MiB, `read ${inc.readBytes} bytes for 1 MiB written in one 4 MiB chunk`);

  // Restoring the full backup into the volume goes through qemu: the bitmap sees it.
  ok(await call(c, member, RestoreBackupDocument, { input: { backupId: full.id, volumeId: id } }));
  await waitForVolume(c.client(member), id, 'AVAILABLE');
  await waitForBackup(c.client(member), full.id, 'AVAILABLE');
  const after = await row(t, (await takeBackup(c, member, { volumeId: id, name: 'after-restore', incremental: true })).id);
  t.is(after.changeTracking, 'DIRTY_BITMAP');
  t.is(after.sha256, full.sha256, 'the volume holds the full backup’s bytes again, and the incremental says so');
});

test.after.always('no process is left behind', noProcessesLeft);
