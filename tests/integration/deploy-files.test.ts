/**
 * deploy/ (what an operator copies to run Flint across hosts) must not rot: its settings are
 * real, its commands exist, the systemd units verify, and the 3-node NATS example really forms
 * a JetStream cluster that takes a stream with 3 replicas, with the users `flint nats-config`
 * writes included.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { ENV, loadConfig } from '../../src/config/index.js';
import { inboxPrefix, STREAM_CMD } from '../../src/bus/contract/index.js';
import { findNatsServerBinary } from '../../src/cli/dev/nats-server.js';
import { freePort } from '../../src/net/free-port.js';
import { FLINT_BIN } from '../helpers/flint-cli.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const execFileAsync = promisify(execFile);
const DEPLOY = join(FLINT_BIN, '../../deploy');
const files = (dir: string, ext: string) => readdirSync(join(DEPLOY, dir)).filter((f) => f.endsWith(ext)).map((f) => join(dir, f));
const read = (rel: string) => readFileSync(join(DEPLOY, rel), 'utf8');
const ENV_FILES = files('env', '.env');
const UNITS = files('systemd', '.service');
const NATS_CONFS = files('nats', '.conf');

async function flint(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [FLINT_BIN, ...args]);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/**
 * An env file as systemd reads it, for the subset deploy/ may use: comment and blank lines,
 * `NAME=value` without spaces, quotes or "#", and `NAME='value'`. Anything else is a problem
 * (an inline comment, say, which systemd would make part of the value).
 */
function parseEnvFile(text: string, problems: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const m = /^([A-Z_][A-Z0-9_]*)=(?:'([^']*)'|([^\s'"#$\\]*))$/.exec(line);
    if (!m) problems.push(`line ${i + 1} is not NAME=value or NAME='value': ${line}`);
    else env[m[1]!] = m[2] ?? m[3]!;
  });
  return env;
}

test('every FLINT_ variable deploy/ names is a setting of Flint (or of the CLI)', async (t) => {
  const help = (await flint(['--help'])).out;
  const cliVars = new Set(help.match(/FLINT_[A-Z0-9_]+/g) ?? []);
  t.true(cliVars.has('FLINT_URL'), 'flint --help names the CLI\'s own variables');
  const known = (v: string) => v in ENV || cliVars.has(v);
  for (const rel of [...ENV_FILES, ...UNITS, ...NATS_CONFS, 'README.md']) {
    const unknown = [...new Set(read(rel).match(/FLINT_[A-Z0-9_]+/g) ?? [])].filter((v) => !known(v));
    t.deepEqual(unknown, [], `deploy/${rel} names variables Flint does not read`);
  }
});

