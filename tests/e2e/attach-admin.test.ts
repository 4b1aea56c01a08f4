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
import { CreateVolumeDocument, VolumeDocument } from '../../src/client/index.js';
import { gql, waitFor, startCluster, type Cluster } from '../helpers/cluster.js';
import { waitForBackup, waitForSnapshot, waitForVolume } from '../helpers/wait.js';
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

type Err = { message: string; extensions?: { code?: string; attachmentIds?: string[] } };
type Result<D> = { data?: D; errors?: Err[] };

interface ConnData {
  targetIqn: string;
  targetPortal: string;
  targetLun: number;
  authUsername: string;
  authPassword: string | null;
}
interface Att {
  id: string;
  status: string;
  connectionInfo: { data: ConnData } | null;
}

const HOST = 'store-adm';
const INI = 'iqn.2026-11.test.flint:admin-consumer';
const ATT = 'id status connectionInfo { data { targetIqn targetPortal targetLun authUsername authPassword } }';
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
    const r = await gql(cluster.url, cluster.adminToken, 'mutation($input: CreateVolumeTypeInput!) { createVolumeType(input: $input) { id } }', {
      input: { name: `fmt-${fmt}`, extraSpecs: { 'capabilities:fmt': fmt } },
    });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
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

const call = async <D>(t: T, token: string, query: string, variables?: Record<string, unknown>): Promise<Result<D>> =>
  (await gql(t.context.cluster.url, token, query, variables)) as Result<D>;
const ok = <D>(r: Result<D>): D => {
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data!;
};

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
  return ok(await call<{ attachment: Att | null }>(t, t.context.member, `query($id: ID!) { attachment(id: $id) { ${ATT} } }`, { id })).attachment;
}

/** Attaches with a connector, waits for the export, completes: the volume is IN_USE. */
async function attach(t: T, volumeId: string): Promise<Att> {
  const r = ok(await call<{ createAttachment: { attachment: Att } }>(t, t.context.member, `mutation($input: CreateAttachmentInput!) { createAttachment(input: $input) { attachment { ${ATT} } } }`, {
    input: { volumeId, instanceId: 'vm-adm', connector: { initiator: INI, host: 'consumer', ip: '127.0.0.1' } },
  }));
  const id = r.createAttachment.attachment.id;
  let a: Att | null = null;
  await waitFor(async () => (a = await getAttachment(t, id))?.connectionInfo != null, 60_000, () => `attachment ${id} was not exported: ${JSON.stringify(a)}`);
  ok(await call(t, t.context.member, 'mutation($id: ID!) { completeAttachment(input: { id: $id }) { attachment { status } } }', { id }));
  await waitForVolume(t.context.cluster.client(), volumeId, 'IN_USE');
  return a!;
}

/** Attaches over NBD (no initiator), waits for the export, completes: the volume is IN_USE. Returns the attachment id and the export's URI. */
async function attachNbd(t: T, volumeId: string): Promise<{ id: string; uri: string }> {
  const FIELDS = 'id status connectionInfo { driverVolumeType data { uri } }';
  type NbdAtt = { id: string; connectionInfo: { driverVolumeType: string; data: { uri: string } } | null };
  const r = ok(await call<{ createAttachment: { attachment: NbdAtt } }>(t, t.context.member, `mutation($input: CreateAttachmentInput!) { createAttachment(input: $input) { attachment { ${FIELDS} } } }`, {
    input: { volumeId, instanceId: 'vm-adm-nbd', targetKind: 'NBD', connector: { host: 'consumer-nbd', ip: '127.0.0.1' } },
  }));
  const id = r.createAttachment.attachment.id;
  let a: NbdAtt | null = null;
  await waitFor(async () => {
    a = ok(await call<{ attachment: NbdAtt | null }>(t, t.context.member, `query($id: ID!) { attachment(id: $id) { ${FIELDS} } }`, { id })).attachment;
    return a?.connectionInfo != null;
  }, 60_000, () => `attachment ${id} was not exported: ${JSON.stringify(a)}`);
  ok(await call(t, t.context.member, 'mutation($id: ID!) { completeAttachment(input: { id: $id }) { attachment { status } } }', { id }));
  await waitForVolume(t.context.cluster.client(), volumeId, 'IN_USE');
  const info = (a as NbdAtt | null)!.connectionInfo!;
  if (info.driverVolumeType !== 'nbd') throw new Error(`attached over ${info.driverVolumeType}, not nbd`);
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
  const other = await call<{ attachment: Att | null }>(t, t.context.other, `query($id: ID!) { attachment(id: $id) { ${ATT} } }`, { id: a.id });
  t.is(other.data?.attachment, null);

  // A restarted agent re-creates the export from the DB's sealed secret.
  await t.context.cluster.restartAgent(HOST);
  await waitFor(async () => iscsiIo(a.connectionInfo!.data, 'read -P 0x3c 0 64k').status === 0, 60_000, () => 'the export did not come back after the agent restarted');
  t.pass();
});

