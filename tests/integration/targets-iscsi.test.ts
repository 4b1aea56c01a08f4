/**
 * The iSCSI target against real processes: its own tgtd, qemu-storage-daemon for qcow2, and
 * independent initiators (qemu-io/qemu-img through libiscsi, iscsi-inq, iscsi-ls,
 * iscsi-readcapacity16) logging in with the connection data the target returns.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../../src/net/free-port.js';
import { DriverError, FileDriver } from '../../src/node-agent/index.js';
import { createTargets, IscsiTarget, type ExportRequest, type IscsiConnection } from '../../src/node-agent/targets/index.js';
import { fuseMountsUnder } from '../../src/node-agent/targets/fuse-export.js';
import { commandOf } from '../../src/node-agent/targets/proc-util.js';
import { setUpFileDriver } from '../helpers/file-pool.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';
import { run } from '../helpers/command.js';

const execFileAsync = promisify(execFile);
const INITIATOR = 'iqn.2026-11.io.flint.test:initiator-1';
const OTHER_INITIATOR = 'iqn.2026-11.io.flint.test:intruder';
const CHAP = { username: 'flint-att-user', password: 'S3cret-Chap-Pass1' };

interface Rig {
  target: IscsiTarget;
  driver: FileDriver;
  dir: string;
}

async function rig(t: ExecutionContext, imageFormat: 'raw' | 'qcow2'): Promise<Rig> {
  const tmp = await tempDir('flint-iscsi-');
  const d = await setUpFileDriver(tmp.path, { imageFormat });
  const targets = createTargets({ host: 'Node-1.test', address: '127.0.0.1', stateDir: join(tmp.path, 'state'), iscsiPort: await freePort(), nbdPortRange: [20000, 20010], processes: testProcesses(t) });
  const target = targets.get('iscsi') as IscsiTarget;
  t.teardown(async () => {
    await target.shutdown();
    await tmp.cleanup();
  });
  await target.setup();
  return { target, driver: d, dir: tmp.path };
}

async function request(r: Rig, volumeId: string, extra: Partial<ExportRequest> = {}): Promise<ExportRequest> {
  return { attachmentId: `att-${volumeId}`, volumeId, image: await r.driver.imageSource(volumeId), mode: 'rw', initiator: INITIATOR, chap: CHAP, ...extra };
}

function imageOpts(c: IscsiConnection, login: { user?: string; password?: string; initiator?: string } = {}): string {
  const opts = [`driver=raw`, `file.driver=iscsi`, `file.transport=tcp`, `file.portal=${c.targetPortal}`, `file.target=${c.targetIqn}`, `file.lun=${c.targetLun}`];
  const user = login.user ?? CHAP.username;
  if (user) opts.push(`file.user=${user}`, `file.password=${login.password ?? CHAP.password}`);
  opts.push(`file.initiator-name=${login.initiator ?? INITIATOR}`);
  return opts.join(',');
}

function qemuIo(c: IscsiConnection, commands: readonly string[], login: Parameters<typeof imageOpts>[1] = {}, readOnly = false): Promise<{ code: number; out: string }> {
  return run('qemu-io', [...(readOnly ? ['-r'] : []), '--image-opts', imageOpts(c, login), ...commands.flatMap((x) => ['-c', x])]);
}

function url(c: IscsiConnection, lun = true): string {
  return `iscsi://${CHAP.username}%${CHAP.password}@${c.targetPortal}${lun ? `/${c.targetIqn}/${c.targetLun}` : ''}`;
}

async function capacity(c: IscsiConnection): Promise<number> {
  const { code, out } = await run('iscsi-readcapacity16', ['-i', INITIATOR, url(c)]);
  if (code !== 0) throw new Error(`iscsi-readcapacity16 failed: ${out}`);
  return Number(/Total size:(\d+)/.exec(out)?.[1]);
}

async function listedTargets(c: IscsiConnection): Promise<string> {
  return (await run('iscsi-ls', ['-i', INITIATOR, url(c, false)])).out;
}

async function imageHolds(image: { path: string; format: string }, pattern: string, offset: string, length: string): Promise<boolean> {
  return (await run('qemu-io', ['-r', '-f', image.format, '-c', `read -P ${pattern} ${offset} ${length}`, image.path])).code === 0;
}

for (const format of ['raw', 'qcow2'] as const) {
  test(`a ${format} volume exported with CHAP and an initiator ACL is written and read by qemu-io, and the bytes land in the image`, async (t) => {
    const r = await rig(t, format);
    await r.driver.createVolume('v1', 1);
    const req = await request(r, 'v1');
    const c = (await r.target.export(req)) as IscsiConnection;
    t.like(c, { driverVolumeType: 'iscsi', targetIqn: 'iqn.2026-11.io.flint:node-1.test:att-v1', targetLun: 1, accessMode: 'rw' });
    t.regex(c.targetPortal, /^127\.0\.0\.1:\d+$/);
    t.deepEqual(await r.target.export(req), c, 'exporting again returns the same connection');
    t.deepEqual(await r.target.list(), ['att-v1']);

    const io = await qemuIo(c, ['write -P 0xa5 1M 2M', 'read -P 0xa5 1M 2M']);
    t.is(io.code, 0, io.out);
    const inq = await run('iscsi-inq', ['-i', INITIATOR, url(c)]);
    t.is(inq.code, 0, inq.out);
    t.regex(inq.out, /DIRECT_ACCESS/);
    t.is(await capacity(c), 1024 ** 3);
    t.regex(await listedTargets(c), new RegExp(`Target:${c.targetIqn.replace(/\./g, '\\.')}`));

    await r.target.unexport('att-v1');
    t.deepEqual(await r.target.list(), []);
    t.notRegex(await listedTargets(c), /Target:/, 'the target is gone after unexport');
    t.true(await imageHolds(req.image, '0xa5', '1M', '2M'), 'the pattern is in the image file');
    await r.target.unexport('att-v1'); // a missing export is success
  });
}

/** Bytes of `image` holding data (not holes, not zero clusters) in [0, `length`), by `qemu-img map`. */
async function allocatedBytes(image: { path: string; format: string }, length: number): Promise<number> {
  const { stdout } = await execFileAsync('qemu-img', ['map', '--output=json', '-f', image.format, image.path]);
  const extents = JSON.parse(stdout) as { start: number; length: number; data: boolean; zero: boolean }[];
  return extents.filter((e) => e.data && !e.zero && e.start < length).reduce((n, e) => n + Math.min(e.length, length - e.start), 0);
}

