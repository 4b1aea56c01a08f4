/**
 * Encrypted volumes of the file driver against real qemu, tgtd and qemu-storage-daemon: a
 * pattern written through an iSCSI or NBD export is read back through it, while the image
 * file on the pool holds only ciphertext; snapshots, growth, clones and reverts keep the
 * plaintext; an agent with another secret key cannot open the volume and says which key file.
 */
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { newVolumeKey } from '../../src/domain/encryption.js';
import { SecretBox } from '../../src/domain/secret-box.js';
import { freePort } from '../../src/net/free-port.js';
import { DriverError, type FileDriver, type VolumeEncryption } from '../../src/node-agent/index.js';
import { serveNbd } from '../../src/node-agent/qemu-nbd.js';
import { createTargets, type IscsiConnection, type NbdConnection, type Target } from '../../src/node-agent/targets/index.js';
import { setUpFileDriver } from '../helpers/file-pool.js';
import { fileHasRun } from '../helpers/image-search.js';
import { iscsiImageOpts } from '../helpers/iscsi.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/command.js';

const INITIATOR = 'iqn.2026-11.io.flint.test:initiator-1';
const CHAP = { username: 'flint-enc-user', password: 'S3cret-Chap-Pass1' };
const GiB = 1024 ** 3;

interface Rig {
  driver: FileDriver;
  box: SecretBox;
  targets: Map<string, Target>;
  dir: string;
}

async function rig(t: ExecutionContext, imageFormat: 'raw' | 'qcow2'): Promise<Rig> {
  const tmp = await tempDir('flint-luks-');
  const box = new SecretBox(randomBytes(32), join(tmp.path, 'secret.key'));
  const driver = await setUpFileDriver(tmp.path, { imageFormat }, { secrets: box });
  const first = await freePort();
  const targets = createTargets({ host: 'node-1', address: '127.0.0.1', stateDir: join(tmp.path, 'state'), iscsiPort: await freePort(), nbdPortRange: [first, Math.min(65535, first + 3)], processes: testProcesses(t) });
  t.teardown(async () => {
    for (const target of targets.values()) await target.shutdown();
    await tmp.cleanup();
  });
  for (const target of targets.values()) await target.setup();
  return { driver, box, targets, dir: tmp.path };
}

function encryption(box: SecretBox, volumeId: string): VolumeEncryption {
  return { sealedKey: box.seal(newVolumeKey(), volumeId), cipher: 'aes-xts-plain64', keySize: 256 };
}

async function exportIscsi(r: Rig, volumeId: string): Promise<string> {
  const c = (await r.targets.get('iscsi')!.export({ attachmentId: `att-${volumeId}`, volumeId, image: await r.driver.imageSource(volumeId), mode: 'rw', initiator: INITIATOR, chap: { ...CHAP, username: `${CHAP.username}-${volumeId}` } })) as IscsiConnection;
  return iscsiImageOpts({ ...c, username: `${CHAP.username}-${volumeId}`, password: CHAP.password, initiator: INITIATOR });
}

async function exportNbd(r: Rig, volumeId: string): Promise<string> {
  const c = (await r.targets.get('nbd')!.export({ attachmentId: `nbd-${volumeId}`, volumeId, image: await r.driver.imageSource(volumeId), mode: 'rw' })) as NbdConnection;
  return c.uri;
}

/** qemu-io through an iSCSI export (`--image-opts`) or an NBD URI; exit code 0 when every command (and pattern check) passed. */
function io(target: string, commands: readonly string[]): Promise<{ code: number; out: string }> {
  const open = target.startsWith('nbd') ? ['-f', 'raw', target] : ['--image-opts', target];
  return run('qemu-io', [...commands.flatMap((c) => ['-c', c]), ...open]);
}

