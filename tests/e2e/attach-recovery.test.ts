/**
 * Attachments when the agent is away (issue 4 + "no stuck states"), on PostgreSQL: an
 * export nobody answers ends ERROR_ATTACHING with a message when its deadline passes, a
 * removal likewise ERROR_DETACHING; an admin's forceDetach (audited) finishes the job once
 * the agent is back. Also: extending an attached volume makes the initiator see the new size.
 */
import anyTest, { type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import type { Client } from 'graphql-ws';
import { gql, startCluster, type Cluster } from '../helpers/cluster.js';
import { collect, wsClient } from '../helpers/ws.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  ws: Client[];
  member: string;
}
const test = anyTest as TestFn<Ctx>;
type Result<T> = { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
interface Att {
  id: string;
  status: string;
  connectionInfo: { data: { targetIqn: string; targetPortal: string; targetLun: number; authUsername: string; authPassword: string } } | null;
  messages: Array<{ event: string; message: string }>;
}

const INI = 'iqn.2026-11.test.flint:recovery';
const ATT = 'id status connectionInfo { data { targetIqn targetPortal targetLun authUsername authPassword } } messages { event message }';
const CHANGED = `subscription($id: ID!) { attachmentChanged(id: $id) { id status connectionInfo { data { targetIqn targetPortal targetLun authUsername authPassword } } } }`;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'postgresql',
    agents: [{ host: 'store-r', pools: [{ name: 'raw', imageFormat: 'raw', capacityGiB: 50 }] }],
    env: { FLINT_OPERATION_TIMEOUT_SECONDS: '8' },
  });
  t.context = { cluster, ws: [], member: await cluster.token('gamma', 'member') };
});

test.after.always(async (t) => {
  for (const c of t.context.ws ?? []) await c.dispose();
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

const call = async <T>(t: { context: Ctx }, token: string, query: string, variables?: Record<string, unknown>): Promise<Result<T>> =>
  (await gql(t.context.cluster.url, token, query, variables)) as Result<T>;

async function waitFor<T>(t: { context: Ctx }, query: string, id: string, key: string, pred: (v: T) => boolean): Promise<T> {
  const c = wsClient(t.context.cluster.url, t.context.member);
  t.context.ws.push(c);
  const sub = collect(c, query, { id }, (d) => d[key] as T);
  try {
    return await sub.waitFor(pred, 40_000);
  } finally {
    sub.close();
  }
}

async function availableVolume(t: { context: Ctx }, name: string): Promise<string> {
  const r = await call<{ createVolume: { volume: { id: string } } }>(t, t.context.member, 'mutation($i: CreateVolumeInput!) { createVolume(input: $i) { volume { id } } }', {
    i: { name, sizeGiB: 1 },
  });
  const id = r.data!.createVolume.volume.id;
  await waitFor<{ status: string }>(t, 'subscription($id: ID!) { volumeChanged(id: $id) { status } }', id, 'volumeChanged', (v) => v.status === 'AVAILABLE');
  return id;
}

/** Until the agent's pool heartbeats again (it went DOWN while the agent was stopped). */
async function waitPoolUp(t: { context: Ctx }): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await call<{ pools: Array<{ state: string }> }>(t, t.context.cluster.adminToken, '{ pools { state } }');
    if (r.data?.pools.length && r.data.pools.every((p) => p.state === 'UP')) return;
    await new Promise((res) => setTimeout(res, 300));
  }
  throw new Error('the agent did not come back');
}

const get = async (t: { context: Ctx }, id: string, token = t.context.member) =>
  (await call<{ attachment: Att }>(t, token, `query($id: ID!) { attachment(id: $id) { ${ATT} } }`, { id })).data!.attachment;
const volumeStatus = async (t: { context: Ctx }, id: string) =>
  (await call<{ volume: { status: string } }>(t, t.context.member, 'query($id: ID!) { volume(id: $id) { status } }', { id })).data!.volume.status;

