/**
 * Recovery, no stuck states (issue 3): an operation nobody answers fails at its deadline
 * and a late outcome is recorded sensibly; an agent that starts reports the volumes whose
 * image is gone from its disk and leaves images it does not know alone.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { CreateSnapshotDocument, CreateVolumeDocument, DeleteVolumeDocument, OperationDocument, PoolsDocument, SnapshotDocument, VolumeDocument } from '../../src/client/index.js';
import { connectBus, natsAuthOptions, STREAM_CMD, STREAM_EVT, type Bus } from '../../src/bus/index.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { waitForSnapshot, waitForVolume, type VolumeState } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

const test = anyTest as TestFn<{ clusters: Cluster[] }>;

test.before((t) => {
  t.context = { clusters: [] };
});

test.after.always(async (t) => {
  await Promise.all(t.context.clusters.map((c) => c.stop()));
});

async function cluster(t: { context: { clusters: Cluster[] } }, env: NodeJS.ProcessEnv = {}): Promise<Cluster> {
  const c = await startCluster({ database: 'sqlite', agents: [{ host: 'solo', pools: [{ name: 'p', imageFormat: 'qcow2' }] }], env });
  t.context.clusters.push(c);
  return c;
}

type VolumeRow = VolumeState;

async function volume(c: Cluster, id: string): Promise<VolumeRow | undefined> {
  return (await c.client().request(VolumeDocument, { id }).catch(() => undefined))?.volume ?? undefined;
}

async function create(c: Cluster, name: string): Promise<{ id: string; operationId: string }> {
  const p = (await c.client().request(CreateVolumeDocument, { input: { name, sizeGiB: 1 } })).createVolume;
  return { id: p.volume.id, operationId: p.operation.id };
}

/** A cluster with the given operation timeout, a bus connection with the gateway's credentials (to act on the streams), and one AVAILABLE volume. */
async function availableWithBus(t: ExecutionContext<{ clusters: Cluster[] }>, timeoutSeconds: string, name: string): Promise<{ c: Cluster; bus: Bus; id: string }> {
  const c = await cluster(t, { FLINT_OPERATION_TIMEOUT_SECONDS: timeoutSeconds });
  t.teardown(() => {
    if (!t.passed) t.log(c.logs());
  });
  const bus = await connectBus(c.nats.url, 'test-as-gateway', { role: 'gateway', auth: natsAuthOptions({ nkeySeedFile: c.natsSeed('gateway') }) });
  t.teardown(() => bus.close());
  const { id } = await create(c, name);
  await waitForVolume(c.client(), id, 'AVAILABLE', { timeoutMs: 20_000 });
  return { c, bus, id };
}

test.serial('a create nobody answers fails at its deadline; the late create leaves it ERROR, says the image exists, and it deletes normally', async (t) => {
  const c = await cluster(t, { FLINT_OPERATION_TIMEOUT_SECONDS: '3' });
  t.teardown(() => {
    if (!t.passed) t.log(c.logs());
  });
  await c.stopAgent('solo');
  const { id, operationId } = await create(c, 'nobody-home');

  const failed = await waitForVolume(c.client(), id, 'ERROR', { timeoutMs: 20_000 });
  const operation = (await c.client().request(OperationDocument, { id: operationId })).operation!;
  t.is(operation.status, 'FAILED');
  t.is(operation.error?.code, 'SERVICE_UNAVAILABLE');
  t.true(operation.error?.retryable, 'a missed deadline is retryable: the create can be done again once the agent is back');
  t.regex(operation.error!.message, /within 3 s/);
  t.true(failed!.messages.some((m) => m.event === 'create_volume' && /flint service list/.test(m.message)), JSON.stringify(failed!.messages));
  t.is(failed!.host, 'solo', 'the scheduler placed it before the deadline');

  // The agent comes back and does the queued create: too late to make the volume AVAILABLE.
  c.startAgent('solo');
  const late = await waitForVolume(c.client(), id, (v) => !!v?.messages.some((m) => /image now exists/.test(m.message)), { what: 'a message about the late image', timeoutMs: 30_000 });
  t.is(late!.status, 'ERROR');
  t.true(existsSync(join(c.poolDir('solo', 'p'), `volume-${id}.qcow2`)));
  await new Promise((r) => setTimeout(r, 1_000));
  t.is((await volume(c, id))!.status, 'ERROR', 'still ERROR a moment later');

  const del = await c.client().raw(DeleteVolumeDocument, { input: { id } });
  t.falsy(del.errors, JSON.stringify(del.errors));
  await waitFor(async () => (await volume(c, id)) === undefined, 30_000, () => 'the volume was not deleted');
  t.false(existsSync(join(c.poolDir('solo', 'p'), `volume-${id}.qcow2`)), 'the image is gone');
});

