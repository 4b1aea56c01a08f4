/**
 * Two `flint dev` on one machine (issue 15): the second finds the first's iSCSI portal and
 * NBD ports taken, takes free ones, shows them, and both attach a volume over iSCSI that an
 * independent initiator (qemu-io through libiscsi) writes to. The ports both prefer are
 * free ones set with FLINT_DEV_ISCSI_PORT/FLINT_DEV_NBD_PORTS, in place of 3260 and
 * 10809-10899 that tests never use; FLINT_ISCSI_PORT set to a taken port is refused.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { CreateAttachmentDocument, CreateVolumeDocument, DeleteAttachmentDocument, FlintClient } from '../../src/client/index.js';
import { freePort, isPortFree } from '../../src/net/free-port.js';
import { waitFor } from '../helpers/cluster.js';
import { iscsiImageOpts } from '../helpers/iscsi.js';
import { noProcessesLeft, processMarker } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';
import { waitForAttachment, waitForVolume } from '../helpers/wait.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FLINT = join(ROOT, 'bin', 'flint.js');
const INI = 'iqn.2026-12.test.flint:dev-ports';

interface Dev {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

async function startDev(t: ExecutionContext, env: NodeJS.ProcessEnv): Promise<Dev> {
  const dir = await tempDir('flint-dev-ports-');
  t.teardown(() => dir.cleanup());
  const child = spawn(process.execPath, [FLINT, 'dev'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, FLINT_DATA_DIR: dir.path, FLINT_HEARTBEAT_SECONDS: '1', ...processMarker(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // Ctrl-C first, so a failed test leaves no nats-server or tgtd behind; SIGKILL if that hangs.
  t.teardown(async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  });
  return { child, out: () => out, exited };
}

async function ready(dev: Dev): Promise<{ url: string; token: string; exports: string }> {
  await waitFor(async () => dev.out().includes('Ctrl-C stops everything') || dev.child.exitCode !== null, 60_000, () => `dev did not start:\n${dev.out()}`);
  const text = dev.out();
  return {
    url: /GraphQL \(HTTP \+ WebSocket\): (\S+)/.exec(text)?.[1] ?? '',
    token: /Admin token:\s+(\S+)/.exec(text)?.[1] ?? '',
    exports: /Exports \(attachments\):\s+(.+)/.exec(text)?.[1] ?? '',
  };
}

/** Attaches a new volume over iSCSI, writes 1 MiB through an independent initiator, detaches; returns the portal. */
async function attachAndWrite(t: ExecutionContext, url: string, token: string): Promise<string> {
  const client = new FlintClient({ url, token });
  try {
    const v = await client.request(CreateVolumeDocument, { input: { name: 'second-dev', sizeGiB: 1 } });
    const volumeId = v.createVolume.volume.id;
    await waitForVolume(client, volumeId, 'AVAILABLE', { timeoutMs: 30_000 });
    const a = await client.request(CreateAttachmentDocument, {
      input: { volumeId, instanceId: 'vm-1', targetKind: 'ISCSI', connector: { initiator: INI, host: 'consumer-1', ip: '127.0.0.1' } },
    });
    const id = a.createAttachment.attachment.id;
    const att = await waitForAttachment(client, id, (x) => x !== null && (x.connectionInfo !== null || x.status === 'ERROR_ATTACHING'), { what: `attachment ${id} to have its connectionInfo`, timeoutMs: 30_000 });
    const d = att!.connectionInfo?.data;
    t.truthy(d, `attachment ${JSON.stringify(att)}`);
    const opts = iscsiImageOpts({ ...d!, username: d!.authUsername, password: d!.authPassword, initiator: INI });
    const w = spawnSync('qemu-io', ['--image-opts', opts, '-c', 'write -P 0x5a 0 1M'], { encoding: 'utf8', timeout: 60_000 });
    t.is(w.status, 0, `${w.stdout}${w.stderr}`);
    await client.request(DeleteAttachmentDocument, { id });
    await waitForAttachment(client, id, (x) => x?.status === 'DETACHED', { what: `attachment ${id} to be DETACHED`, timeoutMs: 30_000 });
    return d!.targetPortal!;
  } finally {
    await client.close();
  }
}

test('a second flint dev takes free iSCSI and NBD ports when the first holds the preferred ones, and both attach over iSCSI', async (t) => {
  const iscsi = await freePort();
  const nbd = await freePort();
  const preferred = { FLINT_DEV_ISCSI_PORT: String(iscsi), FLINT_DEV_NBD_PORTS: `${nbd}-${nbd + 15}` };
  const first = await startDev(t, { ...preferred, FLINT_LISTEN: `127.0.0.1:${await freePort()}` });
  const one = await ready(first);
  // Its iSCSI port was free a moment ago; its NBD range is the preferred one unless a parallel test holds one of its ports.
  t.regex(one.exports, new RegExp(`^iSCSI 127\\.0\\.0\\.1:${iscsi}, NBD 127\\.0\\.0\\.1:\\d+-\\d+$`), first.out());
  t.false(await isPortFree(iscsi), 'the first dev\'s tgtd listens on the preferred iSCSI port');

  // The first's NBD range is busy only while it exports; one port taken is enough to move.
  const blocker = await holdPort(nbd + 3);
  t.teardown(() => blocker.close());
  const second = await startDev(t, { ...preferred, FLINT_LISTEN: `127.0.0.1:${await freePort()}` });
  const two = await ready(second);
  const m = /^iSCSI 127\.0\.0\.1:(\d+), NBD 127\.0\.0\.1:(\d+)-(\d+)$/.exec(two.exports);
  t.truthy(m, second.out());
  const [iscsi2, lo2, hi2] = [Number(m![1]), Number(m![2]), Number(m![3])];
  t.not(iscsi2, iscsi);
  t.is(hi2 - lo2, 15);
  t.true(hi2 < nbd || lo2 > nbd + 15, `a range apart from ${nbd}-${nbd + 15}: ${lo2}-${hi2}`);
  t.regex(second.out(), new RegExp(`iSCSI port ${iscsi} is taken; the iSCSI portal gets ${iscsi2}`));

  t.is(await attachAndWrite(t, two.url, two.token), `127.0.0.1:${iscsi2}`);
  t.is(await attachAndWrite(t, one.url, one.token), `127.0.0.1:${iscsi}`);

  // Set explicitly, a taken port is not moved: dev mode says which variable and starts nothing.
  const third = await startDev(t, { FLINT_ISCSI_PORT: String(iscsi), FLINT_NBD_PORTS: `${nbd + 20}-${nbd + 25}`, FLINT_LISTEN: `127.0.0.1:${await freePort()}` });
  t.is(await third.exited, 2, third.out());
  t.regex(third.out(), new RegExp(`FLINT_ISCSI_PORT=${iscsi}: the port is taken`));
  t.regex(third.out(), /Nothing was started/);

  for (const dev of [second, first]) {
    dev.child.kill('SIGINT');
    t.is(await dev.exited, 0, dev.out());
  }
  t.true(await isPortFree(iscsi));
  t.true(await isPortFree(iscsi2));
});

/** Listens on `port` until closed: a stand-in for another program on one of the preferred NBD ports. */
async function holdPort(port: number): Promise<{ close: () => void }> {
  const server = createServer();
  await new Promise<void>((r, j) => server.once('error', j).listen({ port, host: '127.0.0.1', exclusive: true }, () => r()));
  return { close: () => server.close() };
}

test.after.always('no process is left behind', noProcessesLeft);