// 64 MiB: initiators split WRITE SAME at 65535 blocks, so the zeros arrive in ranges that are
// not aligned to qcow2's 64 KiB clusters; every range boundary is where old data could survive.
const ZEROED = 64 * 1024 ** 2;

/** Writes a pattern over [0, ZEROED) through `c`, then zeros (WRITE SAME, unmap allowed, as a guest's block layer sends them). */
async function zeroOverData(t: ExecutionContext, c: IscsiConnection): Promise<void> {
  t.is((await qemuIo(c, [`write -P 0xab 0 ${ZEROED}`])).code, 0);
  const zeros = await run('qemu-io', ['--image-opts', `${imageOpts(c)},discard=unmap`, '-c', `write -z -u 0 ${ZEROED}`]);
  t.is(zeros.code, 0, zeros.out);
  const back = await qemuIo(c, [`read -P 0 0 ${ZEROED}`], {}, true);
  t.is(back.code, 0, `the zeros read back through the target, not the old data: ${back.out}`);
}

test('zeros written over old data of a raw volume through iSCSI read back as zeros and leave the image thin (thin-provisioned LUN, UNMAP)', async (t) => {
  const r = await rig(t, 'raw');
  await r.driver.createVolume('z1', 1);
  const req = await request(r, 'z1');
  const c = (await r.target.export(req)) as IscsiConnection;
  t.true(c.discard, 'the connection says the target passes discards down');
  await zeroOverData(t, c);
  await r.target.unexport(req.attachmentId);
  t.true(await imageHolds(req.image, '0', '0', String(ZEROED)), 'the image holds zeros');
  // Holes are punched in whole filesystem blocks: a block a range boundary cuts stays (zeroed).
  const allocated = await allocatedBytes(req.image, ZEROED);
  t.true(allocated <= 64 * 1024, `and keeps (nearly) nothing allocated there: ${allocated} bytes of ${ZEROED}`);
});

test('zeros written over old data of a qcow2 volume through iSCSI read back as zeros (its LUN is not thin: partial-cluster holes would keep old data)', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('z2', 1);
  const req = await request(r, 'z2');
  const c = (await r.target.export(req)) as IscsiConnection;
  t.false(c.discard);
  await zeroOverData(t, c);
  await r.target.unexport(req.attachmentId);
  t.true(await imageHolds(req.image, '0', '0', String(ZEROED)), 'the image holds zeros');
});