// The chaos suite saw a volume stay ERROR_DELETING with its image gone after a NATS node died:
// the agent's outcome came after the deadline. The late delete must finish the volume and its snapshots.
test.serial('a cascade delete nobody answers fails at its deadline; the late delete makes the volume and its snapshot DELETED', async (t) => {
  const c = await cluster(t, { FLINT_OPERATION_TIMEOUT_SECONDS: '3' });
  t.teardown(() => {
    if (!t.passed) t.log(c.logs());
  });
  const { id } = await create(c, 'late-delete');
  await waitForVolume(c.client(), id, 'AVAILABLE', { timeoutMs: 20_000 });
  const snap = (await c.client().request(CreateSnapshotDocument, { input: { volumeId: id, name: 's' } })).createSnapshot.snapshot.id;
  await waitForSnapshot(c.client(), snap, 'AVAILABLE', { timeoutMs: 20_000 });
  await c.stopAgent('solo');
  const del = await c.client().raw(DeleteVolumeDocument, { input: { id, cascade: true } });
  t.falsy(del.errors, JSON.stringify(del.errors));
  await waitForVolume(c.client(), id, 'ERROR_DELETING', { timeoutMs: 20_000 });
  t.is((await c.client().request(SnapshotDocument, { id: snap })).snapshot?.status, 'ERROR_DELETING');

  c.startAgent('solo');
  await waitFor(async () => (await volume(c, id)) === undefined, 30_000, () => 'the late delete did not make the volume DELETED');
  t.false(existsSync(join(c.poolDir('solo', 'p'), `volume-${id}.qcow2`)), 'the image is gone');
  t.is((await c.client().request(SnapshotDocument, { id: snap })).snapshot ?? null, null, 'the snapshot went with it');
  const pools = (await c.client().request(PoolsDocument)).pools;
  t.is(pools.find((p) => p.id === 'solo@p')?.allocatedCapacityGiB, 0, 'its capacity is free');
});

// The chaos suite saw this after a NATS node died: the agent deleted the image, could not publish
// the outcome, and JetStream then lost the command, so no redelivery ever replayed it and the
// volume waited for its deadline. The agent now publishes such an outcome again by itself.
test.serial('an outcome the bus refused goes out once the bus takes it again, even when JetStream lost its command', async (t) => {
  const { c, bus, id } = await availableWithBus(t, '600', 'lost-command');
  const evt = (await bus.jsm.streams.info(STREAM_EVT)).config;
  const cmd = (await bus.jsm.streams.info(STREAM_CMD)).config;
  // Every event publish now fails, as when the stream had no leader.
  await bus.jsm.streams.update(STREAM_EVT, { ...evt, max_msg_size: 1 });
  const del = await c.client().raw(DeleteVolumeDocument, { input: { id } });
  t.falsy(del.errors, JSON.stringify(del.errors));
  const operationId = del.data!.deleteVolume.operation!.id;
  const agentLog = () => readFile(c.logFiles().find((f) => f.endsWith('agent-solo.log'))!, 'utf8');
  await waitFor(async () => (await agentLog()).includes('command failed; it will be redelivered'), 20_000, () => 'the agent did not fail to publish');
  t.false(existsSync(join(c.poolDir('solo', 'p'), `volume-${id}.qcow2`)), 'the agent did delete the image');
  // JetStream loses the command: it ages out of the stream.
  await bus.jsm.streams.update(STREAM_CMD, { ...cmd, max_age: 1_000_000_000, duplicate_window: 1_000_000_000 });
  await waitFor(async () => (await bus.jsm.streams.info(STREAM_CMD)).state.messages === 0, 10_000, () => 'the command stayed in its stream');
  await bus.jsm.streams.update(STREAM_CMD, cmd);
  await bus.jsm.streams.update(STREAM_EVT, evt);

  await waitFor(async () => (await volume(c, id)) === undefined, 30_000, () => 'the volume did not become DELETED');
  t.is((await c.client().request(OperationDocument, { id: operationId })).operation?.status, 'SUCCEEDED');
});

