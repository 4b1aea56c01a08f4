/**
 * A migration longer than the operation timeout is not failed while its copy progresses
 * (src/gateway/sweepers/deadline-extender.ts): the destination pool caps copies at 8 MiB/s
 * (`copyMiBps`, qemu-img convert -r), so 40 MiB take about 5 s against a 4 s timeout.
 */
import anyTest, { type TestFn } from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateVolumeDocument, MigrateVolumeDocument, OperationWaitDocument, VolumeDocument } from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { waitForOperation, waitForVolume } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

const run = promisify(execFile);
const test = anyTest as TestFn<{ cluster: Cluster }>;
const TIMEOUT_S = 4;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    env: { FLINT_OPERATION_TIMEOUT_SECONDS: String(TIMEOUT_S) },
    agents: [
      { host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 50 }] },
      { host: 'host-b', pools: [{ name: 'slow', imageFormat: 'raw', capacityGiB: 50, copyMiBps: 8 }] },
    ],
  });
  t.context = { cluster };
});

test.after.always(async (t) => t.context.cluster?.stop());
test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

test('a migration whose copy outlasts the operation timeout succeeds while it reports progress', async (t) => {
  t.timeout(120_000);
  const { cluster } = t.context;
  const flint = cluster.client();
  const created = await flint.request(CreateVolumeDocument, { input: { name: 'big', sizeGiB: 1 } });
  const id = created.createVolume.volume.id;
  const get = async () => (await flint.request(VolumeDocument, { id })).volume!;
  await waitForVolume(flint, id, 'AVAILABLE', { timeoutMs: 20_000 });
  const image = join(cluster.poolDir('host-a', 'fast'), `volume-${id}.qcow2`);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -q -P 0x6e 0 40M', image]);

  const started = Date.now();
  const m = await flint.raw(MigrateVolumeDocument, { input: { id, host: 'host-b', pool: 'slow' } });
  t.is(m.errors, undefined, JSON.stringify(m.errors));
  const opId = m.data!.migrateVolume.operation.id;
  // While it copies, the operation shows how far it has come (Operation.progress, from the agent's reports).
  const seen: Array<{ bytesDone: number; bytesTotal: number; percent: number }> = [];
  for (let now = (await flint.request(OperationWaitDocument, { id: opId })).operation!; now.status === 'PENDING' || now.status === 'RUNNING'; ) {
    if (now.progress) seen.push(now.progress);
    await new Promise((r) => setTimeout(r, 250));
    now = (await flint.request(OperationWaitDocument, { id: opId })).operation!;
  }
  const op = await waitForOperation(flint, opId, { timeoutMs: 90_000 });
  const seconds = (Date.now() - started) / 1000;
  t.is(op.status, 'SUCCEEDED', JSON.stringify(op.error));
  t.true(seconds > TIMEOUT_S, `the migration took ${seconds} s, not longer than the ${TIMEOUT_S} s timeout: the test proves nothing`);
  t.true(seen.length > 0, 'progress was shown while it ran');
  t.true(seen.every((p) => p.bytesTotal > 0 && p.bytesDone <= p.bytesTotal && p.percent >= 0 && p.percent <= 100), JSON.stringify(seen));
  t.true(seen.some((p) => p.bytesDone > 0), JSON.stringify(seen));
  t.is((await flint.request(OperationWaitDocument, { id: opId })).operation!.progress, null, 'an ended operation shows no progress');
  t.like(await get(), { status: 'AVAILABLE', host: 'host-b', pool: 'slow', migrationStatus: 'SUCCESS' });
  await run('qemu-io', ['-r', '-U', '-f', 'raw', '-c', 'read -P 0x6e 0 40M', join(cluster.poolDir('host-b', 'slow'), `volume-${id}.raw`)]);
});

test.after.always('no process is left behind', noProcessesLeft);
