/**
 * A migration whose source agent is down: the operation deadline (FLINT_OPERATION_TIMEOUT_SECONDS)
 * ends it, the volume is AVAILABLE on its old pool with migrationStatus ERROR, the destination's
 * capacity is free again, and the agent that comes back later refuses the stale export.
 */
import anyTest, { type TestFn } from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateVolumeDocument, MigrateVolumeDocument, PoolsDocument, VolumeDocument } from '../../src/client/index.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { waitForOperation, waitForVolume } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

const run = promisify(execFile);
const test = anyTest as TestFn<{ cluster: Cluster }>;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    env: { FLINT_OPERATION_TIMEOUT_SECONDS: '4' },
    agents: [
      { host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 200 }] },
      { host: 'host-b', pools: [{ name: 'bulk', imageFormat: 'raw', capacityGiB: 100 }] },
    ],
  });
  t.context = { cluster };
});

test.after.always(async (t) => t.context.cluster?.stop());
test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

test('a migration nobody finishes fails at its deadline and leaves the volume usable where it was', async (t) => {
  const { cluster } = t.context;
  const flint = cluster.client();
  const created = await flint.request(CreateVolumeDocument, { input: { name: 'd', sizeGiB: 1 } });
  const id = created.createVolume.volume.id;
  const get = async () => (await flint.request(VolumeDocument, { id })).volume!;
  await waitForVolume(flint, id, 'AVAILABLE', { timeoutMs: 20_000 });
  t.like(await get(), { host: 'host-a', pool: 'fast' });
  const image = join(cluster.poolDir('host-a', 'fast'), `volume-${id}.qcow2`);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -q -P 0x99 0 1M', image]);
  const pools = async () => (await flint.request(PoolsDocument)).pools.map((p) => ({ id: p.id, allocatedCapacityGiB: p.allocatedCapacityGiB }));
  const before = await pools();

  await cluster.stopAgent('host-a');
  const m = await flint.raw(MigrateVolumeDocument, { input: { id, host: 'host-b', pool: 'bulk' } });
  t.is(m.errors, undefined, JSON.stringify(m.errors));
  const opId = m.data!.migrateVolume.operation.id;
  const op = await waitForOperation(flint, opId, { timeoutMs: 30_000 });
  t.is(op.status, 'FAILED', JSON.stringify(op));
  t.is(op.error?.code, 'SERVICE_UNAVAILABLE');
  const v = await get();
  t.like(v, { status: 'AVAILABLE', host: 'host-a', pool: 'fast', migrationStatus: 'ERROR' });
  t.true(v.messages.some((x) => x.event === 'migrate_volume' && /because no agent finished it in time/.test(x.message)), JSON.stringify(v.messages));
  t.deepEqual(await pools(), before, 'the destination\'s reservation was released');

  // The agent comes back: the queued export is past its deadline and refused; nothing changes.
  cluster.startAgent('host-a');
  await waitFor(async () => cluster.logs().includes('migration command arrived after the migration\'s deadline'), 30_000, () => 'the stale export was not refused');
  t.like(await get(), { status: 'AVAILABLE', host: 'host-a', pool: 'fast', migrationStatus: 'ERROR' });
  const nbd = [];
  for (const pid of await fs.readdir('/proc')) {
    if (/^\d+$/.test(pid) && (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes(`migrate-${id}`)) nbd.push(pid);
  }
  t.deepEqual(nbd, [], 'no qemu-nbd exports the volume');
  await run('qemu-io', ['-r', '-U', '-f', 'qcow2', '-c', 'read -P 0x99 0 1M', image]);
  t.false(await fs.stat(join(cluster.poolDir('host-b', 'bulk'), `volume-${id}.raw`)).then(() => true, () => false), 'no copy on the destination');
});

test.after.always('no process is left behind', noProcessesLeft);
