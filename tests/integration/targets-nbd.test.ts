/**
 * The NBD target against real server processes (qemu-nbd for raw images, qemu-storage-daemon
 * for qcow2 ones), checked with nbdinfo and qemu-io: reads and writes, read-only exports,
 * ports, growth, reconcile, and internal snapshots of a qcow2 export taken through the
 * daemon's QMP monitor while a client stays connected.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/net/free-port.js';
import { DriverError, FileDriver } from '../../src/node-agent/index.js';
import { createTargets, type ExportRequest, type NbdConnection, type Target } from '../../src/node-agent/targets/index.js';
import { commandOf } from '../../src/node-agent/targets/proc-util.js';
import { setUpFileDriver } from '../helpers/file-pool.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';
import { run } from '../helpers/command.js';

const execFileAsync = promisify(execFile);

interface Rig {
  target: Target;
  driver: FileDriver;
  range: [number, number];
  stateDir: string;
}

async function rig(t: ExecutionContext, imageFormat: 'raw' | 'qcow2', width = 3): Promise<Rig> {
  const tmp = await tempDir('flint-nbdt-');
  const d = await setUpFileDriver(tmp.path, { imageFormat });
  const first = await freePort();
  const range: [number, number] = [first, Math.min(65535, first + width - 1)];
  const target = createTargets({ host: 'node-1', address: '127.0.0.1', stateDir: join(tmp.path, 'state'), iscsiPort: 1, nbdPortRange: range, processes: testProcesses(t) }).get('nbd')!;
  t.teardown(async () => {
    await target.shutdown();
    await tmp.cleanup();
  });
  await target.setup();
  return { target, driver: d, range, stateDir: join(tmp.path, 'state') };
}

async function request(r: Rig, volumeId: string, mode: 'rw' | 'ro' = 'rw'): Promise<ExportRequest> {
  return { attachmentId: `att-${volumeId}`, volumeId, image: await r.driver.imageSource(volumeId), mode };
}

async function size(uri: string): Promise<number> {
  const { code, out } = await run('nbdinfo', ['--size', uri]);
  if (code !== 0) throw new Error(out);
  return Number(out.trim());
}

for (const format of ['raw', 'qcow2'] as const) {
  test(`a ${format} volume exported over NBD is written and read by qemu-io, sized by nbdinfo, and gone after unexport`, async (t) => {
    const r = await rig(t, format);
    await r.driver.createVolume('v1', 1);
    const req = await request(r, 'v1');
    const c = (await r.target.export(req)) as NbdConnection;
    t.like(c, { driverVolumeType: 'nbd', host: '127.0.0.1', exportName: 'att-v1', accessMode: 'rw' });
    t.true(c.port >= r.range[0] && c.port <= r.range[1]);
    t.is(c.uri, `nbd://127.0.0.1:${c.port}/att-v1`);
    t.deepEqual(await r.target.export(req), c, 'exporting again returns the same connection');
    t.is(await size(c.uri), 1024 ** 3);
    const io = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x6b 4M 1M', '-c', 'read -P 0x6b 4M 1M', c.uri]);
    t.is(io.code, 0, io.out);
    t.deepEqual(await r.target.list(), ['att-v1']);

    await r.target.unexport('att-v1');
    t.deepEqual(await r.target.list(), []);
    t.not((await run('nbdinfo', ['--size', c.uri])).code, 0, 'nothing serves the export any more');
    const file = await run('qemu-io', ['-r', '-f', format, '-c', 'read -P 0x6b 4M 1M', req.image.path]);
    t.is(file.code, 0, file.out);
    await r.target.unexport('att-v1');
  });
}

for (const format of ['raw', 'qcow2'] as const) {
  test(`a read-only NBD export of a ${format} volume refuses writes`, async (t) => {
    const r = await rig(t, format);
    await r.driver.createVolume('v2', 1);
    const c = (await r.target.export(await request(r, 'v2', 'ro'))) as NbdConnection;
    t.is(c.accessMode, 'ro');
    const write = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x11 0 4k', c.uri]);
    t.not(write.code, 0);
    t.regex(write.out, /read-only|Permission denied|Operation not permitted/i);
    t.is((await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0 0 4k', c.uri])).code, 0);
  });
}

test('each export gets its own port of the range, and a full range is an error', async (t) => {
  const r = await rig(t, 'raw', 2);
  for (const v of ['a', 'b', 'c']) await r.driver.createVolume(v, 1);
  const a = (await r.target.export(await request(r, 'a'))) as NbdConnection;
  const b = (await r.target.export(await request(r, 'b'))) as NbdConnection;
  t.not(a.port, b.port);
  await t.throwsAsync(r.target.export(await request(r, 'c')), { instanceOf: DriverError, message: /no free port/ });
  await r.target.reconcile([await request(r, 'b')]);
  t.deepEqual(await r.target.list(), ['att-b']);
  const c = (await r.target.export(await request(r, 'c'))) as NbdConnection;
  t.is(c.port, a.port, 'the freed port is reused');
});

for (const format of ['raw', 'qcow2'] as const) {
  test(`a ${format} volume grown while exported is seen with its new size by the next client, on the same port`, async (t) => {
    const r = await rig(t, format);
    await r.driver.createVolume('v3', 1);
    const c = (await r.target.export(await request(r, 'v3'))) as NbdConnection;
    t.is((await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x42 0 64k', c.uri])).code, 0);
    await r.target.growWhileExported('att-v3', () => r.driver.extendVolume('v3', 2));
    t.is(await size(c.uri), 2 * 1024 ** 3);
    t.is((await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x42 0 64k', c.uri])).code, 0);
    const w = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x43 1536M 64k', '-c', 'read -P 0x43 1536M 64k', c.uri]);
    t.is(w.code, 0, w.out);
    t.deepEqual(await r.target.export(await request(r, 'v3')), c, 'the same connection');
  });
}

/**
 * Waits (up to 5 s) until a killed server is gone and its target has seen it exit: the process
 * leaves /proc (a zombie's command line is empty) before the target's exit event arrives.
 */
