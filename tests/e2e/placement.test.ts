/**
 * Placement under failure and contention, end to end: an agent that fails a create
 * sends it back to the scheduler, which tries another pool (Cinder's reschedule), and
 * two schedulers creating at once never promise more than a pool holds.
 */
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import anyTest, { type TestFn } from 'ava';
import { CreateVolumeDocument, CreateVolumeTypeDocument, DeleteVolumeDocument, OperationDocument, PoolsDocument, type CreateVolumeInput } from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { waitForVolume, waitUntil, type VolumeState } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

const test = anyTest as TestFn<{ cluster: Cluster }>;

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
  t.context = { cluster };
  for (const [name, role] of [['spread', 'spread'], ['tight', 'tight']]) {
    await cluster.client().request(CreateVolumeTypeDocument, { input: { name, extraSpecs: { 'capabilities:role': role } } });
  }
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

/** Creates a volume as the admin and waits until it is no longer CREATING. */
async function createAndSettle(cluster: Cluster, input: CreateVolumeInput): Promise<{ volume: VolumeState; operationId: string }> {
  const { volume, operation } = (await cluster.client().request(CreateVolumeDocument, { input })).createVolume;
  const settled = await waitForVolume(cluster.client(), volume.id, (v) => v !== null && v.status !== 'CREATING', { what: `volume ${volume.id} to leave CREATING`, timeoutMs: 20_000 });
  return { volume: settled!, operationId: operation.id };
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
    const op = { operation: (await cluster.client().request(OperationDocument, { id: operationId })).operation! };
    t.is(op.operation.status, 'FAILED');
    t.is(op.operation.error!.code, 'NO_VALID_BACKEND');
    t.false(op.operation.error!.retryable, 'no pool could take it: the same create fails the same way');
    t.regex(op.operation.error!.message, /big@p/);
    t.regex(op.operation.error!.message, /small@p/);
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
  const pools = await cluster.client().request(PoolsDocument);
  t.is(pools.pools.find((p) => p.id === 'tight@thick')!.allocatedCapacityGiB, 8);
  // Deleting frees the capacity for the next volume, once the agent's next heartbeat reports the space.
  await cluster.client().raw(DeleteVolumeDocument, { input: { id: available[0]!.volume.id } });
  await waitUntil(
    'the delete to release capacity on tight@thick (7 GiB allocated, 1 free)',
    async () => (await cluster.client().request(PoolsDocument)).pools.find((x) => x.id === 'tight@thick')!,
    (tight) => tight.allocatedCapacityGiB === 7 && tight.freeCapacityGiB >= 1,
    20_000,
  );
  const again = await createAndSettle(cluster, { name: 'after-delete', sizeGiB: 1, volumeType: 'tight' });
  t.is(again.volume.status, 'AVAILABLE');
});

test.after.always('no process is left behind', noProcessesLeft);