for (const format of ['raw', 'qcow2'] as const) {
  test(`an encrypted ${format} volume shows plaintext through its iSCSI export and keeps only ciphertext on disk`, async (t) => {
    const r = await rig(t, format);
    const info = await r.driver.createVolume('v1', 1, encryption(r.box, 'v1'));
    t.true(info.encrypted);
    t.is(info.sizeBytes, GiB, 'the consumer sees the size asked for, not the LUKS header');
    const plain = await r.driver.createVolume('p1', 1);
    t.false(plain.encrypted);

    const enc = await exportIscsi(r, 'v1');
    const written = await io(enc, ['write -P 0x5a 1M 1M']);
    t.is(written.code, 0, written.out);
    const ctl = await exportIscsi(r, 'p1');
    t.is((await io(ctl, ['write -P 0x5a 1M 1M'])).code, 0);
    await r.targets.get('iscsi')!.unexport('att-v1');
    await r.targets.get('iscsi')!.unexport('att-p1');

    t.true(await fileHasRun(plain.location, 0x5a), 'the search finds the pattern in a plain image (the control)');
    t.false(await fileHasRun(info.location, 0x5a), 'the encrypted image does not hold the pattern');
    const back = await io(await exportIscsi(r, 'v1'), ['read -P 0x5a 1M 1M']);
    t.is(back.code, 0, back.out);
    await r.targets.get('iscsi')!.unexport('att-v1');
    t.is((await io(await exportNbd(r, 'v1'), ['read -P 0x5a 1M 1M'])).code, 0, 'the NBD export reads the plaintext too');
  });

  test(`an encrypted ${format} volume keeps its data through a snapshot, an extend, a clone with its own key and a revert`, async (t) => {
    const r = await rig(t, format);
    await r.driver.createVolume('v2', 1, encryption(r.box, 'v2'));
    const source = await r.driver.imageSource('v2');
    t.truthy(source.key);
    t.is((await run('qemu-io', ['--object', 'secret,id=k,data=' + source.key!, '--image-opts', imageOpts(source, 'k'), '-c', 'write -P 0x11 0 1M'])).code, 0);
    const snap = await r.driver.createSnapshot('v2', 's1');
    t.is(snap.sizeBytes, GiB);
    t.is((await run('qemu-io', ['--object', 'secret,id=k,data=' + source.key!, '--image-opts', imageOpts(source, 'k'), '-c', 'write -P 0x22 0 1M'])).code, 0);

    const grown = await r.driver.extendVolume('v2', 2);
    t.is(grown.sizeBytes, 2 * GiB);
    t.true(grown.encrypted);

    const clone = await r.driver.cloneVolume('c1', 2, 'v2', encryption(r.box, 'c1'));
    t.true(clone.encrypted);
    const cloneKey = (await r.driver.imageSource('c1')).key;
    t.truthy(cloneKey);
    t.not(cloneKey, source.key, 'the clone has a key of its own');
    t.is((await io(await exportNbd(r, 'c1'), ['read -P 0x22 0 1M'])).code, 0, 'the clone holds the source data');

    // A snapshot's bytes as backups of an in-use volume read them: qemu-nbd with the volume's key.
    const snapSource = await r.driver.imageSource('v2', 's1');
    t.is(snapSource.key, source.key, 'a snapshot is the volume\'s own ciphertext');
    const server = await serveNbd({ image: snapSource, exportName: 's1', listen: { socket: join(r.dir, 's1.sock') }, processes: testProcesses(t) });
    try {
      const read = await run('qemu-io', ['-r', '-c', 'read -P 0x11 0 1M', '-f', 'raw', server.uri]);
      t.is(read.code, 0, read.out);
    } finally {
      await server.stop();
    }

    const fromSnap = await r.driver.createVolumeFromSnapshot('c2', 2, 'v2', 's1', encryption(r.box, 'c2'));
    t.true(fromSnap.encrypted);
    t.is((await io(await exportNbd(r, 'c2'), ['read -P 0x11 0 1M'])).code, 0, 'a volume from the snapshot holds the snapshot data');
    await t.throwsAsync(r.driver.cloneVolume('c3', 2, 'v2'), { instanceOf: DriverError, message: /must be encrypted too/ });

    await r.driver.deleteVolume('c1');
    await r.driver.deleteVolume('c2');
    await r.driver.deleteVolume('v2');
    const left = (await fs.readdir(join(r.dir, 'pool'))).filter((n) => !n.startsWith('.'));
    t.deepEqual(left, [], 'no image and no key file is left');
  });

  test(`a ${format} revert of an encrypted volume brings back the snapshot's plaintext`, async (t) => {
    const r = await rig(t, format);
    await r.driver.createVolume('v3', 1, encryption(r.box, 'v3'));
    const nbd = await exportNbd(r, 'v3');
    t.is((await io(nbd, ['write -P 0x33 0 1M'])).code, 0);
    await r.targets.get('nbd')!.unexport('nbd-v3');
    await r.driver.createSnapshot('v3', 's1');
    t.is((await io(await exportNbd(r, 'v3'), ['write -P 0x44 0 1M'])).code, 0);
    await r.targets.get('nbd')!.unexport('nbd-v3');
    await r.driver.revertToSnapshot('v3', 's1');
    t.is((await io(await exportNbd(r, 'v3'), ['read -P 0x33 0 1M'])).code, 0);
  });
}