test.serial('node(id) resolves an attachment for its project and admins, and is null for another project', async (t) => {
  const volumeId = await newVolume(t, 'node-id', 'raw');
  const r = ok(await call<{ createAttachment: { attachment: { id: string } } }>(t, t.context.member, 'mutation($input: CreateAttachmentInput!) { createAttachment(input: $input) { attachment { id } } }', {
    input: { volumeId, instanceId: 'vm-node' },
  }));
  const id = r.createAttachment.attachment.id;
  const NODE = 'query($id: ID!) { node(id: $id) { __typename id ... on Attachment { status volumeId } } }';
  const mine = ok(await call<{ node: { __typename: string; id: string; status: string; volumeId: string } | null }>(t, t.context.member, NODE, { id }));
  t.deepEqual(mine.node, { __typename: 'Attachment', id, status: 'RESERVED', volumeId });
  const admin = ok(await call<{ node: { id: string } | null }>(t, t.context.cluster.adminToken, NODE, { id }));
  t.is(admin.node?.id, id);
  const other = await call<{ node: unknown }>(t, t.context.other, NODE, { id });
  t.is(other.errors, undefined);
  t.is(other.data?.node, null);
  ok(await call(t, t.context.member, 'mutation($id: ID!) { deleteAttachment(input: { id: $id }) { attachment { status } } }', { id }));
  const detached = ok(await call<{ node: { status: string } | null }>(t, t.context.member, NODE, { id }));
  t.is(detached.node?.status, 'DETACHED', 'a DETACHED attachment still resolves, as attachment(id) does');
});

