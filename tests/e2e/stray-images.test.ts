/**
 * Found by the chaos suite (a NATS node killed): a create command ran a second time on another
 * host, so that host made an image of a volume that lives elsewhere, and once the volume was
 * deleted the image was an orphan no one would remove. The scheduler no longer places a
 * redelivered create twice (tests/unit/scheduler/scheduler-core.test.ts); whatever else makes
 * such a copy, the gateway asks the host that made it to delete it (src/gateway/outcomes/stray-images.ts).
 * Here the second run is sent as the scheduler would, with the scheduler's own NATS credentials.
 */
import anyTest, { type TestFn } from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { COMMAND, connectBus, KIND, natsAuthOptions, publish, subjects, type AgentCreate, type Bus } from '../../src/bus/index.js';
import { CreateVolumeDocument, DeleteVolumeDocument, PoolsDocument, VolumeDocument } from '../../src/client/index.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { waitForVolume } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

const run = promisify(execFile);
const test = anyTest as TestFn<{ cluster: Cluster; bus: Bus }>;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [
      { host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 200 }] },
      { host: 'host-b', pools: [{ name: 'bulk', imageFormat: 'raw', capacityGiB: 100 }] },
    ],
  });
  const bus = await connectBus(cluster.nats.url, 'test-as-scheduler', { role: 'scheduler', auth: natsAuthOptions({ nkeySeedFile: cluster.natsSeed('scheduler') }) });
  t.context = { cluster, bus };
});

test.after.always(async (t) => {
  await t.context.bus?.close();
  await t.context.cluster?.stop();
});
test.afterEach.always(async (t) => {
  if (t.passed || !t.context.cluster) return;
  t.log(t.context.cluster.logs());
  // The tails above may miss a gateway's warnings under its request lines.
  for (const f of t.context.cluster.logFiles()) t.log(f, (await fs.readFile(f, 'utf8').catch(() => '')).split('\n').filter((l) => /"level":(40|50)/.test(l)).join('\n'));
});

const exists = (path: string) => fs.stat(path).then(() => true, () => false);

test('a copy a create made on a host where the volume does not live is deleted there, while the volume lives and after it is deleted', async (t) => {
  const { cluster, bus } = t.context;
  const flint = cluster.client();
  const created = await flint.request(CreateVolumeDocument, { input: { name: 'twice', sizeGiB: 1 } });
  const id = created.createVolume.volume.id;
  const operationId = created.createVolume.operation!.id;
  const v = await waitForVolume(flint, id, 'AVAILABLE', { timeoutMs: 20_000 });
  t.like(v, { host: 'host-a', pool: 'fast' });
  const own = join(cluster.poolDir('host-a', 'fast'), `volume-${id}.qcow2`);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -q -P 0x5a 0 1M', own]);
  const pools = async () => (await flint.request(PoolsDocument)).pools.map((p) => ({ id: p.id, allocatedCapacityGiB: p.allocatedCapacityGiB }));
  const before = await pools();
  const stray = join(cluster.poolDir('host-b', 'bulk'), `volume-${id}.raw`);

  const runAgainOnHostB = async (attempt: number) => {
    const command: AgentCreate = {
      operationId,
      volumeId: id,
      pool: 'bulk',
      sizeGiB: 1,
      attempt,
      request: { volumeId: id, projectId: 'the-project', sizeGiB: 1, availabilityZone: null, volumeType: null },
      excluded: [],
    };
    await publish(bus, subjects.agent('host-b', COMMAND.createVolume), KIND.agentCreate, command, `${operationId}:agent.create:test-${attempt}`);
  };
  // The gateway's warning that it asked for the copy's delete, one line per copy.
  const asked = async () => {
    const lines = (await Promise.all(cluster.logFiles().map((f) => fs.readFile(f, 'utf8').catch(() => '')))).join('\n').split('\n');
    return lines.filter((l) => l.includes('asking it to delete that copy') && l.includes(id)).length;
  };
  const copyMadeThenRemoved = async (what: string, times: number) => {
    await waitFor(async () => (await asked()) >= times, 30_000, () => `${what}: the gateway did not ask host-b to delete its copy`);
    await waitFor(async () => !(await exists(stray)), 20_000, () => `${what}: the copy on host-b is still there`);
  };

  // While the volume is AVAILABLE on host-a.
  await runAgainOnHostB(1);
  await copyMadeThenRemoved('while the volume lives on host-a', 1);
  t.like((await flint.request(VolumeDocument, { id })).volume, { status: 'AVAILABLE', host: 'host-a', pool: 'fast' });
  await run('qemu-io', ['-r', '-U', '-f', 'qcow2', '-c', 'read -q -P 0x5a 0 1M', own]);
  t.deepEqual(await pools(), before, 'no capacity moved');

  // After the volume is deleted: the finding's order.
  await flint.request(DeleteVolumeDocument, { input: { id } });
  await waitForVolume(flint, id, (x) => x === null || x.status === 'DELETED', { timeoutMs: 20_000 });
  t.false(await exists(own));
  await runAgainOnHostB(2);
  await copyMadeThenRemoved('after the volume was deleted', 2);
  t.deepEqual(await fs.readdir(cluster.poolDir('host-b', 'bulk')).then((names) => names.filter((n) => n.includes(id))), []);
});

test.after.always('no process is left behind', noProcessesLeft);
