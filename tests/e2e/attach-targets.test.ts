/**
 * Which target an attachment gets, and NBD over TLS, end to end (issue 4): a real cluster
 * with two agents — `store-a` whose pool defaults to NBD, `store-t` whose pool offers NBD
 * only and serves it over TLS (FLINT_NBD_TLS_DIR, certificates made by openssl for the
 * test) — driven over GraphQL, the exports read with nbdinfo and qemu-io.
 */
import anyTest, { type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateAttachmentDocument,
  CreateVolumeDocument,
  DeleteAttachmentDocument,
  PoolTargetsDocument,
  VolumeAttachmentsDocument,
  type AttachmentFieldsFragment,
  type CreateAttachmentInput,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { makeTlsFixture, type TlsFixture } from '../helpers/nbd-tls.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { waitForAttachment, waitForVolume } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  tmp: TempDir;
  tls: TlsFixture;
  member: string;
}
const test = anyTest as TestFn<Ctx>;

type Att = AttachmentFieldsFragment;

const INI = 'iqn.2026-11.test.flint:targets-1';
test.before(async (t) => {
  const tmp = await tempDir('flint-e2e-tls-');
  const tls = await makeTlsFixture(tmp.path);
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [
      { host: 'store-a', zone: 'za', pools: [{ name: 'nbd-default', imageFormat: 'raw', capacityGiB: 20, defaultTarget: 'nbd' }] },
      { host: 'store-t', zone: 'zt', pools: [{ name: 'nbd-tls', imageFormat: 'raw', capacityGiB: 20, targets: ['nbd'] }], env: { FLINT_NBD_TLS_DIR: tls.serverDir } },
    ],
  });
  t.context = { cluster, tmp, tls, member: await cluster.token('alpha', 'member') };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
  await t.context.tmp?.cleanup();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

const member = (t: { context: Ctx }) => t.context.cluster.client(t.context.member);

async function volumeIn(t: { context: Ctx }, zone: string, name: string): Promise<string> {
  const id = (await member(t).request(CreateVolumeDocument, { input: { name, sizeGiB: 1, availabilityZone: zone } })).createVolume.volume.id;
  await waitForVolume(member(t), id, 'AVAILABLE', { timeoutMs: 30_000 });
  return id;
}

async function attach(t: { context: Ctx }, volumeId: string, extra: Partial<CreateAttachmentInput> = {}): Promise<Att> {
  const r = await member(t).request(CreateAttachmentDocument, { input: { volumeId, instanceId: 'vm-t', connector: { initiator: INI, host: 'consumer-t' }, ...extra } });
  const id = r.createAttachment.attachment.id;
  const ready = (a: Att | null) => a !== null && (a.connectionInfo !== null || a.status === 'ERROR_ATTACHING');
  return (await waitForAttachment(member(t), id, ready, { what: `attachment ${id} to have its connectionInfo (or fail)`, timeoutMs: 30_000 }))!;
}

async function detach(t: { context: Ctx }, id: string): Promise<void> {
  await member(t).request(DeleteAttachmentDocument, { id });
  await waitForAttachment(member(t), id, 'DETACHED', { timeoutMs: 30_000 });
}

