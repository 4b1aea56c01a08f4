/** serveNbd: a real qemu-nbd serving a file driver's images, read and written by qemu-io and nbdinfo. */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/net/free-port.js';
import { DriverError, FileDriver } from '../../src/node-agent/index.js';
import { nbdUri, qemuNbdArgs, serveNbd } from '../../src/node-agent/qemu-nbd.js';
import { setUpFileDriver } from '../helpers/file-pool.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';

const run = promisify(execFile);

async function driver(t: ExecutionContext, imageFormat: 'qcow2' | 'raw'): Promise<FileDriver> {
  const dir = await tempDir('flint-nbd-');
  t.teardown(dir.cleanup);
  const d = await setUpFileDriver(dir.path, { imageFormat });
  return d;
}

async function qemuIo(uri: string, command: string): Promise<{ code: number; out: string }> {
  try {
    // Reads open the export read-only (-r): a read-only export refuses a read-write open.
    const readOnly = command.startsWith('read') ? ['-r'] : [];
    const { stdout, stderr } = await run('qemu-io', [...readOnly, '-f', 'raw', '-c', command, uri]);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

for (const format of ['qcow2', 'raw'] as const) {
  test(`a ${format} volume served over TCP is written and read back through NBD, and its snapshot is served read-only with the old bytes`, async (t) => {
    const d = await driver(t, format);
    await d.createVolume('v1', 1);
    const port = await freePort();
    const rw = await serveNbd({ processes: testProcesses(t), image: await d.imageSource('v1'), exportName: 'v1', listen: { host: '127.0.0.1', port } });
    t.teardown(() => rw.stop());
    t.is(rw.uri, `nbd://127.0.0.1:${port}/v1`);
    t.is((await qemuIo(rw.uri, 'write -P 0xab 0 1M')).code, 0);
    t.is((await qemuIo(rw.uri, 'read -P 0xab 0 1M')).code, 0);
    const { stdout } = await run('nbdinfo', ['--size', rw.uri]);
    t.is(Number(stdout.trim()), 1024 ** 3);
    await rw.stop();

    await d.createSnapshot('v1', 's1');
    const after = await serveNbd({ processes: testProcesses(t), image: await d.imageSource('v1'), exportName: 'v1', listen: { host: '127.0.0.1', port } });
    t.teardown(() => after.stop());
    t.is((await qemuIo(after.uri, 'write -P 0xcd 0 1M')).code, 0);
    await after.stop();

    const snapPort = await freePort();
    const snap = await serveNbd({ processes: testProcesses(t), image: await d.imageSource('v1', 's1'), exportName: 's1', listen: { host: '127.0.0.1', port: snapPort }, readOnly: true });
    t.teardown(() => snap.stop());
    t.is((await qemuIo(snap.uri, 'read -P 0xab 0 1M')).code, 0, 'the snapshot keeps the bytes it had when taken');
    const write = await qemuIo(snap.uri, 'write -P 0x11 0 4k');
    t.not(write.code, 0);
    t.regex(write.out, /read-only|Permission denied|Operation not permitted/i);
  });
}

test('a unix-socket export works, and stop() ends the process', async (t) => {
  const d = await driver(t, 'qcow2');
  await d.createVolume('v2', 1);
  const dir = await tempDir('flint-nbd-sock-');
  t.teardown(dir.cleanup);
  const socket = join(dir.path, 'v2.sock');
  const server = await serveNbd({ processes: testProcesses(t), image: await d.imageSource('v2'), exportName: 'v2', listen: { socket } });
  t.is(server.uri, `nbd+unix:///v2?socket=${socket}`);
  t.is((await qemuIo(server.uri, 'write -P 0x5a 4096 4096')).code, 0);
  t.is((await qemuIo(server.uri, 'read -P 0x5a 4096 4096')).code, 0);
  await server.stop();
  t.regex(await server.exited, /SIGTERM|exit 0/);
  await server.stop();
});

test('a port already taken and a missing image are DriverErrors carrying qemu-nbd\'s message', async (t) => {
  const d = await driver(t, 'qcow2');
  await d.createVolume('v3', 1);
  const port = await freePort();
  const first = await serveNbd({ processes: testProcesses(t), image: await d.imageSource('v3'), exportName: 'v3', listen: { host: '127.0.0.1', port } });
  t.teardown(() => first.stop());
  const taken = await t.throwsAsync(serveNbd({ processes: testProcesses(t), image: await d.imageSource('v3'), exportName: 'v3', listen: { host: '127.0.0.1', port }, readOnly: true }));
  t.true(taken instanceof DriverError);
  t.regex(taken.message, /qemu-nbd could not serve/);
  const missing = await t.throwsAsync(serveNbd({ processes: testProcesses(t), image: { path: '/nonexistent/x.qcow2', format: 'qcow2', sizeBytes: 0 }, exportName: 'x', listen: { host: '127.0.0.1', port: await freePort() } }));
  t.regex(missing.message, /nonexistent/);
  await t.throwsAsync(d.imageSource('nope'), { instanceOf: DriverError, message: /does not exist/ });
  await t.throwsAsync(d.imageSource('v3', 'nosnap'), { instanceOf: DriverError, message: /no snapshot/ });
});

test('qemuNbdArgs: snapshots are always read-only; writable exports use no cache and pass discards', (t) => {
  const snap = qemuNbdArgs({ image: { path: '/p/v.qcow2', format: 'qcow2', snapshotName: 'snapshot-s', sizeBytes: 1 }, exportName: 'e', listen: { host: '0.0.0.0', port: 10809 }, pidFile: '/run/p.pid' });
  t.true(snap.includes('--read-only'));
  t.true(snap.includes('--load-snapshot=snapshot.name=snapshot-s'));
  t.true(snap.includes('--cache=writeback'));
  // Read with force-share: qemu-storage-daemon may hold the image's write lock while it exports it.
  t.is(snap.at(-1), 'driver=qcow2,file.driver=file,file.filename=/p/v.qcow2,read-only=on,force-share=on');
  t.true(snap.includes('--image-opts'));
  const rw = qemuNbdArgs({ image: { path: '/p/v.raw', format: 'raw', sizeBytes: 1 }, exportName: 'e', listen: { socket: '/s' }, pidFile: '/s.pid' });
  t.false(rw.includes('--read-only'));
  t.deepEqual(rw.slice(-3), ['--socket', '/s', '/p/v.raw']);
  t.true(rw.includes('--cache=none'));
  t.is(nbdUri({ host: '::1', port: 1 }, 'a b'), 'nbd://[::1]:1/a%20b');
});

test.after.always('no process is left behind', noProcessesLeft);
