/**
 * The agent end to end over a real nats-server (its own, on a free port) with a real
 * file pool: commands in on FLINT_CMD, outcomes out on FLINT_EVT, heartbeats in KV.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeliverPolicy } from '@nats-io/jetstream';
import {
  connectBus,
  decode,
  KIND,
  poolKey,
  poolStats,
  publish,
  scheduleCreate,
  serviceHeartbeat,
  serviceKey,
  snapshotOutcome,
  STREAM_CMD,
  STREAM_EVT,
  subjects,
  volumeOutcome,
  type AgentCreate,
  type AgentCreateSnapshot,
  type AgentDelete,
  type AgentDeleteSnapshot,
  type Bus,
  type SnapshotOutcomeEvent,
  type VolumeOutcomeEvent,
} from '../../src/bus/index.js';
import { createLogger, loadConfig, type FlintConfig } from '../../src/config/index.js';
import { startAgent, type RunningAgent } from '../../src/node-agent/index.js';
import { flintVersion } from '../../src/config/index.js';
import { withNats } from '../helpers/nats.js';
import { tempDir } from '../helpers/tmp.js';
import { agentPortsEnv } from '../helpers/ports.js';
import { noProcessesLeft } from '../helpers/processes.js';

const run = promisify(execFile);
const HOST = 'node-1.test';
const log = createLogger('agent-test', 'silent');

interface Harness {
  bus: Bus;
  config: FlintConfig;
  poolDir: string;
  agent: RunningAgent;
}

async function harness(t: ExecutionContext): Promise<Harness> {
  const nats = await withNats({ t });
  const dir = await tempDir('flint-agent-');
  t.teardown(dir.cleanup);
  const config = loadConfig({
    FLINT_DATA_DIR: dir.path,
    FLINT_NATS_URL: nats.url,
    FLINT_AGENT_HOST: HOST,
    ...(await agentPortsEnv()),
    FLINT_HEARTBEAT_SECONDS: '1',
    FLINT_LOG_LEVEL: 'silent',
    FLINT_POOLS: JSON.stringify([{ name: 'gold', imageFormat: 'qcow2', capacityGiB: 50, capabilities: { tier: 'gold' } }]),
  });
  const bus = await connectBus(nats.url, 'agent-test');
  t.teardown(() => bus.close());
  const agent = await startAgent(config, bus, log);
  t.teardown(() => agent.stop());
  const pool = config.pools[0]!;
  if (pool.driver !== 'file') throw new Error('the agent tests use a file pool');
  return { bus, config, poolDir: pool.directory, agent };
}

function createCmd(volumeId: string, sizeGiB = 1, pool = 'gold'): AgentCreate {
  return {
    operationId: `op-${volumeId}`,
    volumeId,
    pool,
    sizeGiB,
    attempt: 1,
    request: { volumeId, projectId: 'p1', sizeGiB, availabilityZone: null, volumeType: null },
    excluded: [],
  };
}

function sendCreate(bus: Bus, cmd: AgentCreate, msgId = `${cmd.operationId}:agent:${cmd.attempt}`): Promise<void> {
  return publish(bus, subjects.agent(HOST, 'create_volume'), KIND.agentCreate, cmd, msgId);
}

/** Every outcome event of a volume so far, read from the start of FLINT_EVT by an ordered consumer. */
async function events(bus: Bus, volumeId: string): Promise<VolumeOutcomeEvent[]> {
  const consumer = await bus.js.consumers.get(STREAM_EVT, { filter_subjects: subjects.agentEvent(HOST, 'volume', volumeId), deliver_policy: DeliverPolicy.All });
  const pending = (await consumer.info(true)).num_pending;
  const out: VolumeOutcomeEvent[] = [];
  if (pending > 0) {
    const batch = await consumer.fetch({ max_messages: pending, expires: 2000 });
    for await (const m of batch) {
      out.push(decode(m.data, KIND.volumeOutcome, volumeOutcome).payload);
      if (out.length === pending) break;
    }
  }
  await consumer.delete().catch(() => undefined);
  return out;
}

/** Every outcome event of a snapshot so far (same reading as `events`). */
async function snapshotEvents(bus: Bus, snapshotId: string): Promise<SnapshotOutcomeEvent[]> {
  const consumer = await bus.js.consumers.get(STREAM_EVT, { filter_subjects: subjects.agentEvent(HOST, 'snapshot', snapshotId), deliver_policy: DeliverPolicy.All });
  const pending = (await consumer.info(true)).num_pending;
  const out: SnapshotOutcomeEvent[] = [];
  if (pending > 0) {
    const batch = await consumer.fetch({ max_messages: pending, expires: 2000 });
    for await (const m of batch) {
      out.push(decode(m.data, KIND.snapshotOutcome, snapshotOutcome).payload);
      if (out.length === pending) break;
    }
  }
  await consumer.delete().catch(() => undefined);
  return out;
}

