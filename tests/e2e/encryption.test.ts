/**
 * Encryption at rest end to end (issue 12): a real cluster (nats-server, SQLite, gateway,
 * scheduler, two agents with tgtd, qemu-nbd and qemu-storage-daemon) and volume types with an
 * encryption. A pattern written through an export is read back through it, while the image
 * file on the pool does not hold it; snapshots, clones, backups, restores and migrations keep
 * the plaintext; a retype across encryption and a plain copy of an encrypted volume are
 * refused; an agent holding another secret key fails the export naming its key file.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateAttachmentDocument,
  CreateBackupDocument,
  CreateSnapshotDocument,
  CreateVolumeDocument,
  CreateVolumeTypeDocument,
  DeleteAttachmentDocument,
  ManageVolumeDocument,
  MigrateVolumeDocument,
  RestoreBackupDocument,
  RetypeVolumeDocument,
  UnmanageVolumeDocument,
  VolumeDocument,
  type CreateAttachmentInput,
  type CreateVolumeInput,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { fileHasRun } from '../helpers/image-search.js';
import { iscsiImageOpts } from '../helpers/iscsi.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { errorCode } from '../helpers/sdk.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { waitForAttachment, waitForBackup, waitForOperation, waitForSnapshot, waitForVolume, type AttachmentState } from '../helpers/wait.js';

interface Ctx {
  cluster: Cluster;
  member: string;
  keys: TempDir;
  /** The key file of agent store-k, which the wrong-key test replaces. */
  agentKey: string;
}
const test = anyTest as TestFn<Ctx>;
type ConnData = NonNullable<AttachmentState['connectionInfo']>['data'];

const INI = 'iqn.2026-11.test.flint:encrypted-consumer';
const LUKS_256 = { provider: 'LUKS' as const, cipher: 'aes-xts-plain64', keySize: 256 };

