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
import { gql, startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
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

type R<T> = { data?: T; errors?: Array<{ message: string }> };
const VOL = 'id status host pool migrationStatus messages { event message }';

test('a migration nobody finishes fails at its deadline and leaves the volume usable where it was', async (t) => {
  const { cluster } = t.context;
  const q = async <T>(query: string, variables?: Record<string, unknown>) => (await gql(cluster.url, cluster.adminToken, query, variables)) as R<T>;
  const created = await q<{ createVolume: { volume: { id: string } } }>('mutation { createVolume(input: { name: "d", sizeGiB: 1 }) { volume { id } } }');
  const id = created.data!.createVolume.volume.id;
  type V = { id: string; status: string; host: string; pool: string; migrationStatus: string | null; messages: Array<{ event: string; message: string }> };
  const get = async () => (await q<{ volume: V }>(`query($id: ID!) { volume(id: $id) { ${VOL} } }`, { id })).data!.volume;
  await waitFor(async () => (await get()).status === 'AVAILABLE', 20_000, () => 'volume not AVAILABLE');
  t.like(await get(), { host: 'host-a', pool: 'fast' });
  const image = join(cluster.poolDir('host-a', 'fast'), `volume-${id}.qcow2`);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -q -P 0x99 0 1M', image]);
  const pools = async () => (await q<{ pools: Array<{ id: string; allocatedCapacityGiB: number }> }>('{ pools { id allocatedCapacityGiB } }')).data!.pools;
  const before = await pools();

  await cluster.stopAgent('host-a');
  const m = await q<{ migrateVolume: { operation: { id: string } } }>('mutation($id: ID!) { migrateVolume(input: { id: $id, host: "host-b", pool: "bulk" }) { operation { id } } }', { id });
  t.is(m.errors, undefined, JSON.stringify(m.errors));
  const opId = m.data!.migrateVolume.operation.id;
  type Op = { status: string; error: { code: string; message: string } | null };
  let op: Op | undefined;
  await waitFor(async () => {
    op = (await q<{ operation: Op }>('query($id: ID!) { operation(id: $id) { status error { code message } } }', { id: opId })).data?.operation;
    return op?.status === 'FAILED';
  }, 30_000, () => `operation not failed: ${JSON.stringify(op)}`);
  t.is(op!.error!.code, 'SERVICE_UNAVAILABLE');
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
