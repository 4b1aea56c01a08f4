/** The `flint` CLI as a user runs it: dev mode from start to Ctrl-C, configuration errors, tokens. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { freePort, isPortFree } from '../../src/net/free-port.js';
import { FlintClient } from '../../src/client/index.js';
import { waitFor } from '../helpers/cluster.js';
import { agentPortsEnv } from '../helpers/ports.js';
import { noProcessesLeft, processMarker } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';
import { waitForVolume } from '../helpers/wait.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FLINT = join(ROOT, 'bin', 'flint.js');

function flint(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [FLINT, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...processMarker(), ...env }, encoding: 'utf8', timeout: 60_000 });
}

function natsServersUsing(dir: string): string[] {
  const r = spawnSync('pgrep', ['-af', 'nats-server'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.includes(dir) && !l.includes('<defunct>'));
}

test('flint dev starts everything, prints a working curl example, and Ctrl-C stops it all', async (t) => {
  const dir = await tempDir('flint-dev-');
  t.teardown(() => dir.cleanup());
  const port = await freePort();
  const child = spawn(process.execPath, [FLINT, 'dev'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      FLINT_DATA_DIR: dir.path,
      FLINT_LISTEN: `127.0.0.1:${port}`,
      FLINT_HEARTBEAT_SECONDS: '1',
      ...(await agentPortsEnv()),
      ...processMarker(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await waitFor(async () => out.includes('Ctrl-C stops everything'), 60_000, () => `dev did not start:\n${out}\n${err}`);

  const url = /GraphQL \(HTTP \+ WebSocket\): (\S+)/.exec(out)?.[1];
  const token = /Admin token:\s+(\S+)/.exec(out)?.[1];
  t.is(url, `http://127.0.0.1:${port}/graphql`);
  t.is(token, readFileSync(join(dir.path, 'admin-token'), 'utf8').trim());
  t.true(existsSync(join(dir.path, 'flint.sqlite')));
  t.is(natsServersUsing(dir.path).length, 1, 'dev runs its own nats-server under the data dir');

  // The printed example, run as printed.
  const curl = out.slice(out.indexOf('curl -s')).split('\n').slice(0, 2).join('\n').replace(/\\\n\s*/, ' ');
  const r = spawnSync('bash', ['-c', curl], { encoding: 'utf8' });
  const created = JSON.parse(r.stdout) as { data: { createVolume: { volume: { id: string; status: string } } } };
  t.is(created.data.createVolume.volume.status, 'CREATING');
  const id = created.data.createVolume.volume.id;
  const client = new FlintClient({ url: url!, ...(token ? { token } : {}) });
  try {
    await waitForVolume(client, id, 'AVAILABLE', { what: `the example volume ${id} to be AVAILABLE`, timeoutMs: 20_000 });
  } finally {
    await client.close();
  }
  t.true(existsSync(join(dir.path, 'pools', 'default', `volume-${id}.qcow2`)));

  child.kill('SIGINT');
  t.is(await exited, 0);
  t.true(await isPortFree(port));
  await waitFor(async () => natsServersUsing(dir.path).length === 0, 10_000, () => `nats-server still running: ${natsServersUsing(dir.path).join('\n')}`);
});

test('bad configuration lists every problem, exits 2 and starts nothing', async (t) => {
  const port = await freePort();
  const r = flint(['gateway'], {
    FLINT_LISTEN: 'nowhere',
    FLINT_DATABASE_URL: 'mysql://db/flint',
    FLINT_NATS_URL: 'http://nats',
    FLINT_POOLS: '[{"name": "a b"}, {"name": "x", "imageFormat": "qcow2", "thinProvisioning": false}]',
    FLINT_HEARTBEAT_SECONDS: '0',
  });
  t.is(r.status, 2);
  for (const v of ['FLINT_LISTEN', 'FLINT_DATABASE_URL', 'FLINT_NATS_URL', 'FLINT_POOLS[0].name', 'FLINT_POOLS[1]', 'FLINT_HEARTBEAT_SECONDS']) t.true(r.stderr.includes(v), `${v} in ${r.stderr}`);
  t.regex(r.stderr, /Nothing was started/);
  t.true(await isPortFree(port));
});

test('a role other than dev without FLINT_NATS_URL says so and exits 2', (t) => {
  const r = flint(['scheduler'], { FLINT_DATABASE_URL: 'sqlite:/tmp/never-created.sqlite' });
  t.is(r.status, 2);
  t.regex(r.stderr, /FLINT_NATS_URL: required for `flint scheduler`/);
});

test('the gateway refuses an unmigrated database and says to run flint migrate', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.cleanup());
  const r = flint(['gateway'], { FLINT_DATABASE_URL: `sqlite:${join(dir.path, 'db.sqlite')}`, FLINT_NATS_URL: 'nats://127.0.0.1:1', FLINT_NATS_INSECURE: 'true' });
  t.is(r.status, 1);
  t.regex(r.stderr, /run `flint migrate` first/);
});

test('flint token create prints a token for a new project, and refuses an unknown role', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.cleanup());
  const env = { FLINT_DATA_DIR: dir.path };
  const ok = flint(['token', 'create', '--project', 'team-x', '--role', 'reader', '--json'], env);
  t.is(ok.status, 0, ok.stderr);
  const parsed = JSON.parse(ok.stdout) as { token: string; project: string; role: string };
  t.regex(parsed.token, /^flint_[A-Za-z0-9_-]{32}$/);
  t.is(parsed.project, 'team-x');
  t.is(parsed.role, 'reader');
  const bad = flint(['token', 'create', '--project', 'team-x', '--role', 'owner'], env);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--role: one of admin, member, reader/);
});

test.after.always('no process is left behind', noProcessesLeft);
