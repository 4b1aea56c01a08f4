/**
 * NBD attachment exports over TLS (FLINT_NBD_TLS_DIR) against real qemu-nbd (raw volumes)
 * and qemu-storage-daemon (qcow2 volumes), with
 * certificates openssl makes for the test: libnbd's nbdinfo and qemu-io read and write
 * with the CA the connection hands out; a plain client and a client trusting another CA
 * are refused; with client verification a client without a certificate is refused too.
 * Also the agent's start-up check of the directory (`loadNbdTls`).
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/net/free-port.js';
import { createLogger, loadConfig } from '../../src/config/index.js';
import { startTargets } from '../../src/node-agent/attachment-targets.js';
import { DriverError, FileDriver } from '../../src/node-agent/index.js';
import { qemuNbdArgs } from '../../src/node-agent/qemu-nbd.js';
import { qsdNbdArgs } from '../../src/node-agent/targets/qsd-nbd.js';
import { createTargets, loadNbdTls, type NbdConnection, type NbdTls, type Target } from '../../src/node-agent/targets/index.js';
import { SecretBox } from '../../src/domain/secret-box.js';
import { setUpFileDriver } from '../helpers/file-pool.js';
import { makeTlsFixture, type TlsFixture } from '../helpers/nbd-tls.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';

const execFileAsync = promisify(execFile);

async function run(cmd: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, [...args], { timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

interface Rig {
  target: Target;
  driver: FileDriver;
  tls: TlsFixture;
  root: string;
}

async function rig(t: ExecutionContext, verifyClients = false, imageFormat: 'raw' | 'qcow2' = 'raw'): Promise<Rig> {
  const tmp = await tempDir('flint-nbdtls-');
  const tls = await makeTlsFixture(join(tmp.path, 'pki'));
  const driver = await setUpFileDriver(tmp.path, { imageFormat });
  const first = await freePort();
  const nbdTls = await loadNbdTls({ dir: tls.serverDir, verifyClients }, '127.0.0.1');
  const target = createTargets({ host: 'node-1', address: '127.0.0.1', stateDir: join(tmp.path, 'state'), iscsiPort: 1, nbdPortRange: [first, first + 2], nbdTls, processes: testProcesses(t) }).get('nbd')!;
  t.teardown(async () => {
    await target.shutdown();
    await tmp.cleanup();
  });
  await target.setup();
  return { target, driver, tls, root: tmp.path };
}

async function exportVolume(r: Rig, volumeId: string): Promise<NbdConnection> {
  await r.driver.createVolume(volumeId, 1);
  return (await r.target.export({ attachmentId: `att-${volumeId}`, volumeId, image: await r.driver.imageSource(volumeId), mode: 'rw' })) as NbdConnection;
}

/** libnbd with the certificates of `dir` (nbdinfo takes the nbds URI with tls-certificates). */
const nbdinfoSize = (uri: string, dir: string) => run('nbdinfo', ['--size', `${uri}?tls-certificates=${dir}`]);

/** qemu-io as a TLS client with the x509 files of `dir`. */
const qemuIoTls = (c: NbdConnection, dir: string, cmd: string) =>
  run('qemu-io', [
    '--object', `tls-creds-x509,id=c0,dir=${dir},endpoint=client`,
    '--image-opts', `driver=raw,file.driver=nbd,file.host=${c.host},file.port=${c.port},file.export=${c.exportName},file.tls-creds=c0`,
    '-c', cmd,
  ]);

for (const format of ['raw', 'qcow2'] as const) {
  test(`${format}: a TLS export says nbds:// and hands out the CA; nbdinfo and qemu-io with that CA read and write it`, async (t) => {
    const r = await rig(t, false, format);
    const c = await exportVolume(r, 'v1');
    t.is(c.uri, `nbds://127.0.0.1:${c.port}/att-v1`);
    t.deepEqual(c.tls, { caCertificate: r.tls.caPem, clientCertificateRequired: false });

    // A client needs nothing but the CA from the connection: write it where libnbd looks.
    const dir = join(r.root, 'from-connection');
    await mkdir(dir);
    await writeFile(join(dir, 'ca-cert.pem'), c.tls!.caCertificate);
    const size = await nbdinfoSize(c.uri, dir);
    t.is(size.code, 0, size.out);
    t.is(size.out.trim(), String(1024 ** 3));
    const w = await qemuIoTls(c, dir, 'write -P 0x5c 1M 64k');
    t.is(w.code, 0, w.out);
    const rd = await qemuIoTls(c, dir, 'read -P 0x5c 1M 64k');
    t.is(rd.code, 0, rd.out);
  });

  test(`${format}: a TLS export refuses a plain NBD client and a client that trusts another CA`, async (t) => {
    const r = await rig(t, false, format);
    const c = await exportVolume(r, 'v2');
    const plain = await run('nbdinfo', ['--size', `nbd://127.0.0.1:${c.port}/att-v2`]);
    t.not(plain.code, 0);
    t.regex(plain.out, /server requires TLS/i);
    const plainQemu = await run('qemu-io', ['-f', 'raw', '-c', 'read 0 4k', `nbd://127.0.0.1:${c.port}/att-v2`]);
    t.not(plainQemu.code, 0, plainQemu.out);
    const stranger = await nbdinfoSize(c.uri, r.tls.strangerDir);
    t.not(stranger.code, 0);
    t.regex(stranger.out, /certificate verification|handshake/i);
    const strangerQemu = await qemuIoTls(c, r.tls.strangerDir, 'read 0 4k');
    t.not(strangerQemu.code, 0, strangerQemu.out);
    t.is((await nbdinfoSize(c.uri, r.tls.anonymousDir)).code, 0, 'the right CA still works');
  });
}

