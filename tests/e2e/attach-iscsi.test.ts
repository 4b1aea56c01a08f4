/**
 * Attachments end to end (issue 4): a real cluster (nats-server, SQLite, gateway,
 * scheduler, one agent with its own tgtd and qemu-nbd servers) driven through the typed SDK,
 * and the exports checked with independent clients: qemu-io through libiscsi
 * (logging in as the connector's initiator with the returned CHAP credentials),
 * iscsi-ls, nbdinfo and qemu-io over NBD.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import {
  AttachmentConnectionIdsDocument,
  AttachmentDocument,
  CompleteAttachmentDocument,
  CreateAttachmentDocument,
  CreateVolumeDocument,
  DeleteAttachmentDocument,
  DeleteVolumeDocument,
  UpdateAttachmentDocument,
  VolumeAttachmentsDocument,
  type CreateAttachmentInput,
  type CreateVolumeInput,
  type FlintDocument,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { waitForAttachment, waitForVolume, type AttachmentState } from '../helpers/wait.js';
import { iscsiImageOpts } from '../helpers/iscsi.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  member: string;
  reader: string;
  other: string;
}
const test = anyTest as TestFn<Ctx>;

type Att = AttachmentState;
type ConnData = NonNullable<Att['connectionInfo']>['data'];

const INI = 'iqn.2026-11.test.flint:consumer-1';
const FOREIGN = 'iqn.2026-11.test.flint:intruder';

test.before(async (t) => {
  const cluster = await startCluster({ database: 'sqlite', agents: [{ host: 'store-1', pools: [{ name: 'raw', imageFormat: 'raw', capacityGiB: 50 }] }] });
  t.context = {
    cluster,
    member: await cluster.token('alpha', 'member'),
    reader: await cluster.token('alpha', 'reader'),
    other: await cluster.token('beta', 'member'),
  };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

/** A typed document sent with `token`: the whole answer, its errors returned, not thrown. */
const call = <D, V>(t: { context: Ctx }, token: string, doc: FlintDocument<D, V>, variables?: V) => t.context.cluster.client(token).raw(doc, variables);
const code = errorCode;
const member = (t: { context: Ctx }) => t.context.cluster.client(t.context.member);

async function availableVolume(t: { context: Ctx }, name: string, extra: Partial<CreateVolumeInput> = {}): Promise<string> {
  const r = await member(t).request(CreateVolumeDocument, { input: { name, sizeGiB: 1, ...extra } });
  const id = r.createVolume.volume.id;
  await waitVolume(t, id, 'AVAILABLE');
  return id;
}

async function waitVolume(t: { context: Ctx }, id: string, status: string): Promise<void> {
  await waitForVolume(member(t), id, status, { timeoutMs: 30_000 });
}

async function waitAttachment(t: { context: Ctx }, id: string, pred: (a: Att) => boolean, what: string): Promise<Att> {
  return (await waitForAttachment(member(t), id, (a) => a !== null && pred(a), { what: `attachment ${id} ${what}`, timeoutMs: 30_000 }))!;
}

/** Creates an attachment with a connector and waits until its export is ready. */
async function attach(t: ExecutionContext<Ctx>, volumeId: string, input: Partial<CreateAttachmentInput> = {}): Promise<Att> {
  const r = await member(t).request(CreateAttachmentDocument, {
    input: { volumeId, instanceId: 'vm-1', connector: { initiator: INI, host: 'consumer-1', ip: '127.0.0.1' }, ...input },
  });
  t.is(r.createAttachment.attachment.status, 'ATTACHING');
  return waitAttachment(t, r.createAttachment.attachment.id, (a) => a.connectionInfo !== null, 'to have its connectionInfo');
}

async function detach(t: { context: Ctx }, id: string): Promise<void> {
  await member(t).request(DeleteAttachmentDocument, { id });
  await waitAttachment(t, id, (a) => a.status === 'DETACHED', 'to be DETACHED');
}

function iscsiOpts(d: ConnData, over: { initiator?: string; password?: string } = {}): string {
  return iscsiImageOpts({ ...d, username: d.authUsername, password: over.password ?? d.authPassword, initiator: over.initiator ?? INI });
}

