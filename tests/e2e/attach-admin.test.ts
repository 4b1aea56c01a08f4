/**
 * Attachments seen by admins and operators, end to end on a real cluster (nats-server,
 * SQLite, gateway, scheduler, one agent with its own tgtd, a raw and a qcow2 pool):
 * - the CHAP secret is sealed in the database row, in the outbox command and on NATS, and
 *   the password the owner is shown still logs in through libiscsi;
 * - `node(id)` resolves an attachment, with `attachment(id)`'s visibility;
 * - a volume with attachments cannot be (force-)deleted until they are detached;
 * - a forced backup of an IN_USE volume (raw over tgt, qcow2 over qemu-storage-daemon's
 *   FUSE export) reads a temporary snapshot, leaves the export working, removes the
 *   snapshot, and restores the bytes written through the initiator;
 * - the same for a qcow2 volume attached over NBD (qemu-storage-daemon's NBD server): a
 *   forced snapshot and a forced backup are taken through its QMP monitor while attached.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsAuthOptions } from '../../src/bus/index.js';
import {
  AttachmentDocument,
  AttachmentNodeDocument,
  CompleteAttachmentDocument,
  CreateAttachmentDocument,
  CreateBackupDocument,
  CreateSnapshotDocument,
  CreateVolumeDocument,
  CreateVolumeTypeDocument,
  DeleteAttachmentDocument,
  DeleteSnapshotDocument,
  DeleteVolumeDocument,
  ForceDeleteVolumeDocument,
  ForceDetachDocument,
  RestoreBackupDocument,
  VolumeDocument,
  type FlintDocument,
} from '../../src/client/index.js';
import { waitFor, startCluster, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { waitForAttachment, waitForBackup, waitForSnapshot, waitForVolume, type AttachmentState } from '../helpers/wait.js';
import { iscsiImageOpts } from '../helpers/iscsi.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  nc: NatsConnection;
  member: string;
  other: string;
}
const test = anyTest as TestFn<Ctx>;
type T = ExecutionContext<Ctx>;

type Att = AttachmentState;
type ConnData = NonNullable<Att['connectionInfo']>['data'];

const HOST = 'store-adm';
const INI = 'iqn.2026-11.test.flint:admin-consumer';
const POOLS = { raw: { pool: 'rawpool', format: 'raw' }, qcow2: { pool: 'qcpool', format: 'qcow2' } } as const;
type Format = keyof typeof POOLS;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [
      {
        host: HOST,
        pools: [
          { name: 'rawpool', imageFormat: 'raw', capacityGiB: 50, capabilities: { fmt: 'raw' } },
          { name: 'qcpool', imageFormat: 'qcow2', capacityGiB: 50, capabilities: { fmt: 'qcow2' } },
        ],
      },
    ],
  });
  for (const fmt of ['raw', 'qcow2']) {
    await cluster.client().request(CreateVolumeTypeDocument, { input: { name: `fmt-${fmt}`, extraSpecs: { 'capabilities:fmt': fmt } } });
  }
  // The tests' read-only observer: it may watch what crosses the bus (the bus refuses anonymous clients).
  const nc = await connect({ servers: cluster.nats.url, ...natsAuthOptions({ nkeySeedFile: cluster.natsSeed('observer') }) });
  t.context = { cluster, nc, member: await cluster.token('alpha', 'member'), other: await cluster.token('beta', 'member') };
});

test.after.always(async (t) => {
  await t.context.nc?.close();
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

/** A typed document sent with `token`: the whole answer, its errors returned, not thrown. */
const call = <D, V>(t: T, token: string, doc: FlintDocument<D, V>, variables?: V) => t.context.cluster.client(token).raw(doc, variables);
const code = errorCode;
const member = (t: T) => t.context.cluster.client(t.context.member);

async function volumeStatus(t: T, id: string): Promise<string | undefined> {
  const r = await t.context.cluster.client().raw(VolumeDocument, { id });
  return r.data?.volume?.status;
}