for (const format of ['raw', 'qcow2'] as const) {
  test(`${format}: with client verification the export says so and lets in only clients with a certificate from the CA`, async (t) => {
    const r = await rig(t, true, format);
    const c = await exportVolume(r, 'v3');
    t.is(c.tls?.clientCertificateRequired, true);
    const withCert = await nbdinfoSize(c.uri, r.tls.clientDir);
    t.is(withCert.code, 0, withCert.out);
    const rw = await qemuIoTls(c, r.tls.clientDir, 'write -P 0x21 0 4k');
    t.is(rw.code, 0, rw.out);
    const anonymous = await nbdinfoSize(c.uri, r.tls.anonymousDir);
    t.not(anonymous.code, 0, 'no client certificate: refused');
    // The stranger has a client certificate, but from another CA (and does not trust ours).
    const strangerCert = join(r.root, 'stranger-with-our-ca');
    await mkdir(strangerCert);
    for (const f of ['client-cert.pem', 'client-key.pem']) await copyFile(join(r.tls.strangerDir, f), join(strangerCert, f));
    await copyFile(join(r.tls.anonymousDir, 'ca-cert.pem'), join(strangerCert, 'ca-cert.pem'));
    const stranger = await nbdinfoSize(c.uri, strangerCert);
    t.not(stranger.code, 0, 'a client certificate from another CA: refused');
  });
}

test('qemuNbdArgs: TLS adds the x509 credentials object (commas doubled) and --tls-creds; none without', (t) => {
  const base = { image: { path: '/p/v.raw', format: 'raw' as const, sizeBytes: 1 }, exportName: 'e', listen: { host: '127.0.0.1', port: 10809 }, pidFile: '/run/p.pid' };
  const args = qemuNbdArgs({ ...base, tls: { dir: '/etc/flint,nbd', verifyPeer: true } });
  const at = args.indexOf('--object');
  t.is(args[at + 1], 'tls-creds-x509,id=flint-nbd-tls,dir=/etc/flint,,nbd,endpoint=server,verify-peer=on');
  t.is(args[args.indexOf('--tls-creds') + 1], 'flint-nbd-tls');
  t.is(qemuNbdArgs({ ...base, tls: { dir: '/d' } }).find((a) => a.startsWith('tls-creds-x509'))?.endsWith('verify-peer=off'), true);
  t.false(qemuNbdArgs(base).includes('--tls-creds'));
  t.is(args.at(-1), '/p/v.raw', 'the image stays last');
});

test('qsdNbdArgs: TLS adds the same x509 credentials object before the NBD server, which names it; none without', (t) => {
  const base = { image: { path: '/p/a,b.qcow2', format: 'qcow2' as const, sizeBytes: 1 }, exportName: 'e,1', listen: { host: '127.0.0.1', port: 10809 }, readOnly: false, pidFile: '/run/p.pid', qmpSocket: '/run/p.qmp' };
  const args = qsdNbdArgs({ ...base, tls: { dir: '/etc/flint,nbd', verifyPeer: true } });
  const object = args.indexOf('--object');
  const server = args.indexOf('--nbd-server');
  t.true(object >= 0 && object < server, 'the credentials exist before the server uses them');
  t.is(args[object + 1], 'tls-creds-x509,id=flint-nbd-tls,dir=/etc/flint,,nbd,endpoint=server,verify-peer=on');
  t.deepEqual(JSON.parse(args[server + 1]!), { addr: { type: 'inet', host: '127.0.0.1', port: '10809' }, 'max-connections': 8, 'tls-creds': 'flint-nbd-tls' });
  t.true(qsdNbdArgs({ ...base, tls: { dir: '/d' } })[object + 1]!.endsWith('verify-peer=off'));
  const plain = qsdNbdArgs(base);
  t.false(plain.includes('--object'));
  t.false('tls-creds' in (JSON.parse(plain[plain.indexOf('--nbd-server') + 1]!) as object));
  t.deepEqual(JSON.parse(plain[plain.indexOf('--export') + 1]!), { type: 'nbd', id: 'export0', 'node-name': 'disk0', name: 'e,1', writable: true });
  t.is(JSON.parse(plain[1]!).filename, '/p/a,b.qcow2', 'the path in JSON, comma and all');
  const ro = qsdNbdArgs({ ...base, readOnly: true });
  t.false(JSON.parse(ro[ro.indexOf('--export') + 1]!).writable, 'a read-only attachment: the export refuses writes');
  t.false(JSON.parse(ro[3]!)['read-only'], 'the node stays writable, for snapshots through QMP');
  t.deepEqual(plain.slice(-6), ['--pidfile', '/run/p.pid', '--chardev', 'socket,id=qmp0,path=/run/p.qmp,server=on,wait=off', '--monitor', 'chardev=qmp0']);
});

