/**
 * Placement under failure and contention, end to end: an agent that fails a create
 * sends it back to the scheduler, which tries another pool (Cinder's reschedule), and
 * two schedulers creating at once never promise more than a pool holds.
 */
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import anyTest, { type TestFn } from 'ava';
import type { Client } from 'graphql-ws';
import { gql, startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { noProcessesLeft } from '../helpers/processes.js';

const test = anyTest as TestFn<{ cluster: Cluster; ws: Client[] }>;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    schedulers: 2,
    agents: [
      // The biggest pool, so the CapacityWeigher tries it first.
      { host: 'big', pools: [{ name: 'p', imageFormat: 'qcow2', capabilities: { role: 'spread' } }] },
      { host: 'small', pools: [{ name: 'p', imageFormat: 'qcow2', capacityGiB: 10, capabilities: { role: 'spread' } }] },
      // Thick: at most floor(8.5) = 8 GiB may ever be promised here; the half GiB leaves room for image metadata.
      { host: 'tight', pools: [{ name: 'thick', imageFormat: 'raw', thinProvisioning: false, capacityGiB: 8.5, capabilities: { role: 'tight' } }] },
    ],
  });
  t.context = { cluster, ws: [] };
  for (const [name, role] of [['spread', 'spread'], ['tight', 'tight']]) {
    const r = await gql(cluster.url, cluster.adminToken, 'mutation($input: CreateVolumeTypeInput!) { createVolumeType(input: $input) { id } }', {
      input: { name, extraSpecs: { 'capabilities:role': role } },
    });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
  }
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

interface V {
  id: string;
  status: string;
  host: string | null;
}

async function createAndSettle(cluster: Cluster, input: Record<string, unknown>): Promise<{ volume: V; operationId: string }> {
  const r = await gql(cluster.url, cluster.adminToken, 'mutation($input: CreateVolumeInput!) { createVolume(input: $input) { volume { id } operation { id } } }', { input });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  const { volume, operation } = (r.data as { createVolume: { volume: { id: string }; operation: { id: string } } }).createVolume;
  let last: V | undefined;
  await waitFor(
    async () => {
      last = ((await gql(cluster.url, cluster.adminToken, 'query($id: ID!) { volume(id: $id) { id status host } }', { id: volume.id })).data as { volume: V }).volume;
      return last.status !== 'CREATING';
    },
    20_000,
    () => `volume ${volume.id} stayed CREATING`,
  );
  return { volume: last!, operationId: operation.id };
}

test.serial('a create that fails on an agent is retried on another pool', async (t) => {
  const { cluster } = t.context;
  // Break the big pool: its directory becomes a file, so qemu-img cannot create there.
  const dir = cluster.poolDir('big', 'p');
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(dir, 'not a directory');
  try {
    const { volume } = await createAndSettle(cluster, { name: 'survivor', sizeGiB: 1, volumeType: 'spread' });
    t.is(volume.status, 'AVAILABLE');
    t.is(volume.host, 'small');
  } finally {
    rmSync(dir, { force: true });
    mkdirSync(dir, { recursive: true });
  }
});

test.serial('when every pool tried fails, the volume is ERROR and the message names each attempt', async (t) => {
  const { cluster } = t.context;
  const dirs = [cluster.poolDir('big', 'p'), cluster.poolDir('small', 'p')];
  for (const d of dirs) {
    rmSync(d, { recursive: true, force: true });
    writeFileSync(d, 'not a directory');
  }
  try {
    const { volume, operationId } = await createAndSettle(cluster, { name: 'doomed', sizeGiB: 1, volumeType: 'spread' });
    t.is(volume.status, 'ERROR');
    const op = (await gql(cluster.url, cluster.adminToken, 'query($id: ID!) { operation(id: $id) { status error { code message } } }', { id: operationId })).data as {
      operation: { status: string; error: { code: string; message: string } };
    };
    t.is(op.operation.status, 'FAILED');
    t.is(op.operation.error.code, 'NO_VALID_BACKEND');
    t.regex(op.operation.error.message, /big@p/);
    t.regex(op.operation.error.message, /small@p/);
  } finally {
    for (const d of dirs) {
      rmSync(d, { force: true });
      mkdirSync(d, { recursive: true });
    }
  }
});

test.serial('two schedulers creating at once never allocate more than a thick pool holds', async (t) => {
  const { cluster } = t.context;
  const results = await Promise.all(Array.from({ length: 14 }, (_, i) => createAndSettle(cluster, { name: `race-${i}`, sizeGiB: 1, volumeType: 'tight' })));
  const available = results.filter((r) => r.volume.status === 'AVAILABLE');
  const failed = results.filter((r) => r.volume.status === 'ERROR');
  t.is(available.length, 8);
  t.is(failed.length, 6);
  const pools = (await gql(cluster.url, cluster.adminToken, '{ pools { id allocatedCapacityGiB } }')).data as { pools: Array<{ id: string; allocatedCapacityGiB: number }> };
  t.is(pools.pools.find((p) => p.id === 'tight@thick')!.allocatedCapacityGiB, 8);
  // Deleting frees the capacity for the next volume, once the agent's next heartbeat reports the space.
  await gql(cluster.url, cluster.adminToken, `mutation { deleteVolume(input: {id: "${available[0]!.volume.id}"}) { volume { id } } }`);
  await waitFor(
    async () => {
      const p = (await gql(cluster.url, cluster.adminToken, '{ pools { id allocatedCapacityGiB freeCapacityGiB } }')).data as {
        pools: Array<{ id: string; allocatedCapacityGiB: number; freeCapacityGiB: number }>;
      };
      const tight = p.pools.find((x) => x.id === 'tight@thick')!;
      return tight.allocatedCapacityGiB === 7 && tight.freeCapacityGiB >= 1;
    },
    20_000,
    () => 'capacity was not released by the delete',
  );
  const again = await createAndSettle(cluster, { name: 'after-delete', sizeGiB: 1, volumeType: 'tight' });
  t.is(again.volume.status, 'AVAILABLE');
});

test.after.always('no process is left behind', noProcessesLeft);