async function newVolume(t: T, name: string, format: Format): Promise<string> {
  const r = await t.context.cluster.client(t.context.member).request(CreateVolumeDocument, { input: { name, sizeGiB: 1, volumeType: `fmt-${format}` } });
  await waitForVolume(t.context.cluster.client(), r.createVolume.volume.id, 'AVAILABLE');
  return r.createVolume.volume.id;
}

type Ended = { status: string; messages: Array<{ message: string }> };

/** Waits until the snapshot leaves CREATING; its status and messages. */
async function snapshotEnded(t: T, id: string): Promise<Ended> {
  return (await waitForSnapshot(t.context.cluster.client(t.context.member), id, (s) => s !== null && s.status !== 'CREATING', { what: `snapshot ${id} to end` }))!;
}

/** Waits until the backup leaves CREATING; its status and messages. */
async function backupEnded(t: T, id: string): Promise<Ended> {
  return (await waitForBackup(t.context.cluster.client(t.context.member), id, (b) => b !== null && b.status !== 'CREATING', { what: `backup ${id} to end`, timeoutMs: 90_000 }))!;
}

async function getAttachment(t: T, id: string): Promise<Att | null> {
  return (await member(t).request(AttachmentDocument, { id })).attachment;
}

/** Waits until the attachment's export is ready (its connectionInfo set). */
async function exported(t: T, id: string): Promise<Att> {
  return (await waitForAttachment(member(t), id, (a) => a?.connectionInfo != null, { what: `attachment ${id} to be exported` }))!;
}

/** Attaches with a connector, waits for the export, completes: the volume is IN_USE. */
async function attach(t: T, volumeId: string): Promise<Att> {
  const r = await member(t).request(CreateAttachmentDocument, {
    input: { volumeId, instanceId: 'vm-adm', connector: { initiator: INI, host: 'consumer', ip: '127.0.0.1' } },
  });
  const a = await exported(t, r.createAttachment.attachment.id);
  await member(t).request(CompleteAttachmentDocument, { id: a.id });
  await waitForVolume(t.context.cluster.client(), volumeId, 'IN_USE');
  return a;
}

/** Attaches over NBD (no initiator), waits for the export, completes: the volume is IN_USE. Returns the attachment id and the export's URI. */
async function attachNbd(t: T, volumeId: string): Promise<{ id: string; uri: string }> {
  const r = await member(t).request(CreateAttachmentDocument, {
    input: { volumeId, instanceId: 'vm-adm-nbd', targetKind: 'NBD', connector: { host: 'consumer-nbd', ip: '127.0.0.1' } },
  });
  const id = r.createAttachment.attachment.id;
  const info = (await exported(t, id)).connectionInfo!;
  await member(t).request(CompleteAttachmentDocument, { id });
  await waitForVolume(t.context.cluster.client(), volumeId, 'IN_USE');
  if (info.driverVolumeType !== 'nbd' || !info.data.uri) throw new Error(`attached over ${info.driverVolumeType} (uri ${info.data.uri}), not nbd`);
  return { id, uri: info.data.uri };
}

function nbdIo(uri: string, cmd: string): { status: number | null; out: string } {
  const r = spawnSync('qemu-io', ['-f', 'raw', '-c', cmd, uri], { encoding: 'utf8', timeout: 60_000 });
  // qemu-io exits 0 after a failed pattern check: the message says so.
  return { status: /Pattern verification failed/.test(`${r.stdout}${r.stderr}`) ? 1 : r.status, out: `${r.stdout}${r.stderr}` };
}

