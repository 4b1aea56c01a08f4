/**
 * Nothing is lost when a part dies mid-operation: a create accepted while NATS is down
 * is published by the outbox when NATS is back, and commands wait for an agent that
 * was down.
 */
import anyTest, { type TestFn } from 'ava';
import { gql, startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
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
  const r = await gql(cluster.url, cluster.adminToken, 'query($id: ID!) { volume(id: $id) { status } }', { id }).catch(() => undefined);
  return (r?.data as { volume?: { status: string } } | undefined)?.volume?.status;
}

test.serial('a create accepted while NATS is down completes when NATS comes back', async (t) => {
  const { cluster } = t.context;
  await cluster.nats.kill();
  const r = await gql(cluster.url, cluster.adminToken, 'mutation { createVolume(input: {name: "through-the-outage", sizeGiB: 1}) { volume { id status } operation { status } } }');
  t.falsy(r.errors, JSON.stringify(r.errors));
  const { volume } = (r.data as { createVolume: { volume: { id: string; status: string } } }).createVolume;
  t.is(volume.status, 'CREATING');
  t.is(await status(cluster, volume.id), 'CREATING');
  await cluster.nats.restart();
  await waitFor(async () => (await status(cluster, volume.id)) === 'AVAILABLE', 60_000, () => `volume is ${volume.id} still not AVAILABLE`);
  t.pass();
});

test.serial('an agent restarted during a burst of creates finishes every one of them', async (t) => {
  const { cluster } = t.context;
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await gql(cluster.url, cluster.adminToken, `mutation { createVolume(input: {name: "burst-${i}", sizeGiB: 1}) { volume { id } } }`);
    ids.push((r.data as { createVolume: { volume: { id: string } } }).createVolume.volume.id);
    if (i === 3) await cluster.restartAgent('solo');
  }
  await waitFor(
    async () => (await Promise.all(ids.map((id) => status(cluster, id)))).every((s) => s === 'AVAILABLE'),
    60_000,
    () => 'not every volume became AVAILABLE',
  );
  t.pass();
});

test.after.always('no process is left behind', noProcessesLeft);
