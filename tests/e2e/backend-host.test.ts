/**
 * A pool served by several agents (Cinder's active-active `cluster@backend`), end to end: two
 * agents, `store-a` and `store-b`, each with its own data directory and export ports, serve one
 * raw file pool in one shared directory (as NFS would be) under the backend host `shared1`.
 * Volumes are placed on `shared1@shared` and created by whichever agent takes the command;
 * an attachment goes to an UP member, so with one agent stopped the other exports it.
 */
import anyTest, { type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import {
  CreateAttachmentDocument,
  CreateVolumeDocument,
  DeleteAttachmentDocument,
  PoolsDocument,
  ServicesDocument,
  type AttachmentFieldsFragment,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { pollUntil, waitForAttachment, waitForVolume } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  member: string;
}
const test = anyTest as TestFn<Ctx>;

const SHARED = { name: 'shared', imageFormat: 'raw' as const, capacityGiB: 20, defaultTarget: 'nbd' as const, backendHost: 'shared1' };

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [
      { host: 'store-a', pools: [SHARED] },
      { host: 'store-b', pools: [SHARED] },
    ],
  });
  t.context = { cluster, member: await cluster.token('alpha', 'member') };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

const member = (t: { context: Ctx }) => t.context.cluster.client(t.context.member);
const admin = (t: { context: Ctx }) => t.context.cluster.client();

async function newVolume(t: { context: Ctx }, name: string): Promise<{ id: string; host: string | null; pool: string | null }> {
  const id = (await member(t).request(CreateVolumeDocument, { input: { name, sizeGiB: 1 } })).createVolume.volume.id;
  // Where a volume is (host, pool) only an admin sees.
  const v = await waitForVolume(admin(t), id, 'AVAILABLE', { timeoutMs: 30_000 });
  return { id, host: v.host ?? null, pool: v.pool ?? null };
}

async function attach(t: { context: Ctx }, volumeId: string): Promise<AttachmentFieldsFragment> {
  const r = await member(t).request(CreateAttachmentDocument, { input: { volumeId, instanceId: 'vm-1', connector: { host: 'consumer-1' } } });
  const id = r.createAttachment.attachment.id;
  const ready = (a: AttachmentFieldsFragment | null) => a !== null && (a.connectionInfo !== null || a.status === 'ERROR_ATTACHING');
  return (await waitForAttachment(member(t), id, ready, { what: `attachment ${id} to have its connectionInfo (or fail)`, timeoutMs: 30_000 }))!;
}

async function detach(t: { context: Ctx }, id: string): Promise<void> {
  await member(t).request(DeleteAttachmentDocument, { id });
  await waitForAttachment(member(t), id, 'DETACHED', { timeoutMs: 30_000 });
}

/** Waits until the services query shows `host`'s agent in `state`. */
async function agentState(t: { context: Ctx }, host: string, state: 'UP' | 'DOWN'): Promise<void> {
  await pollUntil(
    async () => ((await admin(t).request(ServicesDocument)).services.some((s) => s.role === 'agent' && s.host === host && s.state === state) ? true : undefined),
    30_000,
    () => `agent ${host} to be ${state}`,
  );
}

function qemuIo(uri: string, ...commands: string[]): { status: number | null; out: string } {
  const r = spawnSync('qemu-io', ['-f', 'raw', ...commands.flatMap((c) => ['-c', c]), uri], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test.serial('the shared pool is one pool of the backend host, and each agent says it serves that backend', async (t) => {
  const pools = (await admin(t).request(PoolsDocument)).pools;
  t.deepEqual(
    pools.map((p) => [p.id, p.state]),
    [['shared1@shared', 'UP']],
  );
  t.is(pools[0]!.totalCapacityGiB, 20);
  const services = (await admin(t).request(ServicesDocument)).services.filter((s) => s.role === 'agent').map((s) => s.host).sort();
  t.deepEqual(services, ['shared1', 'store-a', 'store-b']);
});

test.serial('volumes are placed on the backend host and created by whichever agent takes the command', async (t) => {
  const made = await Promise.all([1, 2, 3, 4].map((i) => newVolume(t, `both-${i}`)));
  for (const v of made) t.deepEqual([v.host, v.pool], ['shared1', 'shared']);
});

test.serial('with either agent stopped, volumes are still created, and a new attachment is exported by the other agent, on the same bytes', async (t) => {
  const { cluster } = t.context;
  await cluster.stopAgent('store-a');
  await agentState(t, 'store-a', 'DOWN');
  try {
    const v = await newVolume(t, 'while-a-down');
    t.is(v.host, 'shared1');
    const a = await attach(t, v.id);
    t.is(a.status, 'ATTACHING', 'store-a is down: store-b must have exported it');
    t.is(a.connectionInfo?.driverVolumeType, 'nbd');
    const written = qemuIo(a.connectionInfo!.data.uri!, 'write -P 0x5b 0 1M', 'read -P 0x5b 0 1M');
    t.is(written.status, 0, written.out);
    await detach(t, a.id);

    // And the other way round: store-a back, store-b stopped; the bytes are on the shared storage.
    cluster.startAgent('store-a');
    await agentState(t, 'store-a', 'UP');
    await cluster.stopAgent('store-b');
    await agentState(t, 'store-b', 'DOWN');
    t.is((await newVolume(t, 'while-b-down')).host, 'shared1');
    const again = await attach(t, v.id);
    t.is(again.status, 'ATTACHING', 'store-b is down: store-a must have exported it');
    const read = qemuIo(again.connectionInfo!.data.uri!, 'read -P 0x5b 0 1M');
    t.is(read.status, 0, read.out);
    await detach(t, again.id);
  } finally {
    cluster.startAgent('store-b');
    await agentState(t, 'store-b', 'UP').catch(() => undefined);
  }
});

test.after.always('no process is left behind', noProcessesLeft);