for (const format of ['raw', 'qcow2'] as const) {
  test(`an encrypted ${format} volume grows while exported over iSCSI and NBD, keeping its data; a qcow2 one takes a snapshot through its export`, async (t) => {
    const r = await rig(t, format);
    await r.driver.createVolume('g1', 1, encryption(r.box, 'g1'));
    const iscsi = await exportIscsi(r, 'g1');
    t.is((await io(iscsi, ['write -P 0x77 0 1M'])).code, 0);
    const grown = await r.targets.get('iscsi')!.growWhileExported('att-g1', () => r.driver.extendVolume('g1', 2));
    t.is(grown.sizeBytes, 2 * GiB);
    const after = await io(iscsi, ['read -P 0x77 0 1M', 'write -P 0x78 1536M 1M', 'read -P 0x78 1536M 1M']);
    t.is(after.code, 0, after.out);
    if (format === 'qcow2') {
      const image = await r.driver.imageSource('g1');
      t.true(await r.targets.get('iscsi')!.internalSnapshot!(image.path, 'snapshot-s9', 'create'));
      t.deepEqual(await r.driver.listSnapshots('g1'), ['s9']);
    }
    await r.targets.get('iscsi')!.unexport('att-g1');

    const nbd = await exportNbd(r, 'g1');
    await r.targets.get('nbd')!.growWhileExported('nbd-g1', () => r.driver.extendVolume('g1', 3));
    const end = await io(nbd, ['read -P 0x78 1536M 1M', 'write -P 0x79 2560M 1M', 'read -P 0x79 2560M 1M']);
    t.is(end.code, 0, end.out);
    await r.targets.get('nbd')!.unexport('nbd-g1');
    t.is((await r.driver.getVolume('g1'))!.sizeBytes, 3 * GiB);
    t.false(await fileHasRun((await r.driver.getVolume('g1'))!.location, 0x79));
  });
}

test('a driver holding another secret key cannot open an encrypted volume and names its key file', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('v4', 1, encryption(r.box, 'v4'));
  const otherKeyFile = join(r.dir, 'other.key');
  const other = await setUpFileDriver(r.dir, { imageFormat: 'qcow2' }, { secrets: new SecretBox(randomBytes(32), otherKeyFile) });
  const err = await t.throwsAsync(other.imageSource('v4'), { instanceOf: DriverError });
  t.false(err.retryable);
  t.true(err.message.includes(otherKeyFile), err.message);
  await t.throwsAsync(other.createVolume('v5', 1, encryption(r.box, 'v5')), { instanceOf: DriverError, message: new RegExp(otherKeyFile) });
  t.is(await other.getVolume('v5'), null, 'nothing is made with a key that does not open');
});

test('the key file of an encrypted volume is never offered or taken as an image to manage, and the volume cannot be unmanaged', async (t) => {
  const r = await rig(t, 'raw');
  await r.driver.createVolume('v6', 1, encryption(r.box, 'v6'));
  t.deepEqual(await r.driver.listManageable(), []);
  await t.throwsAsync(r.driver.manageExisting('v7', 'volume-v6.key'), { instanceOf: DriverError, message: /is the key of an encrypted Flint volume/ });
  await t.throwsAsync(r.driver.unmanage('v6'), { instanceOf: DriverError, message: /is encrypted/ });
  t.true((await r.driver.getVolume('v6'))!.encrypted);
});

function imageOpts(image: { path: string; format: 'raw' | 'qcow2' }, secret: string): string {
  return image.format === 'qcow2'
    ? `driver=qcow2,file.driver=file,file.filename=${image.path},encrypt.key-secret=${secret}`
    : `driver=luks,file.driver=file,file.filename=${image.path},key-secret=${secret}`;
}

test.after.always('no process is left behind', noProcessesLeft);
