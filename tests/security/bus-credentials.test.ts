/**
 * Every connection to the bus authenticates (issue 11): `flint dev`'s own nats-server
 * refuses anonymous clients and keeps its credentials private, and a role given bad
 * credentials stops at once with exit code 2 and a message that names the file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { connect, nkeys } from '@nats-io/transport-node';
import { FLINT_BIN } from '../helpers/flint-cli.js';
import { waitFor } from '../helpers/cluster.js';
import { withSecureNats } from '../helpers/nats.js';
import { freePort } from '../../src/net/free-port.js';
import { agentPortsEnv } from '../helpers/ports.js';
import { noProcessesLeft, processMarker } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

function flint(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [FLINT_BIN, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...processMarker(), ...env }, encoding: 'utf8', timeout: 60_000 });
}

test('flint dev runs a nats-server that refuses anonymous clients, with private credentials per role', async (t) => {
  const dir = await tempDir('flint-dev-bus-');
  t.teardown(() => dir.cleanup());
  const child = spawn(process.execPath, [FLINT_BIN, 'dev'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, FLINT_DATA_DIR: dir.path, FLINT_LISTEN: `127.0.0.1:${await freePort()}`, ...(await agentPortsEnv()), ...processMarker() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await waitFor(async () => out.includes('Ctrl-C stops everything'), 60_000, () => `dev did not start:\n${out}`);
  const natsUrl = /NATS:\s+(\S+)/.exec(out)?.[1];
  t.truthy(natsUrl);

  const err = await t.throwsAsync(connect({ servers: natsUrl!, maxReconnectAttempts: 0 }));
  t.regex(err!.message, /Authorization Violation/);

  const auth = join(dir.path, 'nats-auth');
  t.is(statSync(auth).mode & 0o777, 0o700);
  for (const f of ['nats-server.conf', 'gateway.nk', 'scheduler.nk']) t.is(statSync(join(auth, f)).mode & 0o777, 0o600, f);

  child.kill('SIGINT');
  t.is(await exited, 0, out);
});

test('a missing seed file stops a role with exit 2 naming the file', (t) => {
  const file = '/nonexistent/flint/agent.nk';
  const r = flint(['agent'], { FLINT_NATS_URL: 'nats://127.0.0.1:1', FLINT_NATS_NKEY_SEED_FILE: file });
  t.is(r.status, 2, r.stderr);
  t.true(r.stderr.includes(`FLINT_NATS_NKEY_SEED_FILE: ${file} does not exist`), r.stderr);
  t.regex(r.stderr, /Nothing was started/);
});

test('a malformed seed file stops a role with exit 2 naming the file', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.cleanup());
  const file = join(dir.path, 'scheduler.nk');
  writeFileSync(file, 'SUNOTAREALSEEDATALL\n', { mode: 0o600 });
  const r = flint(['scheduler'], { FLINT_NATS_URL: 'nats://127.0.0.1:1', FLINT_NATS_NKEY_SEED_FILE: file, FLINT_DATABASE_URL: `sqlite:${join(dir.path, 'db.sqlite')}` });
  t.is(r.status, 2, r.stderr);
  t.true(r.stderr.includes(`FLINT_NATS_NKEY_SEED_FILE: ${file} holds a malformed nkey seed`), r.stderr);
});

test('a file that is no seed at all (e.g. a public key) stops a role with exit 2 naming the file', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.cleanup());
  const file = join(dir.path, 'gateway.pub');
  writeFileSync(file, `${nkeys.createUser().getPublicKey()}\n`, { mode: 0o600 });
  const r = flint(['gateway'], { FLINT_NATS_URL: 'nats://127.0.0.1:1', FLINT_NATS_NKEY_SEED_FILE: file });
  t.is(r.status, 2, r.stderr);
  t.true(r.stderr.includes(`${file} does not hold one nkey user seed`), r.stderr);
});

test('a seed the server refuses stops a role with exit 2 naming the file', async (t) => {
  const nats = await withSecureNats({ t, agents: ['known'] });
  const dir = await tempDir();
  t.teardown(() => dir.cleanup());
  const file = join(dir.path, 'stranger.nk');
  writeFileSync(file, `${new TextDecoder().decode(nkeys.createUser().getSeed())}\n`, { mode: 0o600 });
  const r = flint(['agent'], { FLINT_DATA_DIR: dir.path, FLINT_AGENT_HOST: 'known', FLINT_NATS_URL: nats.server.url, FLINT_NATS_NKEY_SEED_FILE: file, ...(await agentPortsEnv()) });
  t.is(r.status, 2, r.stderr);
  t.true(r.stderr.includes(`refused the credentials in ${file} (FLINT_NATS_NKEY_SEED_FILE)`), r.stderr);
});

test('no credentials at all stop a role with exit 2 unless FLINT_NATS_INSECURE=true says so', (t) => {
  const r = flint(['agent'], { FLINT_NATS_URL: 'nats://127.0.0.1:1' });
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /FLINT_NATS_NKEY_SEED_FILE: required for `flint agent`.*FLINT_NATS_INSECURE=true/);
});

test('a missing TLS file stops a role with exit 2 naming the file', (t) => {
  const r = flint(['agent'], { FLINT_NATS_URL: 'tls://127.0.0.1:1', FLINT_NATS_INSECURE: 'true', FLINT_NATS_TLS_CA: '/nonexistent/ca.pem' });
  t.is(r.status, 2, r.stderr);
  t.true(r.stderr.includes('FLINT_NATS_TLS_CA: /nonexistent/ca.pem does not exist'), r.stderr);
});

test.after.always('no process is left behind', noProcessesLeft);