test('each env file is what systemd reads and a configuration Flint accepts', async (t) => {
  t.deepEqual(ENV_FILES.sort(), ['env/agent.env', 'env/gateway.env', 'env/scheduler.env']);
  const generator = '/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator';
  for (const rel of ENV_FILES) {
    const problems: string[] = [];
    const env = parseEnvFile(read(rel), problems);
    t.deepEqual(problems, [], `deploy/${rel}`);
    t.notThrows(() => loadConfig(env, '/'), `deploy/${rel} is a valid configuration`);
    // systemd's own parser (environment.d uses the one of EnvironmentFile=), where installed.
    if (!existsSync(generator)) continue;
    const dir = await tempDir('flint-deploy-env-');
    t.teardown(dir.cleanup);
    mkdirSync(join(dir.path, 'environment.d'));
    copyFileSync(join(DEPLOY, rel), join(dir.path, 'environment.d', 'flint.conf'));
    const { stdout } = await execFileAsync(generator, [], { env: { XDG_CONFIG_HOME: dir.path, HOME: dir.path } });
    const bySystemd: Record<string, string> = {};
    for (const m of stdout.matchAll(/^(FLINT_[A-Z0-9_]+)=(.*)$/gm)) bySystemd[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    t.deepEqual(bySystemd, env, `systemd reads deploy/${rel} the same way`);
  }
  t.is(parseEnvFile(read('env/agent.env'), []).FLINT_NATS_NKEY_SEED_FILE, '/etc/flint/nats/agent-storage-1.nk', 'the agent\'s seed is its own host\'s');
  t.is(parseEnvFile(read('env/gateway.env'), []).FLINT_NATS_REPLICAS, '3', 'a 3-node cluster keeps 3 replicas');
});

/** `flint <command…>` invocations: the units' ExecStart and the README's shell lines. */
function flintCommands(): Array<{ where: string; words: string[]; options: string[] }> {
  const out: Array<{ where: string; words: string[]; options: string[] }> = [];
  for (const rel of UNITS) {
    for (const m of read(rel).matchAll(/^Exec\w*=.*\/opt\/flint\/bin\/flint\.js (.+)$/gm)) out.push({ where: rel, words: m[1]!.split(/\s+/).filter((w) => /^[a-z][a-z-]*$/.test(w)), options: [] });
  }
  const blocks = [...read('README.md').matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  for (const line of blocks.flatMap((b) => b.split('\n'))) {
    const m = /(?:^|[\s;&|(])flint ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)(.*)$/.exec(line.replace(/#.*$/, ''));
    if (m) out.push({ where: `README.md: ${line.trim()}`, words: m[1]!.split(' '), options: [...m[2]!.matchAll(/(?:^|\s)(--[a-z-]+)/g)].map((o) => o[1]!) });
  }
  return out;
}

test('the units pass systemd-analyze verify, and every flint command deploy/ names exists', async (t) => {
  const commands = flintCommands();
  t.true(commands.filter((c) => c.where.startsWith('systemd/')).length >= 4, 'the units run flint');
  for (const c of commands) {
    // A second word is a subcommand when the first has subcommands, else an argument.
    let path = c.words.slice(0, 1);
    let help = await flint([...path, '--help']);
    if (c.words.length > 1 && /^Commands:/m.test(help.out)) {
      path = c.words;
      help = await flint([...path, '--help']);
    }
    t.true(help.out.includes(`Usage: flint ${path.join(' ')}`), `${c.where}: \`flint ${path.join(' ')}\` is a command`);
    for (const o of c.options) t.true(help.out.includes(o), `${c.where}: \`flint ${path.join(' ')}\` has ${o}`);
  }
  const units = UNITS.map((rel) => join(DEPLOY, rel));
  for (const rel of UNITS.filter((u) => u.includes('/flint-'))) {
    const env = /^EnvironmentFile=\/etc\/flint\/(\w+)\.env$/m.exec(read(rel))?.[1];
    t.true(env !== undefined && ENV_FILES.includes(`env/${env}.env`), `${rel}: its EnvironmentFile has an example in deploy/env`);
  }
  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
  if (!analyze) {
    t.log('systemd-analyze is not installed here: the units were not verified');
    return;
  }
  const r = await execFileAsync(analyze, ['verify', ...units]).then(
    (o) => ({ code: 0, out: o.stdout + o.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
  );
  // Unknown keys and bad values are only warnings (exit 0): any line about our units fails too.
  const ours = r.out.split('\n').filter((l) => UNITS.some((u) => l.includes(u.slice('systemd/'.length))));
  t.is(r.code, 0, r.out);
  t.deepEqual(ours, [], 'systemd-analyze verify has nothing to say about the units');
});

/** Replaces `from` in `text`, which must occur exactly `times` times (else the example changed shape). */
function rewrite(text: string, from: string | RegExp, to: string, times: number, file: string): string {
  const re = typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : from;
  const found = text.match(re)?.length ?? 0;
  if (found !== times) throw new Error(`deploy/${file}: expected ${times} × ${String(from)}, found ${found}; update this test's rewrite`);
  return text.replace(re, to);
}

test('the 3-node NATS example forms a JetStream cluster that takes an R3 stream', async (t) => {
  t.timeout(90_000);
  t.deepEqual(NATS_CONFS.sort(), ['nats/nats-1.conf', 'nats/nats-2.conf', 'nats/nats-3.conf']);
  const binary = findNatsServerBinary();
  if (!binary) return t.fail('nats-server is not installed');
  const dir = await tempDir('flint-deploy-nats-');
  t.teardown(dir.cleanup);
  // The users file, as an operator makes it.
  const made = await flint(['nats-config', '--agents', 'storage-1,storage-2', '--out', join(dir.path, 'auth'), '--quiet']);
  t.is(made.code, 0, made.out);
  copyFileSync(join(dir.path, 'auth', 'nats-server.conf'), join(dir.path, 'flint-users.conf'));

  // The files as shipped parse (next to their include).
  for (const rel of NATS_CONFS) {
    const file = join(dir.path, `shipped-${rel.slice('nats/'.length)}`);
    writeFileSync(file, read(rel));
    const r = await execFileAsync(binary, ['-c', file, '-t']).then(() => '', (e: { stderr?: string }) => e.stderr ?? 'failed');
    t.is(r, '', `nats-server -t deploy/${rel}`);
  }

  // Then on free ports, with their stores in the temp dir.
  const ports = { client: [] as number[], route: [] as number[], http: [] as number[] };
  for (let i = 0; i < 3; i++) for (const k of ['client', 'route', 'http'] as const) ports[k].push(await freePort());
  const processes = testProcesses(t, 'nats cluster');
  NATS_CONFS.forEach((rel, i) => {
    let text = read(rel);
    text = rewrite(text, 'listen: 0.0.0.0:4222', `listen: 127.0.0.1:${ports.client[i]}`, 1, rel);
    text = rewrite(text, 'http: 127.0.0.1:8222', `http: 127.0.0.1:${ports.http[i]}`, 1, rel);
    text = rewrite(text, 'store_dir: /var/lib/nats-server', `store_dir: ${JSON.stringify(join(dir.path, `store-${i + 1}`))}`, 1, rel);
    text = rewrite(text, 'listen: 0.0.0.0:6222', `listen: 127.0.0.1:${ports.route[i]}`, 1, rel);
    for (let n = 1; n <= 3; n++) text = rewrite(text, `@nats-${n}.example.net:6222`, `@127.0.0.1:${ports.route[n - 1]}`, 1, rel);
    const file = join(dir.path, `nats-${i + 1}.conf`);
    writeFileSync(file, text);
    processes.spawn({ binary, args: ['-c', file] });
  });
  // Each node answers /healthz once its JetStream is up, and /routez lists the two others (deploy/README.md says so).
  const deadline = Date.now() + 30_000;
  for (const port of ports.http) {
    for (;;) {
      const healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      const routes = await fetch(`http://127.0.0.1:${port}/routez`).then((r) => r.json() as Promise<{ num_routes?: number }>, () => ({ num_routes: 0 }));
      if (healthy && routes.num_routes === 2) break;
      if (Date.now() > deadline) return t.fail(`node on monitoring port ${port}: healthy ${healthy}, ${routes.num_routes} routes after 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  // As the gateways do: their seed, their inbox, all three URLs.
  const seed = new TextEncoder().encode(readFileSync(join(dir.path, 'auth', 'gateway.nk'), 'utf8').trim());
  const open = (port: number) => connect({ servers: `nats://127.0.0.1:${port}`, authenticator: nkeyAuthenticator(seed), inboxPrefix: inboxPrefix('gateway') });
  const nc = await open(ports.client[0]!);
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  // The meta group may still be electing its leader right after the nodes report healthy.
  let info;
  for (let attempt = 0; ; attempt++) {
    try {
      info = await jsm.streams.add({ name: STREAM_CMD, subjects: ['flint.cmd.>'], storage: StorageType.File, num_replicas: 3 });
      break;
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  t.is(info.config.num_replicas, 3);
  t.is(info.cluster?.name, 'flint');
  t.is(info.cluster?.replicas?.length, 2, 'a leader and two followers');
  await jetstream(nc).publish('flint.cmd.scheduler.probe', 'hello');

  const other = await open(ports.client[2]!);
  t.teardown(() => other.close());
  const seen = await (await jetstreamManager(other)).streams.info(STREAM_CMD);
  t.is(seen.state.messages, 1, 'another node serves the stream');
  for (let i = 1; i <= 3; i++) t.true(existsSync(join(dir.path, `store-${i}`, 'jetstream')), `node ${i} keeps JetStream in its store_dir, not in the include's`);
  await other.close();
  await nc.close();
  await processes.close();
});

test.after.always('no process is left behind', noProcessesLeft);
