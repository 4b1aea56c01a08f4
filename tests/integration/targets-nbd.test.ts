/** The NBD target against real qemu-nbd processes, checked with nbdinfo and qemu-io. */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/bus/nats-server-process.js';
import { DriverError, FileDriver } from '../../src/node-agent/index.js';
import { createTargets, type ExportRequest, type NbdConnection, type Target } from '../../src/node-agent/targets/index.js';
import { commandOf } from '../../src/node-agent/targets/proc-util.js';
import { setUpFileDriver } from '../helpers/file-pool.js';
import { tempDir } from '../helpers/tmp.js';

const execFileAsync = promisify(execFile);

interface Rig {
  target: Target;
  driver: FileDriver;
  range: [number, number];
}

async function rig(t: ExecutionContext, imageFormat: 'raw' | 'qcow2', width = 3): Promise<Rig> {
  const tmp = await tempDir('flint-nbdt-');
  const d = await setUpFileDriver(tmp.path, { imageFormat });
  const first = await freePort();
  const range: [number, number] = [first, Math.min(65535, first + width - 1)];
  const target = createTargets({ host: 'node-1', address: '127.0.0.1', stateDir: join(tmp.path, 'state'), iscsiPort: 1, nbdPortRange: range }).get('nbd')!;
  t.teardown(async () => {
    await target.shutdown();
    await tmp.cleanup();
  });
  await target.setup();
  return { target, driver: d, range };
}

async function request(r: Rig, volumeId: string, mode: 'rw' | 'ro' = 'rw'): Promise<ExportRequest> {
  return { attachmentId: `att-${volumeId}`, volumeId, image: await r.driver.imageSource(volumeId), mode };
}

async function run(cmd: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, [...args]);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
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

test('a read-only NBD export refuses writes', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('v2', 1);
  const c = (await r.target.export(await request(r, 'v2', 'ro'))) as NbdConnection;
  t.is(c.accessMode, 'ro');
  const write = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x11 0 4k', c.uri]);
  t.not(write.code, 0);
  t.regex(write.out, /read-only|Permission denied|Operation not permitted/i);
  t.is((await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0 0 4k', c.uri])).code, 0);
});

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

test('a volume grown while exported is seen with its new size by the next client', async (t) => {
  const r = await rig(t, 'qcow2');
  await r.driver.createVolume('v3', 1);
  const c = (await r.target.export(await request(r, 'v3'))) as NbdConnection;
  t.is((await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x42 0 64k', c.uri])).code, 0);
  await r.target.growWhileExported('att-v3', () => r.driver.extendVolume('v3', 2));
  t.is(await size(c.uri), 2 * 1024 ** 3);
  t.is((await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x42 0 64k', c.uri])).code, 0);
});

test('reconcile restarts an export whose qemu-nbd died, and shutdown stops every qemu-nbd', async (t) => {
  const r = await rig(t, 'raw');
  await r.driver.createVolume('v4', 1);
  const req = await request(r, 'v4');
  const c = (await r.target.export(req)) as NbdConnection;
  const pid = await pidServing(c.port);
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && (await commandOf(pid)) !== ''; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  t.deepEqual(await r.target.list(), [], 'a dead server is not listed');
  await r.target.reconcile([req]);
  t.deepEqual(await r.target.list(), ['att-v4']);
  t.is(await size(c.uri), 1024 ** 3);
  const again = await pidServing(c.port);
  await r.target.shutdown();
  t.is(await commandOf(again), '');
  t.deepEqual(await r.target.list(), []);
});

/** The qemu-nbd whose command line binds `port`. */
async function pidServing(port: number): Promise<number> {
  const { stdout } = await execFileAsync('pgrep', ['-f', `qemu-nbd .*--port ${port} `]);
  return Number(stdout.trim().split('\n')[0]);
}