test.serial('an export nobody answers ends ERROR_ATTACHING with a message; a removal likewise ERROR_DETACHING; forceDetach finishes once the agent is back', async (t) => {
  const volumeId = await availableVolume(t, 'lonely');
  await t.context.cluster.stopAgent('store-r');
  // DOWN first, so waitPoolUp below sees the restarted agent, not the old heartbeat.
  for (let i = 0; i < 100; i++) {
    const r = await call<{ pools: Array<{ state: string }> }>(t, t.context.cluster.adminToken, '{ pools { state } }');
    if (r.data?.pools.every((p) => p.state === 'DOWN')) break;
    await new Promise((res) => setTimeout(res, 300));
  }
  const r = await call<{ createAttachment: { attachment: { id: string; status: string } } }>(
    t,
    t.context.member,
    'mutation($i: CreateAttachmentInput!) { createAttachment(input: $i) { attachment { id status } } }',
    { i: { volumeId, instanceId: 'vm-9', connector: { initiator: INI, host: 'c9' } } },
  );
  const id = r.data!.createAttachment.attachment.id;
  await waitFor<Att>(t, CHANGED, id, 'attachmentChanged', (a) => a.status === 'ERROR_ATTACHING');
  const failed = await get(t, id);
  t.is(failed.connectionInfo, null);
  t.true(failed.messages.some((m) => m.event === 'create_attachment' && /No agent or scheduler answered/.test(m.message)), JSON.stringify(failed.messages));
  t.is(await volumeStatus(t, volumeId), 'RESERVED');

  const del = await call<{ deleteAttachment: { attachment: { status: string } } }>(t, t.context.member, 'mutation($id: ID!) { deleteAttachment(input: { id: $id }) { attachment { status } } }', { id });
  t.is(del.data?.deleteAttachment.attachment.status, 'DETACHING', JSON.stringify(del.errors));
  await waitFor<Att>(t, CHANGED, id, 'attachmentChanged', (a) => a.status === 'ERROR_DETACHING');

  const notAdmin = await call(t, t.context.member, 'mutation($id: ID!) { forceDetach(input: { id: $id, reason: "cleanup" }) { attachment { status } } }', { id });
  t.is(notAdmin.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  t.context.cluster.startAgent('store-r');
  await waitPoolUp(t);
  const forced = await call<{ forceDetach: { attachment: { status: string }; audit: { action: string; fromStatus: string; reason: string } } }>(
    t,
    t.context.cluster.adminToken,
    'mutation($id: ID!) { forceDetach(input: { id: $id, reason: "ticket 42: agent was down" }) { attachment { status } audit { action fromStatus reason } } }',
    { id },
  );
  t.is(forced.data?.forceDetach.attachment.status, 'DETACHING', JSON.stringify(forced.errors));
  t.is(forced.data?.forceDetach.audit.action, 'force_detach');
  t.is(forced.data?.forceDetach.audit.fromStatus, 'ERROR_DETACHING');
  await waitFor<Att>(t, CHANGED, id, 'attachmentChanged', (a) => a.status === 'DETACHED');
  t.is(await volumeStatus(t, volumeId), 'AVAILABLE');
  const del2 = await call<{ deleteVolume: { volume: { status: string } } }>(t, t.context.member, 'mutation($id: ID!) { deleteVolume(input: { id: $id }) { volume { status } } }', { id: volumeId });
  t.falsy(del2.errors, JSON.stringify(del2.errors));
});

test.serial('extending an attached volume keeps it IN_USE and the initiator sees the new size', async (t) => {
  const volumeId = await availableVolume(t, 'growing');
  const r = await call<{ createAttachment: { attachment: { id: string } } }>(
    t,
    t.context.member,
    'mutation($i: CreateAttachmentInput!) { createAttachment(input: $i) { attachment { id } } }',
    { i: { volumeId, instanceId: 'vm-10', connector: { initiator: INI, host: 'c10' } } },
  );
  const id = r.data!.createAttachment.attachment.id;
  const a = await waitFor<Att>(t, CHANGED, id, 'attachmentChanged', (x) => x.connectionInfo !== null);
  await call(t, t.context.member, 'mutation($id: ID!) { completeAttachment(input: { id: $id }) { attachment { status } } }', { id });
  t.is(await volumeStatus(t, volumeId), 'IN_USE');
  const d = a.connectionInfo!.data;
  const capacity = (): string => {
    const out = spawnSync('iscsi-readcapacity16', ['-i', INI, `iscsi://${encodeURIComponent(d.authUsername)}%${encodeURIComponent(d.authPassword)}@${d.targetPortal}/${d.targetIqn}/${d.targetLun}`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return `${out.stdout}${out.stderr}`;
  };
  t.regex(capacity(), /Total size:1073741824\b/);
  const ext = await call(t, t.context.member, 'mutation($id: ID!) { extendVolume(input: { id: $id, newSizeGiB: 2 }) { volume { status } } }', { id: volumeId });
  t.falsy(ext.errors, JSON.stringify(ext.errors));
  await waitFor<{ status: string; sizeGiB: number }>(
    t,
    'subscription($id: ID!) { volumeChanged(id: $id) { status sizeGiB } }',
    volumeId,
    'volumeChanged',
    (v) => v.status === 'IN_USE' && v.sizeGiB === 2,
  );
  let seen = '';
  for (let i = 0; i < 40 && !/Total size:2147483648\b/.test(seen); i++) {
    seen = capacity();
    if (!/Total size:2147483648\b/.test(seen)) await new Promise((res) => setTimeout(res, 500));
  }
  t.regex(seen, /Total size:2147483648\b/);
  await call(t, t.context.member, 'mutation($id: ID!) { deleteAttachment(input: { id: $id }) { attachment { status } } }', { id });
  await waitFor<Att>(t, CHANGED, id, 'attachmentChanged', (x) => x.status === 'DETACHED');
});

test.after.always('no process is left behind', noProcessesLeft);