test('a wrong CHAP secret and a foreign initiator are refused by the target', async (t) => {
  const r = await rig(t, 'raw');
  await r.driver.createVolume('v2', 1);
  const c = (await r.target.export(await request(r, 'v2'))) as IscsiConnection;
  const wrong = await qemuIo(c, ['read 0 4k'], { password: 'not-the-password-1' }, true);
  t.is(wrong.code, 1);
  t.regex(wrong.out, /Authentication failure/);
  const foreign = await qemuIo(c, ['read 0 4k'], { initiator: OTHER_INITIATOR }, true);
  t.is(foreign.code, 1);
  t.regex(foreign.out, /Target not found/);
  const none = await qemuIo(c, ['read 0 4k'], { user: '' }, true);
  t.not(none.code, 0, 'a login without CHAP is refused');
  t.is((await qemuIo(c, ['read 0 4k'], {}, true)).code, 0, 'the right initiator and secret log in');
});

test('a read-only export refuses writes and serves reads', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('v3', 1);
  const req = await request(r, 'v3', { mode: 'ro' });
  const c = (await r.target.export(req)) as IscsiConnection;
  t.is(c.accessMode, 'ro');
  const write = await qemuIo(c, ['write -P 0x11 0 64k']);
  t.not(write.code, 0);
  t.regex(write.out, /write protected/i);
  const read = await qemuIo(c, ['read -P 0 0 64k'], {}, true);
  t.is(read.code, 0, read.out);
  await r.target.unexport('att-v3');
  t.true(await imageHolds(req.image, '0', '0', '64k'), 'nothing was written');
});

test('after a raw volume grows, refreshSize makes the initiator see the new capacity', async (t) => {
  const r = await rig(t, 'raw');
  await r.driver.createVolume('v4', 1);
  const c = (await r.target.export(await request(r, 'v4'))) as IscsiConnection;
  t.is(await capacity(c), 1024 ** 3);
  await execFileAsync('qemu-img', ['resize', '-f', 'raw', (await r.driver.imageSource('v4')).path, '2G']);
  t.is(await capacity(c), 1024 ** 3, 'tgt does not notice a grown backing file by itself');
  await r.target.refreshSize('att-v4');
  t.is(await capacity(c), 2 * 1024 ** 3);
});

test('a qcow2 volume grows while exported through growWhileExported, and the initiator sees it with the data intact', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('v5', 1);
  const c = (await r.target.export(await request(r, 'v5'))) as IscsiConnection;
  t.is((await qemuIo(c, ['write -P 0x5a 0 1M'])).code, 0);
  const resize = await run('qemu-img', ['resize', '-f', 'qcow2', (await r.driver.imageSource('v5')).path, '2G']);
  t.not(resize.code, 0, 'qemu-storage-daemon holds the lock of the exported qcow2 image');
  const info = await r.target.growWhileExported('att-v5', () => r.driver.extendVolume('v5', 3));
  t.is(info.sizeBytes, 3 * 1024 ** 3);
  t.is(await capacity(c), 3 * 1024 ** 3);
  t.is((await qemuIo(c, ['read -P 0x5a 0 1M'], {}, true)).code, 0);
});

test('two attachments of one qcow2 volume share its FUSE export, and unexporting one leaves the other working', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('v12', 1);
  const one = (await r.target.export(await request(r, 'v12', { attachmentId: 'att-one', chap: { username: 'user-one', password: 'secret-one-12345' } }))) as IscsiConnection;
  const two = (await r.target.export(await request(r, 'v12', { attachmentId: 'att-two', mode: 'ro', chap: { username: 'user-two', password: 'secret-two-12345' } }))) as IscsiConnection;
  t.not(one.targetIqn, two.targetIqn);
  t.is((await processesMentioning(join(r.dir, 'state'))).length, 1, 'one qemu-storage-daemon for the image');
  t.is((await qemuIo(one, ['write -P 0x1f 0 1M'], { user: 'user-one', password: 'secret-one-12345' })).code, 0);
  t.is((await qemuIo(two, ['read -P 0x1f 0 1M'], { user: 'user-two', password: 'secret-two-12345' }, true)).code, 0, 'the read-only attachment sees the write');
  t.not((await qemuIo(two, ['write 0 4k'], { user: 'user-two', password: 'secret-two-12345' })).code, 0, 'and cannot write');
  await r.target.unexport('att-one');
  t.deepEqual(await r.target.list(), ['att-two']);
  t.is((await qemuIo(two, ['read -P 0x1f 0 1M'], { user: 'user-two', password: 'secret-two-12345' }, true)).code, 0);
  await r.target.unexport('att-two');
  t.deepEqual(await processesMentioning(join(r.dir, 'state')), [], 'the daemon stops with the last attachment');
});

