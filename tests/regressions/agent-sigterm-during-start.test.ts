/**
 * Issue 18, at the process level: `flint agent` that receives SIGTERM while it starts (its
 * tgtd starting) stops what it has started and exits 0, leaving no tgtd; so does one that
 * gets it once running. Before, the signal handlers were installed only after the start, so
 * an early SIGTERM killed Node at once and orphaned the tgtd.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FLINT_BIN } from '../helpers/flint-cli.js';
import { connectBus } from '../../src/bus/index.js';
import { natsAuthOptions } from '../../src/bus/nats/credentials.js';
import { withSecureNats } from '../helpers/nats.js';
import { agentPortsEnv } from '../helpers/ports.js';
import { leftoverProcesses, noProcessesLeft, processMarker } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const DAEMONS = /\b(tgtd|qemu-nbd|qemu-storage-daemon)\b/;

test('flint agent stopped by SIGTERM at any point of its start exits 0 and leaves no tgtd', async (t) => {
  t.timeout(300_000);
  const nats = await withSecureNats({ t, agents: ['sigterm-1'] });
  // The streams and buckets a gateway makes (an agent only binds to them).
  const gateway = await connectBus(nats.server.url, 'sigterm-gateway', { role: 'gateway', auth: natsAuthOptions({ nkeySeedFile: nats.seedFile('gateway') }) });
  await gateway.close();
  const dir = await tempDir('flint-agent-sigterm-');
  t.teardown(dir.cleanup);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    FLINT_DATA_DIR: dir.path,
    ...nats.env('agent', 'sigterm-1'),
    FLINT_AGENT_HOST: 'sigterm-1',
    FLINT_LOG_LEVEL: 'info',
    FLINT_POOLS: JSON.stringify([{ name: 'p', imageFormat: 'raw', capacityGiB: 10, directory: join(dir.path, 'pool') }]),
    ...(await agentPortsEnv()),
    ...processMarker(),
  };
  // After its first log line (the role's code runs: before that a signal just ends Node, with nothing started).
  const delays = [0, 20, 50, 80, 120, 160, 250, 400, 2000];
  let stoppedWithTgtdUp = 0;
  for (const delayMs of delays) {
    const child = spawn(process.execPath, [FLINT_BIN, 'agent'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    // Up to 30 s: on a loaded machine Node alone can take seconds to load the role's code, and a
    // signal before the first line ends Node with nothing started (not what this test is about).
    for (let i = 0; i < 3000 && out === '' && child.exitCode === null; i++) await sleep(10);
    t.not(out, '', 'the agent printed nothing within 30 s');
    await sleep(delayMs);
    if ((await leftoverProcesses()).some((p) => p.command.startsWith('tgtd') && p.ppid === child.pid)) stoppedWithTgtdUp++;
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(30_000).then(() => 'hung' as const)]);
    if (code === 'hung') child.kill('SIGKILL');
    t.is(code, 0, `SIGTERM ${delayMs} ms after the first log line: exit ${String(code)}\n${out}`);
    const left = (await leftoverProcesses()).filter((p) => DAEMONS.test(p.command));
    t.deepEqual(left, [], `SIGTERM ${delayMs} ms after the first log line left daemons behind`);
  }
  t.log(`${stoppedWithTgtdUp} of ${delays.length} signals came with tgtd up`);
  t.true(stoppedWithTgtdUp >= 2, 'some signals must come once tgtd runs');
});

test.after.always('no process is left behind', noProcessesLeft);
