/**
 * Attachments when the agent is away (issue 4 + "no stuck states"), on PostgreSQL: an
 * export nobody answers ends ERROR_ATTACHING with a message when its deadline passes, a
 * removal likewise ERROR_DETACHING; an admin's forceDetach (audited) finishes the job once
 * the agent is back. Also: extending an attached volume makes the initiator see the new size.
 */
import anyTest, { type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import {
  AttachmentDocument,
  CompleteAttachmentDocument,
  CreateAttachmentDocument,
  CreateVolumeDocument,
  DeleteAttachmentDocument,
  DeleteVolumeDocument,
  ExtendVolumeDocument,
  ForceDetachDocument,
  PoolsDocument,
  VolumeDocument,
  type FlintDocument,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { waitForAttachment, waitForVolume, waitUntil } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  member: string;
}
const test = anyTest as TestFn<Ctx>;
const INI = 'iqn.2026-11.test.flint:recovery';
test.before(async (t) => {
  const cluster = await startCluster({
    database: 'postgresql',
    agents: [{ host: 'store-r', pools: [{ name: 'raw', imageFormat: 'raw', capacityGiB: 50 }] }],
    env: { FLINT_OPERATION_TIMEOUT_SECONDS: '8' },
  });
  t.context = { cluster, member: await cluster.token('gamma', 'member') };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

const call = <D, V>(t: { context: Ctx }, token: string, doc: FlintDocument<D, V>, variables?: V) => t.context.cluster.client(token).raw(doc, variables);

async function availableVolume(t: { context: Ctx }, name: string): Promise<string> {
  const flint = t.context.cluster.client(t.context.member);
  const id = (await flint.request(CreateVolumeDocument, { input: { name, sizeGiB: 1 } })).createVolume.volume.id;
  await waitForVolume(flint, id, 'AVAILABLE', { timeoutMs: 40_000 });
  return id;
}

/** Until every pool is in `state` (the agent's pool goes DOWN when it stops, UP when it heartbeats again). */
async function waitPools(t: { context: Ctx }, state: 'UP' | 'DOWN'): Promise<void> {
  await waitUntil(`every pool to be ${state}`, () => t.context.cluster.client().request(PoolsDocument), (r) => r.pools.length > 0 && r.pools.every((p) => p.state === state), 30_000);
}

const get = async (t: { context: Ctx }, id: string, token = t.context.member) => (await call(t, token, AttachmentDocument, { id })).data!.attachment!;
const volumeStatus = async (t: { context: Ctx }, id: string) => (await call(t, t.context.member, VolumeDocument, { id })).data!.volume!.status;

test.serial('an export nobody answers ends ERROR_ATTACHING with a message; a removal likewise ERROR_DETACHING; forceDetach finishes once the agent is back', async (t) => {
  const volumeId = await availableVolume(t, 'lonely');
  await t.context.cluster.stopAgent('store-r');
  // DOWN first, so waitPoolUp below sees the restarted agent, not the old heartbeat.
  await waitPools(t, 'DOWN');
  const r = await call(t, t.context.member, CreateAttachmentDocument, { input: { volumeId, instanceId: 'vm-9', connector: { initiator: INI, host: 'c9' } } });
  const id = r.data!.createAttachment.attachment.id;
  await waitForAttachment(t.context.cluster.client(t.context.member), id, 'ERROR_ATTACHING', { timeoutMs: 40_000 });
  const failed = await get(t, id);
  t.is(failed.connectionInfo, null);
  t.true(failed.messages.some((m) => m.event === 'create_attachment' && /No agent or scheduler answered/.test(m.message)), JSON.stringify(failed.messages));
  t.is(await volumeStatus(t, volumeId), 'RESERVED');

  const del = await call(t, t.context.member, DeleteAttachmentDocument, { id });
  t.is(del.data?.deleteAttachment.attachment.status, 'DETACHING', JSON.stringify(del.errors));
  await waitForAttachment(t.context.cluster.client(t.context.member), id, 'ERROR_DETACHING', { timeoutMs: 40_000 });

  const notAdmin = await call(t, t.context.member, ForceDetachDocument, { input: { id, reason: 'cleanup' } });
  t.is(notAdmin.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  t.context.cluster.startAgent('store-r');
  await waitPools(t, 'UP');
  const forced = await call(t, t.context.cluster.adminToken, ForceDetachDocument, { input: { id, reason: 'ticket 42: agent was down' } });
  t.is(forced.data?.forceDetach.attachment.status, 'DETACHING', JSON.stringify(forced.errors));
  t.is(forced.data?.forceDetach.audit.action, 'force_detach');
  t.is(forced.data?.forceDetach.audit.fromStatus, 'ERROR_DETACHING');
  await waitForAttachment(t.context.cluster.client(t.context.member), id, 'DETACHED', { timeoutMs: 40_000 });
  t.is(await volumeStatus(t, volumeId), 'AVAILABLE');
  const del2 = await call(t, t.context.member, DeleteVolumeDocument, { input: { id: volumeId } });
  t.falsy(del2.errors, JSON.stringify(del2.errors));
});

test.serial('extending an attached volume keeps it IN_USE and the initiator sees the new size', async (t) => {
  const volumeId = await availableVolume(t, 'growing');
  const r = await call(t, t.context.member, CreateAttachmentDocument, { input: { volumeId, instanceId: 'vm-10', connector: { initiator: INI, host: 'c10' } } });
  const id = r.data!.createAttachment.attachment.id;
  const a = (await waitForAttachment(t.context.cluster.client(t.context.member), id, (x) => x?.connectionInfo != null, { what: `attachment ${id} to have its connectionInfo`, timeoutMs: 40_000 }))!;
  await call(t, t.context.member, CompleteAttachmentDocument, { id });
  t.is(await volumeStatus(t, volumeId), 'IN_USE');
  const d = a.connectionInfo!.data;
  const capacity = (): string => {
    const out = spawnSync('iscsi-readcapacity16', ['-i', INI, `iscsi://${encodeURIComponent(d.authUsername!)}%${encodeURIComponent(d.authPassword!)}@${d.targetPortal}/${d.targetIqn}/${d.targetLun}`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return `${out.stdout}${out.stderr}`;
  };
  t.regex(capacity(), /Total size:1073741824\b/);
  const ext = await call(t, t.context.member, ExtendVolumeDocument, { input: { id: volumeId, newSizeGiB: 2 } });
  t.falsy(ext.errors, JSON.stringify(ext.errors));
  await waitForVolume(t.context.cluster.client(t.context.member), volumeId, (v) => v?.status === 'IN_USE' && v.sizeGiB === 2, { what: `volume ${volumeId} to be IN_USE at 2 GiB`, timeoutMs: 40_000 });
  let seen = '';
  for (let i = 0; i < 40 && !/Total size:2147483648\b/.test(seen); i++) {
    seen = capacity();
    if (!/Total size:2147483648\b/.test(seen)) await new Promise((res) => setTimeout(res, 500));
  }
  t.regex(seen, /Total size:2147483648\b/);
  await call(t, t.context.member, DeleteAttachmentDocument, { id });
  await waitForAttachment(t.context.cluster.client(t.context.member), id, 'DETACHED', { timeoutMs: 40_000 });
});

test.after.always('no process is left behind', noProcessesLeft);