function iscsiIo(d: ConnData, cmd: string): { status: number | null; out: string } {
  const opts = iscsiImageOpts({ ...d, username: d.authUsername, password: d.authPassword, initiator: INI });
  const r = spawnSync('qemu-io', ['--image-opts', opts, '-c', cmd], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function imageOf(t: T, format: Format, volumeId: string): string {
  return join(t.context.cluster.poolDir(HOST, POOLS[format].pool), `volume-${volumeId}.${format}`);
}

function readImage(path: string, format: Format, cmd: string): { status: number | null; out: string } {
  const r = spawnSync('qemu-io', ['-r', '-U', '-f', format, '-c', cmd, path], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The snapshots left of a volume on disk: qcow2 internal snapshots, or raw snapshot copies. */
function snapshotsOnDisk(t: T, format: Format, volumeId: string): string[] {
  if (format === 'qcow2') {
    const r = spawnSync('qemu-img', ['info', '-U', '--output=json', imageOf(t, format, volumeId)], { encoding: 'utf8' });
    return ((JSON.parse(r.stdout) as { snapshots?: Array<{ name: string }> }).snapshots ?? []).map((s) => s.name);
  }
  const dir = join(t.context.cluster.poolDir(HOST, POOLS.raw.pool), '.snapshots', `volume-${volumeId}`);
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** better-sqlite3 (a dependency of @mikro-orm/better-sqlite, without its own types here): read the rows as stored. */
interface SqliteDb {
  prepare(sql: string): { get(...args: unknown[]): unknown; all(...args: unknown[]): unknown[] };
  close(): void;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string, opts: { readonly: boolean; fileMustExist: boolean }) => SqliteDb;
const sqlite = (t: T): SqliteDb => new Database(join(t.context.cluster.dataDir, 'flint.sqlite'), { readonly: true, fileMustExist: true });

test.serial('the CHAP secret is sealed in the attachment row, the outbox command and the NATS message, and the owner\'s password still logs in', async (t) => {
  const seen: string[] = [];
  const sub = t.context.nc.subscribe(`flint.cmd.agent.${HOST}.>`, { callback: (_err, msg) => void seen.push(msg.string()) });
  const volumeId = await newVolume(t, 'sealed', 'raw');
  const a = await attach(t, volumeId);
  sub.unsubscribe();
  const password = a.connectionInfo!.data.authPassword!;
  t.true(password.length >= 12);

  const db = sqlite(t);
  try {
    const row = db.prepare('select chap_secret from attachment where id = ?').get(a.id) as { chap_secret: string };
    t.regex(row.chap_secret, /^v1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/);
    t.false(row.chap_secret.includes(password));
    const ops = db.prepare('select command from operation where resource_id = ?').all(a.id) as Array<{ command: string | null }>;
    const commands = ops.map((o) => o.command ?? '').join('\n');
    t.true(commands.includes('export_attachment') || commands.includes('agent.export'), commands);
    t.true(commands.includes('v1:'), 'the outbox command carries the sealed password');
    t.false(commands.includes(password), 'the outbox command does not carry the password in clear');
  } finally {
    db.close();
  }
  const exportMsg = seen.find((m) => m.includes(a.id));
  t.truthy(exportMsg, `the export command was seen on NATS: ${seen.length} messages`);
  t.true(exportMsg!.includes('v1:'));
  t.false(seen.some((m) => m.includes(password)), 'no NATS command carries the password in clear');

  // The agent opened it: libiscsi logs in with the owner's password.
  const w = iscsiIo(a.connectionInfo!.data, 'write -P 0x3c 0 64k');
  t.is(w.status, 0, w.out);
  // Another project sees no password (and no attachment).
  const other = await call(t, t.context.other, AttachmentDocument, { id: a.id });
  t.is(other.data?.attachment, null);

  // A restarted agent re-creates the export from the DB's sealed secret.
  await t.context.cluster.restartAgent(HOST);
  await waitFor(async () => iscsiIo(a.connectionInfo!.data, 'read -P 0x3c 0 64k').status === 0, 60_000, () => 'the export did not come back after the agent restarted');
  t.pass();
});

test.serial('node(id) resolves an attachment for its project and admins, and is null for another project', async (t) => {
  const volumeId = await newVolume(t, 'node-id', 'raw');
  const r = await member(t).request(CreateAttachmentDocument, { input: { volumeId, instanceId: 'vm-node' } });
  const id = r.createAttachment.attachment.id;
  const mine = await member(t).request(AttachmentNodeDocument, { id });
  t.deepEqual(mine.node, { __typename: 'Attachment', id, status: 'RESERVED', volumeId });
  const admin = await t.context.cluster.client().request(AttachmentNodeDocument, { id });
  t.is(admin.node?.id, id);
  const other = await call(t, t.context.other, AttachmentNodeDocument, { id });
  t.is(other.errors, undefined);
  t.is(other.data?.node, null);
  await member(t).request(DeleteAttachmentDocument, { id });
  const detached = (await member(t).request(AttachmentNodeDocument, { id })).node;
  t.is(detached?.__typename === 'Attachment' ? detached.status : undefined, 'DETACHED', 'a DETACHED attachment still resolves, as attachment(id) does');
});

test.serial('forceDeleteVolume refuses a volume with attachments, naming them; after forceDetach it deletes the volume and its image', async (t) => {
  const volumeId = await newVolume(t, 'force-del', 'qcow2');
  const a = await attach(t, volumeId);
  const refused = await call(t, t.context.cluster.adminToken, ForceDeleteVolumeDocument, { input: { id: volumeId, reason: 'cleanup' } });
  t.is(code(refused), 'INVALID_STATE');
  t.true(refused.errors![0]!.message.includes(a.id), refused.errors![0]!.message);
  t.regex(refused.errors![0]!.message, /forceDetach/);
  const plain = await call(t, t.context.member, DeleteVolumeDocument, { input: { id: volumeId } });
  t.is(code(plain), 'INVALID_STATE');
  t.true(plain.errors![0]!.message.includes(a.id));
  t.is(await volumeStatus(t, volumeId), 'IN_USE', 'nothing changed');
  t.true(existsSync(imageOf(t, 'qcow2', volumeId)));

  await t.context.cluster.client().request(ForceDetachDocument, { input: { id: a.id, reason: 'cleanup' } });
  await waitForAttachment(member(t), a.id, 'DETACHED');
  await waitForVolume(t.context.cluster.client(), volumeId, 'AVAILABLE');
  await t.context.cluster.client().request(ForceDeleteVolumeDocument, { input: { id: volumeId, reason: 'cleanup' } });
  await waitFor(async () => (await volumeStatus(t, volumeId)) === undefined, 60_000, () => 'the volume was not deleted');
  await waitFor(async () => !existsSync(imageOf(t, 'qcow2', volumeId)), 30_000, () => 'the image is still there');
  t.pass();
});

for (const format of ['raw', 'qcow2'] as const) {
  test.serial(`${format}: a backup of an IN_USE volume needs force, reads a temporary snapshot while the export keeps working, and restores what the initiator wrote`, async (t) => {
    const volumeId = await newVolume(t, `inuse-${format}`, format);
    const a = await attach(t, volumeId);
    const d = a.connectionInfo!.data;
    const w = iscsiIo(d, 'write -P 0xa7 1M 2M');
    t.is(w.status, 0, w.out);

    const refused = await call(t, t.context.member, CreateBackupDocument, { input: { volumeId, name: 'no-force' } });
    t.is(code(refused), 'INVALID_STATE');
    t.regex(refused.errors![0]!.message, /force/);

    const created = await member(t).request(CreateBackupDocument, { input: { volumeId, name: 'forced', force: true } });
    const backupId = created.createBackup.backup.id;
    const b = await backupEnded(t, backupId);
    t.is(b.status, 'AVAILABLE', JSON.stringify(b.messages));
    t.is(await volumeStatus(t, volumeId), 'IN_USE', 'the volume stayed IN_USE');
    t.is((await getAttachment(t, a.id))?.status, 'ATTACHED');

    // The export still works: the pattern reads back, and a new write goes through.
    const r = iscsiIo(d, 'read -P 0xa7 1M 2M');
    t.is(r.status, 0, r.out);
    const w2 = iscsiIo(d, 'write -P 0x11 0 64k');
    t.is(w2.status, 0, w2.out);
    await waitFor(async () => snapshotsOnDisk(t, format, volumeId).length === 0, 30_000, () => `temporary snapshot left: ${snapshotsOnDisk(t, format, volumeId).join(', ')}`);

    // Restore into a new volume: it holds what the initiator wrote before the backup.
    const restored = await member(t).request(RestoreBackupDocument, { input: { backupId } });
    const newId = restored.restoreBackup.volume.id;
    await waitForVolume(t.context.cluster.client(), newId, 'AVAILABLE');
    const pool = [POOLS.raw, POOLS.qcow2].find((p) => existsSync(join(t.context.cluster.poolDir(HOST, p.pool), `volume-${newId}.${p.format}`)))!;
    t.truthy(pool, 'the restored image is in a pool');
    const path = join(t.context.cluster.poolDir(HOST, pool.pool), `volume-${newId}.${pool.format}`);
    const back = readImage(path, pool.format, 'read -P 0xa7 1M 2M');
    t.is(back.status, 0, back.out);
    const zero = readImage(path, pool.format, 'read -P 0 0 64k');
    t.is(zero.status, 0, `the write made after the backup is not in it: ${zero.out}`);
  });
}

for (const format of ['raw', 'qcow2'] as const) {
  test.serial(`${format}: createSnapshot of an IN_USE volume needs force; with it the snapshot holds what the initiator wrote, and it is deleted while the export keeps working`, async (t) => {
    const volumeId = await newVolume(t, `snap-inuse-${format}`, format);
    const a = await attach(t, volumeId);
    const d = a.connectionInfo!.data;
    const w = iscsiIo(d, 'write -P 0x3c 2M 1M');
    t.is(w.status, 0, w.out);

    const refused = await call(t, t.context.member, CreateSnapshotDocument, { input: { volumeId, name: 'no-force' } });
    t.is(code(refused), 'INVALID_STATE');
    t.regex(refused.errors![0]!.message, /is IN_USE .*attached: snapshot it with `force: true`/);

    const created = await member(t).request(CreateSnapshotDocument, { input: { volumeId, name: 'forced', force: true } });
    const snapshotId = created.createSnapshot.snapshot.id;
    const snap = await snapshotEnded(t, snapshotId);
    t.is(snap.status, 'AVAILABLE', JSON.stringify(snap.messages));
    t.is(await volumeStatus(t, volumeId), 'IN_USE', 'the volume stayed IN_USE');
    t.is(snapshotsOnDisk(t, format, volumeId).length, 1, 'one snapshot on disk');

    // Writes after the snapshot go through, and do not reach it: a clone of it has the old bytes.
    const w2 = iscsiIo(d, 'write -P 0x77 2M 64k');
    t.is(w2.status, 0, w2.out);
    const clone = await t.context.cluster.client(t.context.member).request(CreateVolumeDocument, { input: { name: `clone-${format}`, sizeGiB: 1, snapshotId } });
    const cloneId = clone.createVolume.volume.id;
    await waitForVolume(t.context.cluster.client(), cloneId, 'AVAILABLE');
    const back = readImage(imageOf(t, format, cloneId), format, 'read -P 0x3c 2M 1M');
    t.is(back.status, 0, back.out);

    // Deleting the snapshot while the volume is exported: gone from disk, the export still serves the new bytes.
    await member(t).request(DeleteSnapshotDocument, { input: { id: snapshotId } });
    await waitFor(async () => snapshotsOnDisk(t, format, volumeId).length === 0, 60_000, () => `snapshot left: ${snapshotsOnDisk(t, format, volumeId).join(', ')}`);
    const r = iscsiIo(d, 'read -P 0x77 2M 64k');
    t.is(r.status, 0, r.out);
  });
}

test.serial('qcow2 over NBD: createSnapshot with force is AVAILABLE while attached, holds what the client wrote, and is deleted while the export keeps working', async (t) => {
  const volumeId = await newVolume(t, 'snap-nbd-qcow2', 'qcow2');
  const a = await attachNbd(t, volumeId);
  const w = nbdIo(a.uri, 'write -P 0x4d 2M 1M');
  t.is(w.status, 0, w.out);

  const created = await member(t).request(CreateSnapshotDocument, { input: { volumeId, name: 'forced-nbd', force: true } });
  const snapshotId = created.createSnapshot.snapshot.id;
  const snap = await snapshotEnded(t, snapshotId);
  t.is(snap.status, 'AVAILABLE', JSON.stringify(snap.messages));
  t.is(await volumeStatus(t, volumeId), 'IN_USE', 'the volume stayed IN_USE');
  t.is((await getAttachment(t, a.id))?.status, 'ATTACHED');
  t.is(snapshotsOnDisk(t, 'qcow2', volumeId).length, 1, 'one snapshot on disk');

  // Writes after the snapshot go through the same export and do not reach the snapshot.
  const w2 = nbdIo(a.uri, 'write -P 0x78 2M 64k');
  t.is(w2.status, 0, w2.out);
  // The snapshot's bytes, read beside the daemon's lock (qemu-io 7.2 has no -l: convert them out with qemu-img).
  const copy = join(t.context.cluster.dataDir, `snap-nbd-${volumeId}.raw`);
  const out = spawnSync('qemu-img', ['convert', '-U', '-f', 'qcow2', '-l', `snapshot.name=${snapshotsOnDisk(t, 'qcow2', volumeId)[0]!}`, '-O', 'raw', imageOf(t, 'qcow2', volumeId), copy], { encoding: 'utf8' });
  t.is(out.status, 0, out.stderr);
  const old = readImage(copy, 'raw', 'read -P 0x4d 2M 1M');
  t.is(old.status, 0, old.out);
  rmSync(copy, { force: true });

  await member(t).request(DeleteSnapshotDocument, { input: { id: snapshotId } });
  await waitFor(async () => snapshotsOnDisk(t, 'qcow2', volumeId).length === 0, 60_000, () => `snapshot left: ${snapshotsOnDisk(t, 'qcow2', volumeId).join(', ')}`);
  const r = nbdIo(a.uri, 'read -P 0x78 2M 64k');
  t.is(r.status, 0, r.out);
});

test.serial('qcow2 over NBD: a forced backup of the attached volume keeps the export working, removes its temporary snapshot, and restores what the client wrote', async (t) => {
  const volumeId = await newVolume(t, 'inuse-nbd-qcow2', 'qcow2');
  const a = await attachNbd(t, volumeId);
  const w = nbdIo(a.uri, 'write -P 0xb3 1M 2M');
  t.is(w.status, 0, w.out);

  const created = await member(t).request(CreateBackupDocument, { input: { volumeId, name: 'forced-nbd', force: true } });
  const backupId = created.createBackup.backup.id;
  const b = await backupEnded(t, backupId);
  t.is(b.status, 'AVAILABLE', JSON.stringify(b.messages));
  t.is(await volumeStatus(t, volumeId), 'IN_USE', 'the volume stayed IN_USE');
  t.is((await getAttachment(t, a.id))?.status, 'ATTACHED');

  const r = nbdIo(a.uri, 'read -P 0xb3 1M 2M');
  t.is(r.status, 0, r.out);
  const w2 = nbdIo(a.uri, 'write -P 0x12 0 64k');
  t.is(w2.status, 0, w2.out);
  await waitFor(async () => snapshotsOnDisk(t, 'qcow2', volumeId).length === 0, 30_000, () => `temporary snapshot left: ${snapshotsOnDisk(t, 'qcow2', volumeId).join(', ')}`);

  const restored = await member(t).request(RestoreBackupDocument, { input: { backupId } });
  const newId = restored.restoreBackup.volume.id;
  await waitForVolume(t.context.cluster.client(), newId, 'AVAILABLE');
  const pool = [POOLS.raw, POOLS.qcow2].find((p) => existsSync(join(t.context.cluster.poolDir(HOST, p.pool), `volume-${newId}.${p.format}`)))!;
  t.truthy(pool, 'the restored image is in a pool');
  const path = join(t.context.cluster.poolDir(HOST, pool.pool), `volume-${newId}.${pool.format}`);
  const back = readImage(path, pool.format, 'read -P 0xb3 1M 2M');
  t.is(back.status, 0, back.out);
  t.notRegex(back.out, /Pattern verification failed/);
  const zero = readImage(path, pool.format, 'read -P 0 0 64k');
  t.is(zero.status, 0, zero.out);
  t.notRegex(zero.out, /Pattern verification failed/, 'the write made after the backup is not in it');
});

test.after.always('no process is left behind', noProcessesLeft);
