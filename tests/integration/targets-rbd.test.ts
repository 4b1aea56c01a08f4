/**
 * The export targets serving RBD images (issue 13, "Exports"), against a real Ceph cluster
 * (tests/helpers/ceph.ts: a pool and a cephx user of this file's own, whose keyring the
 * cluster's conf does not name): iSCSI through tgt's rbd backing store, no FUSE daemon in
 * between, with CHAP and the initiator ACL; NBD through qemu-nbd on the `rbd:` file name. The
 * images are made with `rbd create` and described as the rbd driver's `imageSource` does.
 */
import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../src/net/free-port.js';
import type { ImageSource } from '../../src/node-agent/drivers/index.js';
import { createTargets, type ExportRequest, type IscsiConnection, type NbdConnection, type Target } from '../../src/node-agent/targets/index.js';
import { testRbdPool, type TestRbdPool } from '../helpers/ceph.js';
import { run } from '../helpers/command.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const INITIATOR = 'iqn.2026-11.io.flint.test:rbd-initiator';
const CHAP = { username: 'flint-rbd-user', password: 'S3cret-Rbd-Chap1' };
const MiB = 1024 ** 2;

let pool: TestRbdPool | undefined;
const rbdPool = async (): Promise<TestRbdPool> => (pool ??= await testRbdPool());
test.after.always(async () => {
  await pool?.remove();
});

async function rbd(p: TestRbdPool, args: readonly string[]): Promise<void> {
  const r = await run('rbd', ['-c', p.conf, '--id', p.user, '--keyring', p.keyring, ...args]);
  if (r.code !== 0) throw new Error(`rbd ${args.join(' ')}: ${r.out}`);
}

/** A new image of `sizeMiB` and its `ImageSource` as the rbd driver gives it. */
async function image(p: TestRbdPool, name: string, sizeMiB: number, snapshot?: string): Promise<ImageSource> {
  if (!snapshot) await rbd(p, ['create', '--size', `${sizeMiB}M`, `${p.rbdPool}/${name}`]);
  const location = { pool: p.rbdPool, image: name, ...(snapshot ? { snapshot } : {}), conf: p.conf, user: p.user, keyring: p.keyring };
  const path = `rbd:${p.rbdPool}/${name}${snapshot ? `@${snapshot}` : ''}:conf=${p.conf}:id=${p.user}:keyring=${p.keyring}`;
  return { path, format: 'raw', sizeBytes: sizeMiB * MiB, rbd: location };
}

async function targetsRig(t: ExecutionContext, kind: 'iscsi' | 'nbd'): Promise<Target> {
  const tmp = await tempDir('flint-rbd-targets-');
  const first = await freePort();
  const targets = createTargets({ host: 'rbd-node', address: '127.0.0.1', stateDir: join(tmp.path, 'state'), iscsiPort: await freePort(), nbdPortRange: [first, Math.min(65535, first + 3)], processes: testProcesses(t) });
  const target = targets.get(kind)!;
  t.teardown(async () => {
    await target.shutdown();
    await tmp.cleanup();
  });
  await target.setup();
  return target;
}

function iscsiUrl(c: IscsiConnection): string {
  return `iscsi://${CHAP.username}%${CHAP.password}@${c.targetPortal}/${c.targetIqn}/${c.targetLun}`;
}

async function capacity(c: IscsiConnection): Promise<number> {
  const { code, out } = await run('iscsi-readcapacity16', ['-i', INITIATOR, iscsiUrl(c)]);
  if (code !== 0) throw new Error(`iscsi-readcapacity16 failed: ${out}`);
  return Number(/Total size:(\d+)/.exec(out)?.[1]);
}

function iscsiOpts(c: IscsiConnection): string {
  return [`driver=raw`, `file.driver=iscsi`, `file.transport=tcp`, `file.portal=${c.targetPortal}`, `file.target=${c.targetIqn}`, `file.lun=${c.targetLun}`, `file.user=${CHAP.username}`, `file.password=${CHAP.password}`, `file.initiator-name=${INITIATOR}`].join(',');
}

/** sha256 of the first `bytes` of an image, copied out with qemu-img (`source`: its qemu-img arguments). */
async function sha256Of(t: ExecutionContext, source: readonly string[], bytes: number): Promise<string> {
  const tmp = await tempDir('flint-rbd-sum-');
  t.teardown(() => tmp.cleanup());
  const out = join(tmp.path, 'copy.raw');
  const r = await run('qemu-img', ['dd', ...source, 'bs=1M', `count=${bytes / MiB}`, `of=${out}`, '-O', 'raw']);
  if (r.code !== 0) throw new Error(`qemu-img dd: ${r.out}`);
  return createHash('sha256').update(await readFile(out)).digest('hex');
}

