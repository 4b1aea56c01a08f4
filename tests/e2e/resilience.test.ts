/**
 * Nothing is lost when a part dies mid-operation: a create accepted while NATS is down
 * is published by the outbox when NATS is back, and commands wait for an agent that
 * was down.
 */
import anyTest, { type TestFn } from 'ava';
import { CreateVolumeDocument, VolumeDocument } from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { waitForVolume } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

const test = anyTest as TestFn<{ cluster: Cluster }>;

test.before(async (t) => {
  t.context = {
    cluster: await startCluster({ database: 'sqlite', agents: [{ host: 'solo', pools: [{ name: 'p', imageFormat: 'qcow2' }] }] }),
  };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

async function status(cluster: Cluster, id: string): Promise<string | undefined> {
  return (await cluster.client().request(VolumeDocument, { id })).volume?.status;
}

test.serial('a create accepted while NATS is down completes when NATS comes back', async (t) => {
  const { cluster } = t.context;
  await cluster.nats.kill();
  const r = await cluster.client().raw(CreateVolumeDocument, { input: { name: 'through-the-outage', sizeGiB: 1 } });
  t.falsy(r.errors, JSON.stringify(r.errors));
  const { volume } = r.data!.createVolume;
  t.is(volume.status, 'CREATING');
  t.is(await status(cluster, volume.id), 'CREATING');
  await cluster.nats.restart();
  await waitForVolume(cluster.client(), volume.id, 'AVAILABLE');
  t.pass();
});

test.serial('an agent restarted during a burst of creates finishes every one of them', async (t) => {
  const { cluster } = t.context;
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await cluster.client().request(CreateVolumeDocument, { input: { name: `burst-${i}`, sizeGiB: 1 } });
    ids.push(r.createVolume.volume.id);
    if (i === 3) await cluster.restartAgent('solo');
  }
  // One deadline for them all: the volumes are made side by side, the waits only read.
  const until = Date.now() + 60_000;
  for (const id of ids) await waitForVolume(cluster.client(), id, 'AVAILABLE', { timeoutMs: Math.max(1, until - Date.now()) });
  t.pass();
});

test.after.always('no process is left behind', noProcessesLeft);