test('unexport works while an initiator is logged in, and the target is gone afterwards', async (t) => {
  const r = await rig(t, 'raw');
  await r.driver.createVolume('v6', 1);
  const c = (await r.target.export(await request(r, 'v6'))) as IscsiConnection;
  // An interactive qemu-io keeps its iSCSI session open until its stdin closes.
  const session = spawn('qemu-io', ['--image-opts', imageOpts(c)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  session.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise((resolve) => session.once('exit', resolve));
  t.teardown(() => {
    session.kill('SIGKILL');
  });
  session.stdin.write('write -P 0x77 0 4k\n');
  for (let i = 0; i < 200 && !out.includes('wrote'); i++) await sleep(50);
  t.regex(out, /wrote 4096/, 'the session is logged in and writing');
  const conns = await execFileAsync('tgtadm', ['-C', String(r.target.controlPort), '--lld', 'iscsi', '--op', 'show', '--mode', 'conn', '--tid', '1']);
  t.regex(conns.stdout, new RegExp(`Initiator: ${INITIATOR}`));

  await r.target.unexport('att-v6');
  t.deepEqual(await r.target.list(), []);
  t.notRegex(await listedTargets(c), /Target:/);
  // qemu's iSCSI driver keeps trying to reconnect to the vanished target: end it.
  session.kill('SIGKILL');
  await exited;
});

test('after tgtd is killed, reconcile brings the export back and its data is readable', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('v7', 1);
  const req = await request(r, 'v7');
  const c = (await r.target.export(req)) as IscsiConnection;
  t.is((await qemuIo(c, ['write -P 0x3c 0 1M'])).code, 0);
  const pid = r.target.tgtdPid!;
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && (await commandOf(pid)) !== ''; i++) await sleep(50);
  t.is(await commandOf(pid), '', 'the old tgtd is dead');

  await r.target.reconcile([req]);
  t.not(r.target.tgtdPid, pid, 'a new tgtd runs');
  t.deepEqual(await r.target.list(), ['att-v7']);
  t.is((await qemuIo(c, ['read -P 0x3c 0 1M'], {}, true)).code, 0);
  t.is((await qemuIo(c, ['read 0 4k'], { password: 'not-the-password-1' }, true)).code, 1, 'CHAP is back too');
});

test('a killed tgtd is restarted by the target itself with every export it had', async (t) => {
  const r = await rig(t, 'raw');
  await r.driver.createVolume('v10', 1);
  const c = (await r.target.export(await request(r, 'v10'))) as IscsiConnection;
  t.is((await qemuIo(c, ['write -P 0x21 0 64k'])).code, 0);
  const pid = r.target.tgtdPid!;
  process.kill(pid, 'SIGKILL');
  // No reconcile: the next call finds (or has already made) a new tgtd with the export in it.
  t.deepEqual(await r.target.list(), ['att-v10']);
  t.not(r.target.tgtdPid, pid);
  t.is((await qemuIo(c, ['read -P 0x21 0 64k'], {}, true)).code, 0);
  t.is((await qemuIo(c, ['read 0 4k'], { initiator: OTHER_INITIATOR }, true)).code, 1, 'the ACL is back too');
});

test('a new target on the state dir of a killed agent stops the tgtd and daemons it left, and reconcile re-creates the exports', async (t) => {
  const tmp = await tempDir('flint-iscsi-restart-');
  t.teardown(tmp.cleanup);
  const d = await setUpFileDriver(tmp.path);
  await d.createVolume('v11', 1);
  const opts = { host: 'node-1', address: '127.0.0.1', stateDir: join(tmp.path, 'state'), iscsiPort: await freePort(), nbdPortRange: [1, 1] as [number, number] };
  const req: ExportRequest = { attachmentId: 'att-v11', volumeId: 'v11', image: await d.imageSource('v11'), mode: 'rw', initiator: INITIATOR, chap: CHAP };
  // The "old agent" is another Node process that exports and is then SIGKILLed: its tgtd and
  // qemu-storage-daemon outlive it, as they would outlive a crashed agent.
  const module = new URL('../../src/node-agent/targets/index.js', import.meta.url).href;
  const lifecycle = new URL('../../src/lifecycle/index.js', import.meta.url).href;
  const script = `const { IscsiTarget } = await import(${JSON.stringify(module)});
    const { ProcessGroup } = await import(${JSON.stringify(lifecycle)});
    const t = new IscsiTarget({ ...${JSON.stringify(opts)}, processes: new ProcessGroup('old agent') }); await t.setup();
    const c = await t.export(${JSON.stringify(req)});
    process.stdout.write(JSON.stringify({ c, tgtd: t.tgtdPid }) + '\\n');
    setInterval(() => {}, 1000);`;
  const old = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const oldExit = new Promise((resolve) => old.once('exit', resolve));
  t.teardown(() => {
    old.kill('SIGKILL');
  });
  let line = '';
  old.stdout.setEncoding('utf8');
  for await (const chunk of old.stdout) {
    line += String(chunk);
    if (line.includes('\n')) break;
  }
  const { c, tgtd: oldTgtd } = JSON.parse(line) as { c: IscsiConnection; tgtd: number };
  t.is((await qemuIo(c, ['write -P 0x99 0 1M'])).code, 0);
  old.kill('SIGKILL');
  await oldExit;
  t.not(await commandOf(oldTgtd), '', 'the old tgtd outlived its agent');
  t.is((await processesMentioning(opts.stateDir)).length, 1, 'and so did its qemu-storage-daemon');

  const fresh = new IscsiTarget({ ...opts, processes: testProcesses(t) });
  t.teardown(() => fresh.shutdown());
  await fresh.setup();
  t.is(await commandOf(oldTgtd), '', 'the old tgtd is stopped');
  t.deepEqual(await processesMentioning(opts.stateDir), [], 'the old daemon is stopped');
  t.deepEqual(await fuseMountsUnder(opts.stateDir), []);
  t.deepEqual(await fresh.list(), []);
  await fresh.reconcile([req]);
  t.deepEqual(await fresh.list(), ['att-v11']);
  t.is((await qemuIo(c, ['read -P 0x99 0 1M'], {}, true)).code, 0);
  t.is((await processesMentioning(opts.stateDir)).length, 1, 'one qemu-storage-daemon, the new one');
});