test.serial('forceDeleteVolume refuses a volume with attachments, naming them; after forceDetach it deletes the volume and its image', async (t) => {
  const volumeId = await newVolume(t, 'force-del', 'qcow2');
  const a = await attach(t, volumeId);
  const FORCE = 'mutation($input: ForceDeleteVolumeInput!) { forceDeleteVolume(input: $input) { volume { id status } } }';
  const refused = await call(t, t.context.cluster.adminToken, FORCE, { input: { id: volumeId, reason: 'cleanup' } });
  t.is(refused.errors?.[0]?.extensions?.code, 'INVALID_STATE');
  t.true(refused.errors![0]!.message.includes(a.id), refused.errors![0]!.message);
  t.regex(refused.errors![0]!.message, /forceDetach/);
  const plain = await call(t, t.context.member, 'mutation($input: DeleteVolumeInput!) { deleteVolume(input: $input) { volume { status } } }', { input: { id: volumeId } });
  t.is(plain.errors?.[0]?.extensions?.code, 'INVALID_STATE');
  t.true(plain.errors![0]!.message.includes(a.id));
  t.is(await volumeStatus(t, volumeId), 'IN_USE', 'nothing changed');
  t.true(existsSync(imageOf(t, 'qcow2', volumeId)));

  ok(await call(t, t.context.cluster.adminToken, 'mutation($id: ID!) { forceDetach(input: { id: $id, reason: "cleanup" }) { attachment { status } } }', { id: a.id }));
  await waitFor(async () => (await getAttachment(t, a.id))?.status === 'DETACHED', 60_000, () => 'the attachment was not detached');
  await waitForVolume(t.context.cluster.client(), volumeId, 'AVAILABLE');
  ok(await call(t, t.context.cluster.adminToken, FORCE, { input: { id: volumeId, reason: 'cleanup' } }));
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

    const CREATE = 'mutation($input: CreateBackupInput!) { createBackup(input: $input) { backup { id status } } }';
    const refused = await call(t, t.context.member, CREATE, { input: { volumeId, name: 'no-force' } });
    t.is(refused.errors?.[0]?.extensions?.code, 'INVALID_STATE');
    t.regex(refused.errors![0]!.message, /force/);

    const created = ok(await call<{ createBackup: { backup: { id: string } } }>(t, t.context.member, CREATE, { input: { volumeId, name: 'forced', force: true } }));
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
    const restored = ok(await call<{ restoreBackup: { volume: { id: string } } }>(t, t.context.member, 'mutation($input: RestoreBackupInput!) { restoreBackup(input: $input) { volume { id } } }', { input: { backupId } }));
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

    const CREATE = 'mutation($input: CreateSnapshotInput!) { createSnapshot(input: $input) { snapshot { id status } } }';
    const refused = await call(t, t.context.member, CREATE, { input: { volumeId, name: 'no-force' } });
    t.is(refused.errors?.[0]?.extensions?.code, 'INVALID_STATE');
    t.regex(refused.errors![0]!.message, /is IN_USE .*attached: snapshot it with `force: true`/);

    const created = ok(await call<{ createSnapshot: { snapshot: { id: string } } }>(t, t.context.member, CREATE, { input: { volumeId, name: 'forced', force: true } }));
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
    ok(await call(t, t.context.member, 'mutation($id: ID!) { deleteSnapshot(input: { id: $id }) { snapshot { status } } }', { id: snapshotId }));
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

  const CREATE = 'mutation($input: CreateSnapshotInput!) { createSnapshot(input: $input) { snapshot { id status } } }';
  const created = ok(await call<{ createSnapshot: { snapshot: { id: string } } }>(t, t.context.member, CREATE, { input: { volumeId, name: 'forced-nbd', force: true } }));
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

  ok(await call(t, t.context.member, 'mutation($id: ID!) { deleteSnapshot(input: { id: $id }) { snapshot { status } } }', { id: snapshotId }));
  await waitFor(async () => snapshotsOnDisk(t, 'qcow2', volumeId).length === 0, 60_000, () => `snapshot left: ${snapshotsOnDisk(t, 'qcow2', volumeId).join(', ')}`);
  const r = nbdIo(a.uri, 'read -P 0x78 2M 64k');
  t.is(r.status, 0, r.out);
});

test.serial('qcow2 over NBD: a forced backup of the attached volume keeps the export working, removes its temporary snapshot, and restores what the client wrote', async (t) => {
  const volumeId = await newVolume(t, 'inuse-nbd-qcow2', 'qcow2');
  const a = await attachNbd(t, volumeId);
  const w = nbdIo(a.uri, 'write -P 0xb3 1M 2M');
  t.is(w.status, 0, w.out);

  const CREATE = 'mutation($input: CreateBackupInput!) { createBackup(input: $input) { backup { id status } } }';
  const created = ok(await call<{ createBackup: { backup: { id: string } } }>(t, t.context.member, CREATE, { input: { volumeId, name: 'forced-nbd', force: true } }));
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

  const restored = ok(await call<{ restoreBackup: { volume: { id: string } } }>(t, t.context.member, 'mutation($input: RestoreBackupInput!) { restoreBackup(input: $input) { volume { id } } }', { input: { backupId } }));
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