function qemuIo(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('qemu-io', args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const iscsiIo = (d: ConnData, cmd: string, over: { initiator?: string; password?: string; readOnly?: boolean } = {}) =>
  qemuIo([...(over.readOnly ? ['-r'] : []), '--image-opts', iscsiOpts(d, over), '-c', cmd]);
const nbdIo = (d: ConnData, cmd: string) => qemuIo(['-f', 'raw', d.uri!, '-c', cmd]);

function iscsiLs(portal: string): string {
  const r = spawnSync('iscsi-ls', ['-i', INI, `iscsi://${portal}`], { encoding: 'utf8', timeout: 30_000 });
  return `${r.stdout}${r.stderr}`;
}

test.serial('iSCSI: attach, write through libiscsi with CHAP, complete, detach (target gone), attach again and read the pattern back', async (t) => {
  const volumeId = await availableVolume(t, 'iscsi-data');
  const a = await attach(t, volumeId);
  const d = a.connectionInfo!.data;
  t.is(a.connectionInfo!.driverVolumeType, 'iscsi');
  t.is(d.authMethod, 'CHAP');
  t.truthy(d.authUsername);
  t.true((d.authPassword ?? '').length >= 12);
  t.is(d.accessMode, 'rw');
  const ids = (await member(t).request(AttachmentConnectionIdsDocument, { id: a.id })).attachment?.connectionInfo?.data;
  t.deepEqual(ids, { volumeId, attachmentId: a.id });
  await waitVolume(t, volumeId, 'ATTACHING');

  const w = iscsiIo(d, 'write -P 0x5a 0 1M');
  t.is(w.status, 0, w.out);
  t.true(iscsiLs(d.targetPortal!).includes(d.targetIqn!), 'the target is listed while attached');

  const c = await call(t, t.context.member, CompleteAttachmentDocument, { id: a.id });
  t.is(c.data?.completeAttachment.attachment.status, 'ATTACHED', JSON.stringify(c.errors));
  t.is(c.data?.completeAttachment.operation.status, 'SUCCEEDED');
  await waitVolume(t, volumeId, 'IN_USE');

  await detach(t, a.id);
  await waitVolume(t, volumeId, 'AVAILABLE');
  t.false(iscsiLs(d.targetPortal!).includes(d.targetIqn!), 'the target is gone after detach');
  const after = await member(t).request(AttachmentDocument, { id: a.id });
  t.is(after.attachment?.connectionInfo, null);

  const again = await attach(t, volumeId, { idempotencyKey: 'again-1' });
  t.not(again.id, a.id);
  const d2 = again.connectionInfo!.data;
  t.not(d2.authPassword, d.authPassword, 'a new secret per attachment');
  const r = iscsiIo(d2, 'read -P 0x5a 0 1M');
  t.is(r.status, 0, r.out);
  const wrong = iscsiIo(d2, 'read -P 0x00 0 1M');
  t.not(wrong.status, 0, 'a wrong pattern does not verify');
  await detach(t, again.id);
});

test.serial('iSCSI: a wrong CHAP password and a foreign initiator are refused by the target', async (t) => {
  const volumeId = await availableVolume(t, 'iscsi-auth');
  const a = await attach(t, volumeId);
  const d = a.connectionInfo!.data;
  t.is(iscsiIo(d, 'read 0 4k').status, 0, 'the right credentials work');
  const badPw = iscsiIo(d, 'read 0 4k', { password: 'not-the-secret-000' });
  t.not(badPw.status, 0);
  t.regex(badPw.out, /Authentication failure|Failed to login|Could not/i);
  const foreign = iscsiIo(d, 'read 0 4k', { initiator: FOREIGN });
  t.not(foreign.status, 0);
  t.regex(foreign.out, /not found|Failed to login|Could not/i);
  await detach(t, a.id);
});

test.serial('NBD: attach, nbdinfo sees the export, write and read back through qemu-io, detach removes it', async (t) => {
  const volumeId = await availableVolume(t, 'nbd-data');
  const a = await attach(t, volumeId, { targetKind: 'NBD', connector: { host: 'consumer-2' } });
  t.is(a.targetKind, 'NBD');
  const d = a.connectionInfo!.data;
  t.is(a.connectionInfo!.driverVolumeType, 'nbd');
  t.truthy(d.uri);
  t.is(d.authPassword, null);
  const info = spawnSync('nbdinfo', [d.uri!], { encoding: 'utf8', timeout: 30_000 });
  t.is(info.status, 0, info.stderr);
  t.regex(info.stdout, /1073741824/);
  t.is(nbdIo(d, 'write -P 0x33 1M 64k').status, 0);
  t.is(nbdIo(d, 'read -P 0x33 1M 64k').status, 0);
  await detach(t, a.id);
  const gone = spawnSync('nbdinfo', [d.uri!], { encoding: 'utf8', timeout: 30_000 });
  t.not(gone.status, 0, 'no NBD server after detach');
});

test.serial('read-only: the target refuses a write, reads work', async (t) => {
  const volumeId = await availableVolume(t, 'ro-data');
  const a = await attach(t, volumeId, { mode: 'RO' });
  t.is(a.mode, 'RO');
  t.is(a.connectionInfo!.data.accessMode, 'ro');
  const d = a.connectionInfo!.data;
  const read = iscsiIo(d, 'read 0 4k', { readOnly: true });
  t.is(read.status, 0, read.out);
  const w = iscsiIo(d, 'write -P 0x11 0 4k');
  t.regex(w.out, /fail|error|protect|read-only|denied/i, 'the write is refused');
  const check = iscsiIo(d, 'read -P 0x11 0 4k', { readOnly: true });
  t.not(check.status, 0, 'the pattern was not written');
  t.regex(check.out, /Pattern verification failed/);
  await detach(t, a.id);
});

test.serial('an agent restart brings the exports back', async (t) => {
  const volumeId = await availableVolume(t, 'restart-data');
  const a = await attach(t, volumeId);
  const d = a.connectionInfo!.data;
  t.is(iscsiIo(d, 'write -P 0x77 0 64k').status, 0);
  await member(t).request(CompleteAttachmentDocument, { id: a.id });
  await t.context.cluster.restartAgent('store-1');
  // The restarted agent re-creates the export from the database before it takes commands.
  let ok = { status: 1 as number | null, out: '' };
  for (let i = 0; i < 60 && ok.status !== 0; i++) {
    ok = iscsiIo(d, 'read -P 0x77 0 64k');
    if (ok.status !== 0) await new Promise((r) => setTimeout(r, 500));
  }
  t.is(ok.status, 0, ok.out);
  await detach(t, a.id);
});

test.serial('multiattach: a second attachment is refused without the flag, allowed with it; IN_USE until the last detach; the same instance and host attaching again gets its attachment back', async (t) => {
  const single = await availableVolume(t, 'single');
  const first = await attach(t, single);
  // CSI's ControllerPublish: repeated (no key), it answers with the attachment there is.
  const repeat = await call(t, t.context.member, CreateAttachmentDocument, { input: { volumeId: single, instanceId: 'vm-1', connector: { initiator: INI, host: 'consumer-1', ip: '127.0.0.1' } } });
  t.is(repeat.data?.createAttachment.attachment.id, first.id, JSON.stringify(repeat.errors));
  // The same consumer asking for another mode is a CONFLICT naming the attachment.
  const otherMode = await call(t, t.context.member, CreateAttachmentDocument, { input: { volumeId: single, instanceId: 'vm-1', mode: 'RO', connector: { initiator: INI, host: 'consumer-1' } } });
  t.is(code(otherMode), 'CONFLICT');
  t.regex(otherMode.errors![0]!.message, new RegExp(first.id));
  const second = await call(t, t.context.member, CreateAttachmentDocument, { input: { volumeId: single, instanceId: 'vm-2', connector: { initiator: INI, host: 'c2' } } });
  t.is(code(second), 'INVALID_STATE');
  t.regex(second.errors![0]!.message, new RegExp(`already attached \\(attachments: ${first.id}`));
  const del = await call(t, t.context.member, DeleteVolumeDocument, { input: { id: single } });
  t.is(code(del), 'INVALID_STATE');
  t.regex(del.errors![0]!.message, new RegExp(first.id));
  await detach(t, first.id);

  const shared = await availableVolume(t, 'shared', { multiattach: true });
  const a1 = await attach(t, shared);
  await member(t).request(CompleteAttachmentDocument, { id: a1.id });
  await waitVolume(t, shared, 'IN_USE');
  const a2 = await attach(t, shared, { instanceId: 'vm-2', connector: { initiator: 'iqn.2026-11.test.flint:consumer-2', host: 'c2' } });
  await member(t).request(CompleteAttachmentDocument, { id: a2.id });
  const v = (await member(t).request(VolumeAttachmentsDocument, { id: shared })).volume!;
  t.true(v.multiattach);
  t.is(v.attachments.length, 2);
  await detach(t, a1.id);
  const mid = (await member(t).request(VolumeAttachmentsDocument, { id: shared })).volume!;
  t.is(mid.status, 'IN_USE');
  await detach(t, a2.id);
  await waitVolume(t, shared, 'AVAILABLE');
});

test.serial('a reserved attachment gets its connector later; every refused transition has its code', async (t) => {
  const volumeId = await availableVolume(t, 'reserved-data');
  const r = await member(t).request(CreateAttachmentDocument, { input: { volumeId, instanceId: 'vm-3' } });
  const id = r.createAttachment.attachment.id;
  t.is(r.createAttachment.attachment.status, 'RESERVED');
  t.is(r.createAttachment.operation.status, 'SUCCEEDED');
  await waitVolume(t, volumeId, 'RESERVED');
  const early = await call(t, t.context.member, CompleteAttachmentDocument, { id });
  t.is(code(early), 'INVALID_STATE');
  t.regex(early.errors![0]!.message, /is RESERVED and cannot be completed/);
  const bad = await call(t, t.context.member, UpdateAttachmentDocument, { input: { id, connector: { initiator: 'iqn.bad', host: 'h', ip: '999.1.1.1' } } });
  t.is(code(bad), 'BAD_USER_INPUT');
  t.regex(bad.errors![0]!.message, /not a valid IQN/);
  t.regex(bad.errors![0]!.message, /not an IPv4 or IPv6 address/);
  const u = await call(t, t.context.member, UpdateAttachmentDocument, { input: { id, connector: { initiator: INI, host: 'h' } } });
  t.is(u.data?.updateAttachment.attachment.status, 'ATTACHING', JSON.stringify(u.errors));
  const twice = await call(t, t.context.member, UpdateAttachmentDocument, { input: { id, connector: { initiator: INI, host: 'h' } } });
  t.is(code(twice), 'INVALID_STATE');
  const ready = await waitAttachment(t, id, (a) => a.connectionInfo !== null, 'to have its connectionInfo');
  t.is(iscsiIo(ready.connectionInfo!.data, 'read 0 4k').status, 0);
  await detach(t, id);
  const gone = await call(t, t.context.member, CompleteAttachmentDocument, { id });
  t.is(code(gone), 'INVALID_STATE');
  t.regex(gone.errors![0]!.message, /is DETACHED/);
  // Deleting a DETACHED attachment again is done already (idempotent), with the operation that detached it.
  const again = await call(t, t.context.member, DeleteAttachmentDocument, { id });
  t.falsy(again.errors, JSON.stringify(again.errors));
  t.true(again.data!.deleteAttachment.alreadyDeleted);
  t.is(again.data!.deleteAttachment.operation?.kind, 'delete_attachment');
  t.is(again.data!.deleteAttachment.operation?.status, 'SUCCEEDED');
  const missing = await call(t, t.context.member, CreateAttachmentDocument, { input: { volumeId: '00000000-0000-0000-0000-000000000000', instanceId: 'x' } });
  t.is(code(missing), 'NOT_FOUND');
  const noIni = await call(t, t.context.member, CreateAttachmentDocument, { input: { volumeId, instanceId: 'x', targetKind: 'ISCSI', connector: { host: 'h' } } });
  t.is(code(noIni), 'BAD_USER_INPUT');
  t.regex(noIni.errors![0]!.message, /initiator is required for an iSCSI attachment: .*; or ask for targetKind NBD, which needs none/);
  // Without targetKind, a connector without an initiator gets NBD (the pool offers it) instead of an error.
  const nbd = await call(t, t.context.member, CreateAttachmentDocument, { input: { volumeId, instanceId: 'x', connector: { host: 'h' } } });
  t.is(nbd.data?.createAttachment.attachment.targetKind, 'NBD', JSON.stringify(nbd.errors));
  const nbdReady = await waitAttachment(t, nbd.data!.createAttachment.attachment.id, (a) => a.connectionInfo !== null, 'to have its connectionInfo');
  t.is(nbdReady.connectionInfo!.driverVolumeType, 'nbd');
  await detach(t, nbdReady.id);
});

test.serial('a reader sees the attachment without the CHAP secret; another project sees nothing and cannot touch it', async (t) => {
  const volumeId = await availableVolume(t, 'secret-data');
  const a = await attach(t, volumeId);
  const asReader = await call(t, t.context.reader, AttachmentDocument, { id: a.id });
  t.is(asReader.data?.attachment?.id, a.id);
  t.is(asReader.data?.attachment?.connectionInfo?.data.authPassword, null);
  t.truthy(asReader.data?.attachment?.connectionInfo?.data.authUsername);
  const readerDelete = await call(t, t.context.reader, DeleteAttachmentDocument, { id: a.id });
  t.is(code(readerDelete), 'FORBIDDEN');
  const asOther = await call(t, t.context.other, AttachmentDocument, { id: a.id });
  t.is(asOther.data?.attachment, null);
  const otherDelete = await call(t, t.context.other, DeleteAttachmentDocument, { id: a.id });
  t.is(code(otherDelete), 'NOT_FOUND');
  const asAdmin = await call(t, t.context.cluster.adminToken, AttachmentDocument, { id: a.id });
  t.is(asAdmin.data?.attachment?.connectionInfo?.data.authPassword, a.connectionInfo!.data.authPassword);
  t.false(t.context.cluster.logs().includes(a.connectionInfo!.data.authPassword!), 'the secret is in no log');
  await detach(t, a.id);
});

test.after.always('no process is left behind', noProcessesLeft);