test('reconcile removes exports it is not given and re-creates missing ones', async (t) => {
  const r = await rig(t, 'raw');
  await r.driver.createVolume('a', 1);
  await r.driver.createVolume('b', 1);
  const a = await request(r, 'a', { chap: { username: 'user-a', password: 'secret-a-123456' } });
  const b = await request(r, 'b', { chap: { username: 'user-b', password: 'secret-b-123456' } });
  await r.target.export(a);
  await r.target.export(b);
  t.deepEqual((await r.target.list()).sort(), ['att-a', 'att-b']);
  await r.target.reconcile([a]);
  t.deepEqual(await r.target.list(), ['att-a']);
  await r.target.unexport('att-a');
  await r.target.reconcile([a, b]);
  t.deepEqual((await r.target.list()).sort(), ['att-a', 'att-b']);
  const accounts = await execFileAsync('tgtadm', ['-C', String(r.target.controlPort), '--lld', 'iscsi', '--op', 'show', '--mode', 'account']);
  t.deepEqual(accounts.stdout.split('\n').slice(1).map((l) => l.trim()).filter(Boolean).sort(), ['user-a', 'user-b']);
});

test('shutdown stops tgtd and qemu-storage-daemon and leaves no FUSE mount', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('v8', 1);
  await r.target.export(await request(r, 'v8'));
  const stateDir = join(r.dir, 'state');
  t.is((await fuseMountsUnder(stateDir)).length, 1);
  const tgtd = r.target.tgtdPid!;
  const daemons = await processesMentioning(stateDir);
  t.is(daemons.length, 1, 'one qemu-storage-daemon serves the qcow2 LUN');
  await r.target.shutdown();
  t.is(await commandOf(tgtd), '');
  t.deepEqual(await processesMentioning(stateDir), []);
  t.deepEqual(await fuseMountsUnder(stateDir), []);
});

test('bad requests are refused with a DriverError before anything is made', async (t) => {
  const r = await rig(t, 'raw');
  await r.driver.createVolume('v9', 1);
  const bad = await request(r, 'v9', { initiator: 'not an iqn' });
  const err = await t.throwsAsync(r.target.export(bad), { instanceOf: DriverError });
  t.regex(err!.message, /not an iSCSI qualified name/);
  t.false(err!.message.includes(CHAP.password));
  await t.throwsAsync(r.target.export(await request(r, 'v9', { chap: { username: 'u', password: 'short' } })), { instanceOf: DriverError, message: /CHAP secret/ });
  t.deepEqual(await r.target.list(), []);
  // In a reconcile a bad request fails alone: the good one is exported.
  const good = await request(r, 'v9');
  const failed = await t.throwsAsync(r.target.reconcile([{ ...bad, attachmentId: 'att-bad' }, good]), { instanceOf: DriverError });
  t.regex(failed!.message, /1 of 2 exports could not be restored/);
  t.deepEqual(await r.target.list(), ['att-v9']);
});

async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await commandOf(Number(entry));
    if (cmd.includes(text) && !cmd.includes('ava')) found.push(cmd);
  }
  return found;
}

test.after.always('no process is left behind', noProcessesLeft);