test('an RBD image is exported over iSCSI by tgt\'s rbd backing store with CHAP and the ACL; bytes written through it are the image\'s', async (t) => {
  const p = await rbdPool();
  const img = await image(p, 'iscsi-1', 64);
  const target = await targetsRig(t, 'iscsi');
  const req: ExportRequest = { attachmentId: 'att-r1', volumeId: 'r1', image: img, mode: 'rw', initiator: INITIATOR, chap: CHAP };
  const c = (await target.export(req)) as IscsiConnection;
  t.like(c, { driverVolumeType: 'iscsi', targetLun: 1, accessMode: 'rw' });
  t.deepEqual(await target.export(req), c, 'exporting again returns the same connection (tgt shows the rbd LUN as made)');
  t.is(await capacity(c), 64 * MiB);

  const io = await run('qemu-io', ['--image-opts', iscsiOpts(c), '-c', 'write -P 0xc3 1M 3M', '-c', 'write -P 0x3c 7M 512k']);
  t.is(io.code, 0, io.out);
  const refused = await run('qemu-io', ['-r', '--image-opts', iscsiOpts(c).replace(INITIATOR, 'iqn.2026-11.io.flint.test:intruder'), '-c', 'read 0 4k']);
  t.not(refused.code, 0, 'another initiator is refused');
  // qemu-img dd takes no --image-opts: the iSCSI source as a json: file name.
  const iscsiJson = { driver: 'raw', file: { driver: 'iscsi', transport: 'tcp', portal: c.targetPortal, target: c.targetIqn, lun: 1, user: CHAP.username, password: CHAP.password, 'initiator-name': INITIATOR } };
  const throughExport = await sha256Of(t, [`if=json:${JSON.stringify(iscsiJson)}`], 8 * MiB);
  const inCeph = await sha256Of(t, ['-f', 'raw', `if=${img.path}`], 8 * MiB);
  t.is(throughExport, inCeph, 'the bytes read through iSCSI are the bytes in the RBD image');
  const direct = await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0xc3 1M 3M', '-c', 'read -P 0x3c 7M 512k', img.path]);
  t.is(direct.code, 0, direct.out);

  await target.unexport('att-r1');
  t.deepEqual(await target.list(), []);
});

test('an RBD image grown while exported over iSCSI is seen at its new size after refreshSize, its data intact', async (t) => {
  const p = await rbdPool();
  const img = await image(p, 'iscsi-grow', 64);
  const target = await targetsRig(t, 'iscsi');
  const c = (await target.export({ attachmentId: 'att-r2', volumeId: 'r2', image: img, mode: 'rw', initiator: INITIATOR, chap: CHAP })) as IscsiConnection;
  const w = await run('qemu-io', ['--image-opts', iscsiOpts(c), '-c', 'write -P 0x77 60M 4M']);
  t.is(w.code, 0, w.out);
  await rbd(p, ['resize', '--size', '128M', `${p.rbdPool}/iscsi-grow`]);
  t.is(await capacity(c), 64 * MiB, 'tgt does not notice a grown image by itself');
  await target.refreshSize('att-r2');
  t.is(await capacity(c), 128 * MiB);
  const r = await run('qemu-io', ['--image-opts', iscsiOpts(c), '-c', 'read -P 0x77 60M 4M', '-c', 'write -P 0x78 120M 1M', '-c', 'read -P 0x78 120M 1M']);
  t.is(r.code, 0, r.out);
  await target.unexport('att-r2');
});

test('an RBD snapshot is exported read-only over iSCSI with the bytes it was taken with', async (t) => {
  const p = await rbdPool();
  const img = await image(p, 'iscsi-snap', 64);
  const w = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x51 0 1M', img.path]);
  t.is(w.code, 0, w.out);
  await rbd(p, ['snap', 'create', `${p.rbdPool}/iscsi-snap@s1`]);
  const w2 = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x52 0 1M', img.path]);
  t.is(w2.code, 0, w2.out);
  const target = await targetsRig(t, 'iscsi');
  const c = (await target.export({ attachmentId: 'att-r3', volumeId: 'r3', image: await image(p, 'iscsi-snap', 64, 's1'), mode: 'ro', initiator: INITIATOR, chap: CHAP })) as IscsiConnection;
  const r = await run('qemu-io', ['-r', '--image-opts', iscsiOpts(c), '-c', 'read -P 0x51 0 1M']);
  t.is(r.code, 0, r.out);
  await target.unexport('att-r3');
});

test('an RBD image is exported over NBD by qemu-nbd on its rbd: file name; bytes written through it are the image\'s', async (t) => {
  const p = await rbdPool();
  const img = await image(p, 'nbd-1', 64);
  const target = await targetsRig(t, 'nbd');
  const c = (await target.export({ attachmentId: 'att-n1', volumeId: 'n1', image: img, mode: 'rw' })) as NbdConnection;
  t.like(c, { driverVolumeType: 'nbd', exportName: 'att-n1', accessMode: 'rw' });
  const size = await run('nbdinfo', ['--size', c.uri]);
  t.is(size.out.trim(), String(64 * MiB), size.out);
  const io = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x9e 2M 2M', '-c', 'read -P 0x9e 2M 2M', c.uri]);
  t.is(io.code, 0, io.out);
  t.is(await sha256Of(t, ['-f', 'raw', `if=${c.uri}`], 8 * MiB), await sha256Of(t, ['-f', 'raw', `if=${img.path}`], 8 * MiB));
  await target.unexport('att-n1');
  const direct = await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x9e 2M 2M', img.path]);
  t.is(direct.code, 0, direct.out);
});

test.after.always('no process is left behind', noProcessesLeft);