function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test.serial('a pool whose defaultTarget is nbd attaches over NBD without targetKind (even with an initiator), and nbdinfo reads it', async (t) => {
  const volumeId = await volumeIn(t, 'za', 'default-nbd');
  const a = await attach(t, volumeId);
  t.is(a.status, 'ATTACHING');
  t.is(a.targetKind, 'NBD');
  const c = a.connectionInfo!;
  t.is(c.driverVolumeType, 'nbd');
  t.is(c.data.tls, false);
  t.is(c.data.tlsCaCertificate, null);
  t.regex(c.data.uri!, /^nbd:\/\/127\.0\.0\.1:\d+\//);
  const info = run('nbdinfo', ['--size', c.data.uri!]);
  t.is(info.status, 0, info.out);
  t.is(info.out.trim(), String(1024 ** 3));
  const io = run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x4e 0 64k', '-c', 'read -P 0x4e 0 64k', c.data.uri!]);
  t.is(io.status, 0, io.out);
  await detach(t, a.id);

  // The pool offers iSCSI too: a request for it is served over iSCSI.
  const i = await attach(t, volumeId, { targetKind: 'ISCSI' });
  t.is(i.targetKind, 'ISCSI');
  t.is(i.connectionInfo?.driverVolumeType, 'iscsi');
  t.truthy(i.connectionInfo?.data.targetIqn);
  t.is(i.connectionInfo?.data.tls, null);
  await detach(t, i.id);
});

test.serial('asking for ISCSI on an nbd-only pool is BAD_USER_INPUT naming the pool and what it offers; nothing is reserved', async (t) => {
  const volumeId = await volumeIn(t, 'zt', 'nbd-only');
  const r = await member(t).raw(CreateAttachmentDocument, { input: { volumeId, instanceId: 'vm-x', targetKind: 'ISCSI', connector: { initiator: INI, host: 'consumer-x' } } });
  t.is(r.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  t.is(
    r.errors?.[0]?.message,
    'Pool nbd-tls on host store-t does not offer ISCSI exports; it offers NBD. Ask for targetKind NBD, or leave targetKind out to get the pool\'s default (NBD).',
  );
  const v = await member(t).raw(VolumeAttachmentsDocument, { id: volumeId });
  t.is(v.data?.volume?.status, 'AVAILABLE');
  t.deepEqual(v.data?.volume?.attachments, []);
  // What each pool offers is in the pools query, from the agents' heartbeats.
  const pools = await t.context.cluster.client().raw(PoolTargetsDocument);
  t.deepEqual(pools.data?.pools, [
    { id: 'store-a@nbd-default', targets: ['ISCSI', 'NBD'], defaultTarget: 'NBD' },
    { id: 'store-t@nbd-tls', targets: ['NBD'], defaultTarget: 'NBD' },
  ]);
});

test.serial('with FLINT_NBD_TLS_DIR the agent serves NBD over TLS only, and connectionInfo says so with the CA a client needs', async (t) => {
  const volumeId = await volumeIn(t, 'zt', 'tls-data');
  const a = await attach(t, volumeId, { connector: { host: 'consumer-tls' } });
  t.is(a.targetKind, 'NBD');
  const d = a.connectionInfo!.data;
  t.is(d.tls, true);
  t.is(d.tlsClientCertificateRequired, false);
  t.is(d.tlsCaCertificate, t.context.tls.caPem);
  t.is(d.uri, `nbds://127.0.0.1:${d.port}/${d.exportName}`);

  // All a client needs is the CA from the connection info.
  const dir = join(t.context.tmp.path, 'consumer-tls');
  await mkdir(dir);
  await writeFile(join(dir, 'ca-cert.pem'), d.tlsCaCertificate!);
  const info = run('nbdinfo', ['--size', `${d.uri}?tls-certificates=${dir}`]);
  t.is(info.status, 0, info.out);
  t.is(info.out.trim(), String(1024 ** 3));
  const io = run('qemu-io', [
    '--object', `tls-creds-x509,id=c0,dir=${dir},endpoint=client`,
    '--image-opts', `driver=raw,file.driver=nbd,file.host=${d.host},file.port=${d.port},file.export=${d.exportName},file.tls-creds=c0`,
    '-c', 'write -P 0x7a 2M 64k', '-c', 'read -P 0x7a 2M 64k',
  ]);
  t.is(io.status, 0, io.out);
  const plain = run('nbdinfo', ['--size', `nbd://${d.host}:${d.port}/${d.exportName}`]);
  t.not(plain.status, 0, 'a plain client is refused');
  t.regex(plain.out, /server requires TLS/i);
  const stranger = run('nbdinfo', ['--size', `${d.uri}?tls-certificates=${t.context.tls.strangerDir}`]);
  t.not(stranger.status, 0, 'a client trusting another CA is refused');
  await detach(t, a.id);
});

test.after.always('no process is left behind', noProcessesLeft);