async function untilGone(r: Rig, pid: number): Promise<void> {
  for (let i = 0; i < 100 && ((await commandOf(pid)) !== '' || (await r.target.list()).length > 0); i++) await new Promise((resolve) => setTimeout(resolve, 50));
}

test('reconcile restarts an export whose qemu-nbd died, and shutdown stops every qemu-nbd', async (t) => {
  const r = await rig(t, 'raw');
  await r.driver.createVolume('v4', 1);
  const req = await request(r, 'v4');
  const c = (await r.target.export(req)) as NbdConnection;
  const pid = await pidServing(c.port);
  process.kill(pid, 'SIGKILL');
  await untilGone(r, pid);
  t.deepEqual(await r.target.list(), [], 'a dead server is not listed');
  await r.target.reconcile([req]);
  t.deepEqual(await r.target.list(), ['att-v4']);
  t.is(await size(c.uri), 1024 ** 3);
  const again = await pidServing(c.port);
  await r.target.shutdown();
  t.is(await commandOf(again), '');
  t.deepEqual(await r.target.list(), []);
});

test('a qcow2 export is served by qemu-storage-daemon; reconcile restarts it when it died, and a restarted agent stops the one its previous run left', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('v5', 1);
  const req = await request(r, 'v5');
  const c = (await r.target.export(req)) as NbdConnection;
  t.is((await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x55 0 64k', c.uri])).code, 0);
  const pid = await daemonServing(c.port);
  process.kill(pid, 'SIGKILL');
  await untilGone(r, pid);
  t.deepEqual(await r.target.list(), [], 'a dead daemon is not listed');
  await r.target.reconcile([req]);
  t.deepEqual(await r.target.list(), ['att-v5']);
  t.is((await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x55 0 64k', c.uri])).code, 0);
  const left = await daemonServing(c.port);

  // An agent killed with its daemon still up: the next one's setup stops it (the image's lock is free again) and re-exports.
  const next = createTargets({ host: 'node-1', address: '127.0.0.1', stateDir: r.stateDir, iscsiPort: 1, nbdPortRange: r.range, processes: testProcesses(t) }).get('nbd')!;
  t.teardown(() => next.shutdown());
  await next.setup();
  t.is(await commandOf(left), '', 'the left daemon is stopped');
  await next.reconcile([req]);
  const again = (await next.export(req)) as NbdConnection;
  t.is((await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x55 0 64k', again.uri])).code, 0);
  await next.shutdown();
  t.is(await daemonServingOrZero(again.port), 0, 'shutdown stopped the daemon');
});

test('an internal snapshot of a qcow2 export is taken through qemu-storage-daemon while a client stays connected, read afterwards, and removed; both idempotent', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('v6', 1);
  const req = await request(r, 'v6');
  const c = (await r.target.export(req)) as NbdConnection;
  const client = connectedQemuIo(c.uri);
  t.teardown(() => client.close());
  await client.command('write -P 0x61 0 1M', /wrote 1048576/);

  t.true(await r.target.internalSnapshot!(req.image.path, 'snap-a', 'create'));
  t.true(await r.target.internalSnapshot!(req.image.path, 'snap-a', 'create'), 'taking it again succeeds');
  // The same connection keeps working: it overwrites what the snapshot holds.
  await client.command('write -P 0x62 0 1M', /wrote 1048576/);
  await client.command('read -P 0x62 0 1M', /read 1048576/);

  const list = await run('qemu-img', ['snapshot', '-l', '-U', req.image.path]);
  t.is(list.code, 0, list.out);
  t.regex(list.out, /snap-a/);
  // The snapshot's bytes, read beside the daemon's lock (qemu-io 7.2 has no -l: convert it out with qemu-img).
  const copy = join(r.stateDir, 'snap-a.raw');
  const out = await run('qemu-img', ['convert', '-U', '-f', 'qcow2', '-l', 'snapshot.name=snap-a', '-O', 'raw', req.image.path, copy]);
  t.is(out.code, 0, out.out);
  const old = await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x61 0 1M', copy]);
  t.is(old.code, 0, old.out);
  const now = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x62 0 1M', c.uri]);
  t.is(now.code, 0, now.out);
  t.notRegex(now.out, /Pattern verification failed/);

  t.true(await r.target.internalSnapshot!(req.image.path, 'snap-a', 'delete'));
  t.true(await r.target.internalSnapshot!(req.image.path, 'snap-a', 'delete'), 'removing a missing one succeeds');
  t.notRegex((await run('qemu-img', ['snapshot', '-l', '-U', req.image.path])).out, /snap-a/);
  await client.command('read -P 0x62 0 1M', /read 1048576/);
  t.false(await r.target.internalSnapshot!('/no/such/image.qcow2', 'snap-b', 'create'), 'an image it does not serve');
});

test('a snapshot through a read-only qcow2 export is taken too, and the export still refuses writes', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('v7', 1);
  const req = await request(r, 'v7', 'ro');
  const c = (await r.target.export(req)) as NbdConnection;
  t.true(await r.target.internalSnapshot!(req.image.path, 'snap-ro', 'create'));
  t.regex((await run('qemu-img', ['snapshot', '-l', '-U', req.image.path])).out, /snap-ro/);
  t.not((await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x11 0 4k', c.uri])).code, 0);
});

test('a raw export is not snapshotted through its server (the caller copies the file)', async (t) => {
  const r = await rig(t, 'raw');
  await r.driver.createVolume('v8', 1);
  const req = await request(r, 'v8');
  await r.target.export(req);
  t.false(await r.target.internalSnapshot!(req.image.path, 'snap', 'create'));
});

/** The qemu-nbd whose command line binds `port`. */
async function pidServing(port: number): Promise<number> {
  const { stdout } = await execFileAsync('pgrep', ['-f', `qemu-nbd .*--port ${port} `]);
  return Number(stdout.trim().split('\n')[0]);
}

/** The qemu-storage-daemon whose NBD server binds `port`. */
async function daemonServing(port: number): Promise<number> {
  const pid = await daemonServingOrZero(port);
  if (pid === 0) throw new Error(`no qemu-storage-daemon serves port ${port}`);
  return pid;
}

async function daemonServingOrZero(port: number): Promise<number> {
  const { stdout } = await execFileAsync('pgrep', ['-f', `qemu-storage-daemon .*"port":"${port}"`]).catch(() => ({ stdout: '0' }));
  return Number(stdout.trim().split('\n')[0]);
}

/** One qemu-io process connected to `uri` for the whole test, fed commands on stdin. */
function connectedQemuIo(uri: string): { command(cmd: string, expect: RegExp): Promise<void>; close(): Promise<void> } {
  const child = spawn('qemu-io', ['-f', 'raw', uri], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    async command(cmd, expect) {
      const from = out.length;
      child.stdin.write(`${cmd}\n`);
      for (let i = 0; i < 400; i++) {
        const seen = out.slice(from);
        if (/Pattern verification failed|error|failed/i.test(seen)) throw new Error(`qemu-io ${cmd}: ${seen}`);
        if (expect.test(seen)) return;
        if (child.exitCode !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`qemu-io ${cmd}: no ${expect} in ${JSON.stringify(out.slice(from))}`);
    },
    async close() {
      if (child.exitCode === null) child.stdin.end('quit\n');
      await exited;
    },
  };
}

test.after.always('no process is left behind', noProcessesLeft);