// The chaos suite saw this after a NATS node died: JetStream acknowledged a detach command and
// its consumer passed over it, so the agent never saw it and the operation missed its deadline.
// The gateway now sends a command with no answer again (src/gateway/sweepers/resend.ts).
test.serial('a command JetStream lost before its agent took it is sent again, and the operation ends in time', async (t) => {
  const { c, bus, id } = await availableWithBus(t, '40', 'lost-before-taken');
  await c.stopAgent('solo');
  const del = await c.client().raw(DeleteVolumeDocument, { input: { id } });
  t.falsy(del.errors, JSON.stringify(del.errors));
  const operationId = del.data!.deleteVolume.operation!.id;
  const cmd = (await bus.jsm.streams.info(STREAM_CMD)).config;
  await waitFor(async () => (await bus.jsm.streams.info(STREAM_CMD)).state.messages > 0, 10_000, () => 'the delete command never reached its stream');
  // JetStream loses it: it ages out of the stream before the agent is back.
  await bus.jsm.streams.update(STREAM_CMD, { ...cmd, max_age: 1_000_000_000, duplicate_window: 1_000_000_000 });
  await waitFor(async () => (await bus.jsm.streams.info(STREAM_CMD)).state.messages === 0, 10_000, () => 'the command stayed in its stream');
  await bus.jsm.streams.update(STREAM_CMD, cmd);
  c.startAgent('solo');

  await waitFor(async () => (await volume(c, id)) === undefined, 35_000, () => 'the volume did not become DELETED before its deadline');
  t.is((await c.client().request(OperationDocument, { id: operationId })).operation?.status, 'SUCCEEDED');
  t.false(existsSync(join(c.poolDir('solo', 'p'), `volume-${id}.qcow2`)));
});

test.serial('an agent that starts reports a volume whose image is gone and leaves unknown images alone', async (t) => {
  const c = await cluster(t);
  t.teardown(() => {
    if (!t.passed) t.log(c.logs());
  });
  const kept = await create(c, 'kept');
  const lost = await create(c, 'lost');
  await waitForVolume(c.client(), kept.id, 'AVAILABLE', { timeoutMs: 30_000 });
  await waitForVolume(c.client(), lost.id, 'AVAILABLE', { timeoutMs: 30_000 });

  await c.stopAgent('solo');
  const dir = c.poolDir('solo', 'p');
  await rm(join(dir, `volume-${lost.id}.qcow2`));
  const stray = join(dir, `volume-${randomUUID()}.qcow2`);
  await writeFile(stray, 'not an image Flint knows');
  c.startAgent('solo');

  const v = await waitForVolume(c.client(), lost.id, 'ERROR', { timeoutMs: 30_000 });
  t.true(
    v!.messages.some((m) => m.message === 'The image of this volume is missing on host solo (pool p); restore it or delete the volume.'),
    JSON.stringify(v!.messages),
  );
  t.is((await volume(c, kept.id))!.status, 'AVAILABLE');
  t.true(existsSync(stray), 'the unknown image is left in place');
  await waitFor(async () => c.logs().includes('orphan image'), 10_000, () => 'no orphan warning in the agent log');
  t.true(existsSync(stray));

  // An ERROR volume whose image is gone still deletes.
  const del = await c.client().raw(DeleteVolumeDocument, { input: { id: lost.id } });
  t.falsy(del.errors, JSON.stringify(del.errors));
  await waitFor(async () => (await volume(c, lost.id)) === undefined, 30_000, () => 'the volume was not deleted');
});

test.after.always('no process is left behind', noProcessesLeft);