/** Polls `probe` until it returns a value (not undefined) or `timeoutMs` passes. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function outcomeOf(bus: Bus, volumeId: string, outcome: VolumeOutcomeEvent['outcome']): Promise<VolumeOutcomeEvent> {
  return eventually(async () => (await events(bus, volumeId)).find((e) => e.outcome === outcome), `${outcome} of ${volumeId}`);
}

async function commandsLeft(bus: Bus): Promise<number> {
  return (await bus.jsm.streams.info(STREAM_CMD)).state.messages;
}

async function virtualSize(path: string): Promise<number> {
  const { stdout } = await run('qemu-img', ['info', '--output=json', '-U', '-f', 'qcow2', path]);
  return (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'];
}

async function images(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => n.startsWith('volume-')).sort();
}

test('a create command makes the image and publishes create.succeeded, and a delete removes it', async (t) => {
  const { bus, poolDir } = await harness(t);
  await sendCreate(bus, createCmd('v1', 2));
  const created = await outcomeOf(bus, 'v1', 'create.succeeded');
  t.deepEqual(created, { operationId: 'op-v1', volumeId: 'v1', outcome: 'create.succeeded', host: HOST, pool: 'gold', sizeGiB: 2 });
  const image = join(poolDir, 'volume-v1.qcow2');
  t.is(await virtualSize(image), 2 * 1024 ** 3);

  const del: AgentDelete = { operationId: 'op-del-v1', volumeId: 'v1', pool: 'gold' };
  await publish(bus, subjects.agent(HOST, 'delete_volume'), KIND.agentDelete, del, 'op-del-v1:agent');
  const deleted = await outcomeOf(bus, 'v1', 'delete.succeeded');
  t.like(deleted, { operationId: 'op-del-v1', host: HOST, pool: 'gold' });
  await t.throwsAsync(fs.access(image), { code: 'ENOENT' });
  t.deepEqual(await images(poolDir), []);
});

test('pool stats and the service heartbeat appear in the KV buckets and follow the volumes', async (t) => {
  const { bus } = await harness(t);
  const first = decode((await bus.pools.get(poolKey(HOST, 'gold')))!.value, KIND.poolStats, poolStats).payload;
  t.like(first, {
    host: HOST,
    pool: 'gold',
    driver: 'file',
    availabilityZone: 'nova',
    totalCapacityGiB: 50,
    provisionedCapacityGiB: 0,
    volumeCount: 0,
    maxOverSubscriptionRatio: 20,
    thinProvisioningSupport: true,
    thickProvisioningSupport: false,
    imageFormat: 'qcow2',
    capabilities: { tier: 'gold' },
  });
  t.deepEqual([first.targets, first.defaultTarget], [['iscsi', 'nbd'], 'iscsi'], 'the pool advertises the export targets it offers');
  t.true(first.freeCapacityGiB > 0 && first.freeCapacityGiB <= 50);

  const service = decode((await bus.services.get(serviceKey('agent', HOST)))!.value, KIND.serviceHeartbeat, serviceHeartbeat).payload;
  t.like(service, { host: HOST, role: 'agent', availabilityZone: 'nova', intervalSeconds: 1, version: flintVersion() });
  t.not(service.version, 'unknown', 'the version is read from package.json');

  await sendCreate(bus, createCmd('v1', 3));
  await outcomeOf(bus, 'v1', 'create.succeeded');
  const later = await eventually(async () => {
    const s = decode((await bus.pools.get(poolKey(HOST, 'gold')))!.value, KIND.poolStats, poolStats).payload;
    return s.volumeCount === 1 ? s : undefined;
  }, 'a heartbeat counting the new volume');
  t.is(later.provisionedCapacityGiB, 3);
  t.true(Date.parse(later.updatedAt) > Date.parse(first.updatedAt));
});

test('a create re-published with the same operation id gets the same outcome and makes no second image', async (t) => {
  const { bus, poolDir, config } = await harness(t);
  await sendCreate(bus, createCmd('v1'));
  await outcomeOf(bus, 'v1', 'create.succeeded');
  await t.notThrowsAsync(fs.access(join(config.dataDir, 'agent', 'node-1_test', 'operations', 'op-v1.json')), 'the outcome is recorded');
  const before = await fs.stat(join(poolDir, 'volume-v1.qcow2'));

  // Another msgId, so JetStream's duplicate window lets it through as a redelivery would.
  await sendCreate(bus, createCmd('v1'), 'op-v1:agent:again');
  await eventually(async () => ((await commandsLeft(bus)) === 0 ? true : undefined), 'the repeated command to be acked');
  const all = await events(bus, 'v1');
  t.is(all.length, 1, 'the replayed outcome has the same msgId and is dropped as a duplicate');
  t.is(all[0]!.outcome, 'create.succeeded');
  t.deepEqual(await images(poolDir), ['volume-v1.qcow2']);
  const after = await fs.stat(join(poolDir, 'volume-v1.qcow2'));
  t.is(after.ino, before.ino, 'the image was not made again');
  t.is(after.mtimeMs, before.mtimeMs);
});

test('a create for a pool the host does not have goes back to the scheduler (through the gateways) with the pool excluded', async (t) => {
  const { bus, poolDir } = await harness(t);
  await sendCreate(bus, createCmd('v1', 1, 'platinum'));
  const stored = await eventually(
    async () => (await bus.jsm.streams.getMessage(STREAM_EVT, { last_by_subj: subjects.agentEvent(HOST, 'volume', 'v1') }).catch(() => null)) ?? undefined,
    'the reschedule',
  );
  const back = decode(stored.data, KIND.volumeReschedule, scheduleCreate).payload;
  t.is(back.operationId, 'op-v1');
  t.is(back.attempt, 2);
  t.is(back.excluded.length, 1);
  t.is(back.excluded[0]!.pool, `${HOST}@platinum`);
  t.regex(back.excluded[0]!.reason, /not configured/);
  t.deepEqual(await images(poolDir), []);
});

test('commands sent while the agent is stopped are processed when it starts again, none lost', async (t) => {
  const { bus, config, poolDir, agent } = await harness(t);
  const ids = Array.from({ length: 12 }, (_, i) => `v${i}`);
  for (const id of ids.slice(0, 6)) await sendCreate(bus, createCmd(id));
  await outcomeOf(bus, 'v0', 'create.succeeded');
  await agent.stop();
  for (const id of ids.slice(6)) await sendCreate(bus, createCmd(id));
  t.true((await commandsLeft(bus)) >= 6, 'the commands sent while stopped wait in the stream');

  const again = await startAgent(config, bus, log);
  t.teardown(() => again.stop());
  for (const id of ids) {
    const all = await eventually(async () => {
      const e = await events(bus, id);
      return e.length > 0 ? e : undefined;
    }, `the outcome of ${id}`, 60_000);
    t.deepEqual(all.map((e) => e.outcome), ['create.succeeded'], id);
  }
  t.deepEqual(await images(poolDir), ids.map((id) => `volume-${id}.qcow2`).sort());
  await eventually(async () => ((await commandsLeft(bus)) === 0 ? true : undefined), 'every command to be acked');
  t.pass();
});

test('a create_snapshot command takes an internal snapshot and publishes snapshot.outcome; delete_snapshot removes it', async (t) => {
  const { bus, poolDir } = await harness(t);
  await sendCreate(bus, createCmd('v1'));
  await outcomeOf(bus, 'v1', 'create.succeeded');
  const image = join(poolDir, 'volume-v1.qcow2');

  const snap: AgentCreateSnapshot = { operationId: 'op-s1', snapshotId: 's1', volumeId: 'v1', pool: 'gold' };
  await publish(bus, subjects.agent(HOST, 'create_snapshot'), KIND.agentCreateSnapshot, snap, 'op-s1:agent');
  const created = await eventually(
    async () => (await snapshotEvents(bus, 's1')).find((e) => e.outcome === 'create.succeeded'),
    'create.succeeded of snapshot s1',
  );
  t.deepEqual(created, { operationId: 'op-s1', snapshotId: 's1', volumeId: 'v1', outcome: 'create.succeeded' });
  const { stdout } = await run('qemu-img', ['info', '--output=json', '-U', '-f', 'qcow2', image]);
  t.deepEqual((JSON.parse(stdout) as { snapshots?: { name: string }[] }).snapshots?.map((s) => s.name), ['snapshot-s1']);

  // Redelivered with another msgId: the recorded outcome is replayed (same msgId, so dropped).
  await publish(bus, subjects.agent(HOST, 'create_snapshot'), KIND.agentCreateSnapshot, snap, 'op-s1:agent:again');
  await eventually(async () => ((await commandsLeft(bus)) === 0 ? true : undefined), 'the repeated command to be acked');
  t.is((await snapshotEvents(bus, 's1')).length, 1);

  const del: AgentDeleteSnapshot = { operationId: 'op-ds1', snapshotId: 's1', volumeId: 'v1', pool: 'gold' };
  await publish(bus, subjects.agent(HOST, 'delete_snapshot'), KIND.agentDeleteSnapshot, del, 'op-ds1:agent');
  const deleted = await eventually(
    async () => (await snapshotEvents(bus, 's1')).find((e) => e.outcome === 'delete.succeeded'),
    'delete.succeeded of snapshot s1',
  );
  t.is(deleted.operationId, 'op-ds1');
  const after = JSON.parse((await run('qemu-img', ['info', '--output=json', '-U', '-f', 'qcow2', image])).stdout) as { snapshots?: unknown[] };
  t.is(after.snapshots?.length ?? 0, 0);
});

test('a create_snapshot of a volume the pool does not have publishes create.failed with BAD_USER_INPUT', async (t) => {
  const { bus } = await harness(t);
  const snap: AgentCreateSnapshot = { operationId: 'op-s9', snapshotId: 's9', volumeId: 'missing', pool: 'gold' };
  await publish(bus, subjects.agent(HOST, 'create_snapshot'), KIND.agentCreateSnapshot, snap, 'op-s9:agent');
  const failed = await eventually(async () => (await snapshotEvents(bus, 's9'))[0], 'the outcome of snapshot s9');
  t.is(failed.outcome, 'create.failed');
  t.is(failed.error?.code, 'BAD_USER_INPUT');
  t.regex(failed.error!.message, /volume missing does not exist/);
});

test.after.always('no process is left behind', noProcessesLeft);