test.before(async (t) => {
  const keys = await tempDir('flint-enc-keys-');
  // One key for every role, and a copy for store-k that the wrong-key test replaces later.
  const key = join(keys.path, 'secret.key');
  writeFileSync(key, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const agentKey = join(keys.path, 'store-k.key');
  copyFileSync(key, agentKey);
  const cluster = await startCluster({
    database: 'sqlite',
    env: { FLINT_SECRET_KEY_FILE: key },
    agents: [
      {
        host: 'store-a',
        pools: [
          { name: 'q', imageFormat: 'qcow2', capacityGiB: 40, capabilities: { disk: 'q' } },
          { name: 'r', imageFormat: 'raw', capacityGiB: 30, capabilities: { disk: 'r' } },
        ],
      },
      { host: 'store-b', pools: [{ name: 'm', imageFormat: 'qcow2', capacityGiB: 20, capabilities: { disk: 'm' } }] },
      { host: 'store-k', pools: [{ name: 'k', imageFormat: 'qcow2', capacityGiB: 10, capabilities: { disk: 'k' } }], env: { FLINT_SECRET_KEY_FILE: agentKey } },
    ],
  });
  t.context = { cluster, member: await cluster.token('alpha', 'member'), keys, agentKey };
  const admin = cluster.client();
  const types: Array<{ name: string; disk: string; encryption?: typeof LUKS_256 | { provider: 'LUKS'; cipher: string; keySize: number } }> = [
    { name: 'enc-q', disk: 'q', encryption: LUKS_256 },
    { name: 'enc-r', disk: 'r', encryption: { provider: 'LUKS', cipher: 'aes-xts-plain64', keySize: 512 } },
    { name: 'enc-any', disk: '<or> q <or> r <or> m', encryption: LUKS_256 },
    { name: 'enc-k', disk: 'k', encryption: LUKS_256 },
    { name: 'plain-r', disk: 'r' },
  ];
  for (const ty of types) {
    await admin.request(CreateVolumeTypeDocument, { input: { name: ty.name, extraSpecs: { disk: ty.disk }, ...(ty.encryption ? { encryption: ty.encryption } : {}) } });
  }
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
  await t.context.keys?.cleanup();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

const member = (t: ExecutionContext<Ctx>) => t.context.cluster.client(t.context.member);

async function createVolume(t: ExecutionContext<Ctx>, input: Partial<CreateVolumeInput> & { name: string }): Promise<string> {
  const r = await member(t).request(CreateVolumeDocument, { input: { sizeGiB: 1, ...input } });
  const id = r.createVolume.volume.id;
  await waitForVolume(member(t), id, 'AVAILABLE', { timeoutMs: 60_000 });
  return id;
}

/** As an admin reads it: with its host and pool. */
async function volume(t: ExecutionContext<Ctx>, id: string) {
  return (await t.context.cluster.client().request(VolumeDocument, { id })).volume!;
}

/** Attaches, runs `use` with the connection data, detaches and waits until the volume is AVAILABLE again. */
async function attached<T>(t: ExecutionContext<Ctx>, volumeId: string, kind: 'ISCSI' | 'NBD', use: (d: ConnData) => T): Promise<T> {
  const input: CreateAttachmentInput =
    kind === 'ISCSI'
      ? { volumeId, instanceId: 'vm-e', targetKind: 'ISCSI', connector: { initiator: INI, host: 'consumer-e', ip: '127.0.0.1' } }
      : { volumeId, instanceId: 'vm-e', targetKind: 'NBD', connector: { host: 'consumer-e' } };
  const r = await member(t).request(CreateAttachmentDocument, { input });
  const id = r.createAttachment.attachment.id;
  const a = (await waitForAttachment(member(t), id, (x) => x !== null && (x.connectionInfo !== null || x.status.startsWith('ERROR')), { what: `attachment ${id} to be exported`, timeoutMs: 60_000 }))!;
  if (!a.connectionInfo) throw new Error(`attachment ${id} failed: ${a.messages.map((m) => m.message).join('; ')}`);
  try {
    return use(a.connectionInfo.data);
  } finally {
    await member(t).request(DeleteAttachmentDocument, { id });
    await waitForVolume(member(t), volumeId, 'AVAILABLE', { timeoutMs: 60_000 });
  }
}

/** qemu-io through the export; true when every command (and pattern check) passed. */
function io(d: ConnData, commands: string[]): { ok: boolean; out: string } {
  const open = d.uri ? ['-f', 'raw', d.uri] : ['--image-opts', iscsiImageOpts({ ...d, username: d.authUsername, password: d.authPassword, initiator: INI })];
  const r = spawnSync('qemu-io', [...commands.flatMap((c) => ['-c', c]), ...open], { encoding: 'utf8', timeout: 120_000 });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

/** Reads `pattern` at `offset` (1 MiB) through an NBD export of the volume. */
async function holds(t: ExecutionContext<Ctx>, volumeId: string, pattern: string, offset = '0'): Promise<boolean> {
  return attached(t, volumeId, 'NBD', (d) => io(d, [`read -P ${pattern} ${offset} 1M`]).ok);
}

function imageOf(t: ExecutionContext<Ctx>, v: { host?: string | null; pool?: string | null; id: string }): string {
  const host = v.host!;
  const dir = t.context.cluster.poolDir(host, v.pool!);
  const qcow2 = join(dir, `volume-${v.id}.qcow2`);
  return existsSync(qcow2) ? qcow2 : join(dir, `volume-${v.id}.raw`);
}

for (const [type, format] of [
  ['enc-q', 'qcow2'],
  ['enc-r', 'raw'],
] as const) {
  test.serial(`${type}: a pattern written through iSCSI is read back through iSCSI and NBD, and the ${format} image on the pool does not hold it`, async (t) => {
    const id = await createVolume(t, { name: `${type}-data`, volumeType: type });
    const v = await volume(t, id);
    t.true(v.encrypted);
    t.true(imageOf(t, v).endsWith(`.${format}`));
    await attached(t, id, 'ISCSI', (d) => {
      t.true(d.encrypted, 'ConnectionData.encrypted says the volume is encrypted');
      const w = io(d, ['write -P 0x5a 1M 2M']);
      t.true(w.ok, w.out);
      const r = io(d, ['read -P 0x5a 1M 2M']);
      t.true(r.ok, r.out);
    });
    t.false(await fileHasRun(imageOf(t, v), 0x5a), 'the image file holds no run of the pattern');
    t.true(await attached(t, id, 'ISCSI', (d) => io(d, ['read -P 0x5a 1M 2M']).ok), 'read back through a new iSCSI export');
    t.true(await holds(t, id, '0x5a', '1M'), 'read back through NBD');
  });
}

test.serial('a plain volume says it is not encrypted, and its image does hold the pattern (the search works)', async (t) => {
  const id = await createVolume(t, { name: 'plain-data', volumeType: 'plain-r' });
  const v = await volume(t, id);
  t.false(v.encrypted);
  await attached(t, id, 'ISCSI', (d) => {
    t.false(d.encrypted);
    t.true(io(d, ['write -P 0x5a 1M 1M']).ok);
  });
  t.true(await fileHasRun(imageOf(t, v), 0x5a));
});

test.serial('a retype between encrypted and plain types, or to another encryption, is refused with what to do', async (t) => {
  const enc = await createVolume(t, { name: 'retype-enc', volumeType: 'enc-r' });
  const plain = await createVolume(t, { name: 'retype-plain', volumeType: 'plain-r' });
  const toPlain = await member(t).raw(RetypeVolumeDocument, { input: { id: enc, volumeType: 'plain-r', migrationPolicy: 'ON_DEMAND' } });
  t.is(errorCode(toPlain), 'BAD_USER_INPUT');
  t.regex(toPlain.errors![0]!.message, /is encrypted and volume type "plain-r" is not: a retype cannot decrypt/);
  const toEnc = await member(t).raw(RetypeVolumeDocument, { input: { id: plain, volumeType: 'enc-r', migrationPolicy: 'ON_DEMAND' } });
  t.is(errorCode(toEnc), 'BAD_USER_INPUT');
  t.regex(toEnc.errors![0]!.message, /createVolume with volumeType "enc-r" and sourceVolumeId/);
  const otherCipher = await member(t).raw(RetypeVolumeDocument, { input: { id: enc, volumeType: 'enc-q', migrationPolicy: 'ON_DEMAND' } });
  t.is(errorCode(otherCipher), 'BAD_USER_INPUT');
  t.is((await volume(t, enc)).status, 'AVAILABLE', 'nothing changed');
});

test.serial('an encrypted volume cannot be unmanaged, nor an image managed into an encrypted type', async (t) => {
  const admin = t.context.cluster.client();
  const id = await createVolume(t, { name: 'no-unmanage', volumeType: 'enc-r' });
  const unmanage = await admin.raw(UnmanageVolumeDocument, { input: { id } });
  t.is(errorCode(unmanage), 'INVALID_STATE');
  t.regex(unmanage.errors![0]!.message, /is encrypted: unmanaged, its image would be ciphertext/);
  t.is((await volume(t, id)).status, 'AVAILABLE');
  const manage = await admin.raw(ManageVolumeDocument, { input: { host: 'store-a', pool: 'r', reference: 'some.img', name: 'm', volumeType: 'enc-r' } });
  t.is(errorCode(manage), 'BAD_USER_INPUT');
  t.regex(manage.errors![0]!.message, /cannot be adopted as encrypted/);
});

test.serial('snapshots and clones of an encrypted volume keep its data; a clone is encrypted, and a plain one is refused', async (t) => {
  const id = await createVolume(t, { name: 'copy-src', volumeType: 'enc-q' });
  await attached(t, id, 'NBD', (d) => t.true(io(d, ['write -P 0x11 0 1M']).ok));
  const s = await member(t).request(CreateSnapshotDocument, { input: { volumeId: id, name: 's1' } });
  await waitForSnapshot(member(t), s.createSnapshot.snapshot.id, 'AVAILABLE', { timeoutMs: 60_000 });
  await attached(t, id, 'NBD', (d) => t.true(io(d, ['write -P 0x22 0 1M']).ok));

  const clone = await createVolume(t, { name: 'clone', sourceVolumeId: id });
  const cv = await volume(t, clone);
  t.true(cv.encrypted, 'a clone without a type takes the source\'s encrypted type');
  t.is(cv.volumeType, 'enc-q');
  t.true(await holds(t, clone, '0x22'));
  t.false(await fileHasRun(imageOf(t, cv), 0x22));

  const fromSnap = await createVolume(t, { name: 'from-snap', snapshotId: s.createSnapshot.snapshot.id });
  t.true((await volume(t, fromSnap)).encrypted);
  t.true(await holds(t, fromSnap, '0x11'));

  const plainCopy = await member(t).raw(CreateVolumeDocument, { input: { name: 'plain-copy', sourceVolumeId: id, volumeType: 'plain-r' } });
  t.is(errorCode(plainCopy), 'BAD_USER_INPUT');
  t.regex(plainCopy.errors![0]!.message, /a copy of an encrypted volume must be encrypted too/);
});

test.serial('a backup of an encrypted volume restores into a new encrypted volume with the same data; a plain target is refused', async (t) => {
  const id = await createVolume(t, { name: 'bk-src', volumeType: 'enc-q' });
  await attached(t, id, 'NBD', (d) => t.true(io(d, ['write -P 0x33 0 1M', 'write -P 0x44 5M 1M']).ok));
  const b = await member(t).request(CreateBackupDocument, { input: { volumeId: id, name: 'bk' } });
  const backupId = b.createBackup.backup.id;
  await waitForBackup(member(t), backupId, 'AVAILABLE', { timeoutMs: 120_000 });
  await waitForVolume(member(t), id, 'AVAILABLE');

  const plain = await createVolume(t, { name: 'bk-plain', volumeType: 'plain-r' });
  const refused = await member(t).raw(RestoreBackupDocument, { input: { backupId, volumeId: plain } });
  t.is(errorCode(refused), 'BAD_USER_INPUT');
  t.regex(refused.errors![0]!.message, /would be stored in clear/);

  const r = await member(t).request(RestoreBackupDocument, { input: { backupId, name: 'bk-restored' } });
  const restored = r.restoreBackup.volume.id;
  await waitForVolume(member(t), restored, 'AVAILABLE', { timeoutMs: 120_000 });
  await waitForBackup(member(t), backupId, 'AVAILABLE', { timeoutMs: 120_000 });
  const rv = await volume(t, restored);
  t.true(rv.encrypted);
  t.is(rv.volumeType, 'enc-q');
  t.true(await holds(t, restored, '0x33'));
  t.true(await holds(t, restored, '0x44', '5M'));
  t.false(await fileHasRun(imageOf(t, rv), 0x33));
});

test.serial('a migrated encrypted volume keeps its data and stays ciphertext on its new pool', async (t) => {
  const id = await createVolume(t, { name: 'mig', volumeType: 'enc-any' });
  await attached(t, id, 'NBD', (d) => t.true(io(d, ['write -P 0x66 2M 1M']).ok));
  const before = await volume(t, id);
  const to = before.host === 'store-b' ? { host: 'store-a', pool: 'r' } : { host: 'store-b', pool: 'm' };
  const m = await t.context.cluster.client().request(MigrateVolumeDocument, { input: { id, ...to } });
  await waitForOperation(member(t), m.migrateVolume.operation.id, { status: 'SUCCEEDED', timeoutMs: 120_000 });
  const after = await waitForVolume(t.context.cluster.client(), id, (v) => v?.status === 'AVAILABLE' && v.host === to.host, { timeoutMs: 60_000 });
  t.is(after!.pool, to.pool);
  t.true(after!.encrypted);
  t.true(await holds(t, id, '0x66', '2M'));
  t.false(await fileHasRun(imageOf(t, after!), 0x66));
});

test.serial('an agent holding another secret key fails the export with a message naming its key file', async (t) => {
  const id = await createVolume(t, { name: 'wrong-key', volumeType: 'enc-k' });
  t.is((await volume(t, id)).host, 'store-k');
  writeFileSync(t.context.agentKey, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  await t.context.cluster.restartAgent('store-k');
  const r = await member(t).request(CreateAttachmentDocument, { input: { volumeId: id, instanceId: 'vm-k', targetKind: 'NBD', connector: { host: 'k' } } });
  const failed = await waitForAttachment(member(t), r.createAttachment.attachment.id, 'ERROR_ATTACHING', { timeoutMs: 60_000 });
  const message = failed!.messages.map((m) => m.message).join('\n');
  t.true(message.includes(`does not open with the key from ${t.context.agentKey}`), message);
});

test.after.always('no process is left behind', noProcessesLeft);
