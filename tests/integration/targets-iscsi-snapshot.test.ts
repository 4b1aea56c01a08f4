/**
 * Internal snapshots of a qcow2 volume while the iSCSI target serves it through
 * qemu-storage-daemon (which holds the image's write lock): taken and removed through the
 * daemon's QMP (`IscsiTarget.internalSnapshot`), idempotent, the export working throughout,
 * and the snapshot readable by the driver's own reader (qemu-nbd with force-share).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/net/free-port.js';
import { serveNbd } from '../../src/node-agent/qemu-nbd.js';
import { createTargets, type IscsiConnection, type IscsiTarget } from '../../src/node-agent/targets/index.js';
import { internalSnapshotName } from '../../src/node-agent/drivers/file-util.js';
import { setUpFileDriver } from '../helpers/file-pool.js';
import { tempDir } from '../helpers/tmp.js';
import { iscsiImageOpts } from '../helpers/iscsi.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';

const run = promisify(execFile);
const INITIATOR = 'iqn.2026-11.io.flint.test:snap-initiator';
const CHAP = { username: 'flint-snap-user', password: 'S3cret-Chap-Pass2' };

function iscsiIo(c: IscsiConnection, cmd: string) {
  const opts = iscsiImageOpts({ ...c, ...CHAP, initiator: INITIATOR });
  return run('qemu-io', ['--image-opts', opts, '-c', cmd]);
}

async function snapshotTags(path: string): Promise<string[]> {
  const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', path]);
  return ((JSON.parse(stdout) as { snapshots?: Array<{ name: string }> }).snapshots ?? []).map((s) => s.name);
}

test('a qcow2 volume exported over iSCSI gets an internal snapshot through the daemon, readable while the export keeps writing, then removed', async (t) => {
  const tmp = await tempDir('flint-iscsi-snap-');
  const driver = await setUpFileDriver(tmp.path, { imageFormat: 'qcow2' });
  const target = createTargets({ host: 'snap-1', address: '127.0.0.1', stateDir: join(tmp.path, 'state'), iscsiPort: await freePort(), nbdPortRange: [20100, 20110], processes: testProcesses(t) }).get('iscsi') as IscsiTarget;
  t.teardown(async () => {
    await target.shutdown();
    await tmp.cleanup();
  });
  await target.setup();
  await driver.createVolume('v-snap', 1);
  const image = await driver.imageSource('v-snap');
  const c = (await target.export({ attachmentId: 'att-snap', volumeId: 'v-snap', image, mode: 'rw', initiator: INITIATOR, chap: CHAP })) as IscsiConnection;
  await iscsiIo(c, 'write -P 0x5e 0 1M');

  const tag = internalSnapshotName('s-1');
  await t.throwsAsync(driver.createSnapshot('v-snap', 's-1'), undefined, 'qemu-img cannot: the daemon holds the lock');
  t.true(await target.internalSnapshot(image.path, tag, 'create'));
  t.true(await target.internalSnapshot(image.path, tag, 'create'), 'taking it again is a success');
  t.deepEqual(await snapshotTags(image.path), [tag]);

  await iscsiIo(c, 'write -P 0x77 0 1M');
  const source = await driver.imageSource('v-snap', 's-1');
  const nbd = await serveNbd({ processes: testProcesses(t), image: source, exportName: 'snap', listen: { socket: join(tmp.path, 'snap.sock') } });
  try {
    await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x5e 0 1M', nbd.uri]);
  } finally {
    await nbd.stop();
  }
  await iscsiIo(c, 'read -P 0x77 0 1M');

  t.true(await target.internalSnapshot(image.path, tag, 'delete'));
  t.true(await target.internalSnapshot(image.path, tag, 'delete'), 'removing it again is a success');
  t.deepEqual(await snapshotTags(image.path), []);
  t.false(await target.internalSnapshot('/not/exported.qcow2', tag, 'create'), 'an image it does not serve is left to the caller');
});

test.after.always('no process is left behind', noProcessesLeft);