// The agent's start-up check of FLINT_NBD_TLS_DIR.

async function fixture(t: ExecutionContext, san?: string): Promise<TlsFixture> {
  const tmp = await tempDir('flint-nbdtls-check-');
  t.teardown(() => tmp.cleanup());
  return makeTlsFixture(tmp.path, san);
}

async function refused(t: ExecutionContext, p: Promise<NbdTls>, message: RegExp): Promise<void> {
  const err = await t.throwsAsync(p, { instanceOf: DriverError });
  t.regex(err.message, message);
  t.false(err.retryable);
}

test('loadNbdTls accepts a good directory and returns the CA to hand out', async (t) => {
  const f = await fixture(t);
  const ok = await loadNbdTls({ dir: f.serverDir, verifyClients: false }, '127.0.0.1');
  t.is(ok.caCertificate, f.caPem);
  t.deepEqual(ok.warnings, []);
  const dns = await fixture(t, 'DNS:store-1.example.com');
  t.is((await loadNbdTls({ dir: dns.serverDir, verifyClients: false }, 'store-1.example.com')).dir, dns.serverDir);
});

test('loadNbdTls names the missing directory or file', async (t) => {
  const f = await fixture(t);
  await refused(t, loadNbdTls({ dir: join(f.serverDir, 'nope'), verifyClients: false }, '127.0.0.1'), /nope: cannot be read .*create it with ca-cert\.pem, server-cert\.pem, server-key\.pem/);
  await rm(join(f.serverDir, 'server-key.pem'));
  await refused(t, loadNbdTls({ dir: f.serverDir, verifyClients: false }, '127.0.0.1'), /server-key\.pem is missing or not readable \(ENOENT\)/);
});

test('loadNbdTls refuses a key of another certificate, a certificate of another CA, one for another address, and an expired one', async (t) => {
  const f = await fixture(t);
  const dir = f.serverDir;
  await refused(t, loadNbdTls({ dir, verifyClients: false }, '192.0.2.7'), /does not name FLINT_AGENT_ADDRESS 192\.0\.2\.7 \(subjectAltName: IP Address:127\.0\.0\.1\).*subjectAltName IP:192\.0\.2\.7/);
  await refused(t, loadNbdTls({ dir, verifyClients: false }, '127.0.0.1', new Date(Date.now() + 30 * 86400_000)), /server-cert\.pem is valid from .* only; renew it/);
  await copyFile(join(f.strangerDir, 'ca-cert.pem'), join(dir, 'ca-cert.pem'));
  await refused(t, loadNbdTls({ dir, verifyClients: false }, '127.0.0.1'), /server-cert\.pem \(subject CN=flint-agent\) is not signed by the CA in ca-cert\.pem/);
  await copyFile(join(f.clientDir, 'client-key.pem'), join(dir, 'server-key.pem'));
  await refused(t, loadNbdTls({ dir, verifyClients: false }, '127.0.0.1'), /server-key\.pem is not the key of server-cert\.pem/);
  await writeFile(join(dir, 'server-key.pem'), 'not a key');
  await refused(t, loadNbdTls({ dir, verifyClients: false }, '127.0.0.1'), /server-key\.pem is not an unencrypted PEM private key/);
});

test('an agent whose FLINT_NBD_TLS_DIR cannot serve does not start its targets (no fallback to plain NBD)', async (t) => {
  const tmp = await tempDir('flint-nbdtls-agent-');
  t.teardown(() => tmp.cleanup());
  const config = loadConfig({ FLINT_DATA_DIR: tmp.path, FLINT_NBD_TLS_DIR: join(tmp.path, 'missing'), FLINT_AGENT_HOST: 'node-1' }, tmp.path);
  const err = await t.throwsAsync(startTargets(config, [], createLogger('test', 'silent'), new SecretBox(Buffer.alloc(32, 1), join(tmp.path, 'secret.key')), testProcesses(t)), { instanceOf: DriverError });
  t.regex(err.message, /^FLINT_NBD_TLS_DIR .*missing: cannot be read/);
});

test.after.always('no process is left behind', noProcessesLeft);
