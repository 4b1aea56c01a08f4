/**
 * The API commands of the real `bin/flint.js` against a real cluster (one agent with a
 * small pool): volumes from create to delete with --wait, the three output formats,
 * and every exit code.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { parse as parseYaml } from 'yaml';
import { freePort } from '../../src/net/free-port.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { field, json, runFlint, type Run } from '../helpers/flint-cli.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';


interface Ctx {
  cluster: Cluster;
  member: string;
  /** Working directory of the CLI: empty, so no ./.flint/admin-token is found by accident. */
  cwd: TempDir;
}
const test = anyTest as TestFn<Ctx>;

interface VolumeJson {
  id: string;
  name: string;
  status: string;
  sizeGiB: number;
  metadata: Record<string, string>;
  version: number;
}

test.before(async (t) => {
  const cluster = await startCluster({ database: 'sqlite', agents: [{ host: 'host-a', pools: [{ name: 'small', imageFormat: 'qcow2', capacityGiB: 20 }] }] });
  t.context = { cluster, member: await cluster.token('cli-team', 'member'), cwd: await tempDir('flint-cli-') };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
  await t.context.cwd?.cleanup();
});

function flint(t: { context: Ctx }, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runFlint({ cwd: t.context.cwd.path, url: t.context.cluster.url, token: t.context.member }, args, env);
}

test.serial('a volume from create --wait to delete --wait, in table, json and yaml', async (t) => {
  const created = await flint(t, ['volume', 'create', 'cli-a', '--size', '1', '--property', 'app=pg', '--description', 'from the CLI', '--wait']);
  t.is(created.status, 0, created.stderr);
  t.is(field(created, 'status'), 'AVAILABLE');
  t.is(field(created, 'size'), '1 GiB');
  t.regex(field(created, 'operation') ?? '', /create_volume SUCCEEDED/);
  const id = field(created, 'id')!;
  t.regex(id, /^[0-9a-f-]{36}$/);

  const table = await flint(t, ['volume', 'list']);
  t.is(table.status, 0, table.stderr);
  t.regex(table.stdout, /^ID\s+NAME\s+STATUS\s+SIZE\s+TYPE\s+ZONE$/m);
  t.regex(table.stdout, new RegExp(`^${id}\\s+cli-a\\s+AVAILABLE\\s+1 GiB\\s+-\\s+nova$`, 'm'));
  const listed = json<VolumeJson[]>(await flint(t, ['volume', 'list', '-o', 'json', '--status', 'available']));
  t.deepEqual(listed.map((v) => [v.id, v.status, v.metadata]), [[id, 'AVAILABLE', { app: 'pg' }]]);
  const yaml = await flint(t, ['volume', 'list', '--output', 'yaml', '--name', 'cli-a']);
  t.deepEqual((parseYaml(yaml.stdout) as VolumeJson[]).map((v) => v.id), [id]);
  t.is(json<VolumeJson[]>(await flint(t, ['volume', 'list', '-o', 'json', '--status', 'ERROR'])).length, 0);

  const shown = await flint(t, ['volume', 'show', 'cli-a']);
  t.is(shown.status, 0, shown.stderr);
  t.is(field(shown, 'id'), id, 'a name resolves to its volume');
  t.is(field(shown, 'properties'), "app='pg'");
  t.is(field(shown, 'description'), 'from the CLI');

  const set = await flint(t, ['volume', 'set', id, '--property', 'tier=gold', '--name', 'cli-b', '-o', 'json']);
  t.is(set.status, 0, set.stderr);
  const updated = json<{ volume: VolumeJson }>(set).volume;
  t.is(updated.name, 'cli-b');
  t.deepEqual(updated.metadata, { app: 'pg', tier: 'gold' }, 'properties are merged into the present ones');
  const stale = await flint(t, ['volume', 'set', id, '--description', 'x', '--expected-version', String(updated.version - 1)]);
  t.is(stale.status, 1);
  t.regex(stale.stderr, /^flint: .*\(CONFLICT\)$/m);

  const extended = await flint(t, ['volume', 'extend', id, '--size', '2', '--wait', '-o', 'yaml']);
  t.is(extended.status, 0, extended.stderr);
  const after = parseYaml(extended.stdout) as { volume: VolumeJson; operation: { status: string } };
  t.is(after.volume.sizeGiB, 2);
  t.is(after.volume.status, 'AVAILABLE');
  t.is(after.operation.status, 'SUCCEEDED');

  const deleted = await flint(t, ['volume', 'delete', id, '--wait']);
  t.is(deleted.status, 0, deleted.stderr);
  t.is(field(deleted, 'status'), 'DELETED');
  t.is((await flint(t, ['volume', 'show', id])).status, 4, 'a deleted volume is not found');
});

test.serial('a create no pool can hold ends in ERROR: exit 1 with the NO_VALID_BACKEND message', async (t) => {
  const r = await flint(t, ['volume', 'create', 'too-big', '--size', '60000', '--wait']);
  t.is(r.status, 1, r.stderr);
  t.is(field(r, 'status'), 'ERROR');
  t.regex(r.stderr, /^flint: Volume [0-9a-f-]{36} is ERROR: .*host-a@small.*CapacityFilter.*\(NO_VALID_BACKEND\)$/ms);
  const id = field(r, 'id')!;
  const shown = await flint(t, ['volume', 'show', id]);
  t.regex(field(shown, 'latest_message') ?? '', /create_volume: .*CapacityFilter/);
  const op = /^operation\s+(\S+)/m.exec(r.stdout)![1]!;
  const opShown = await flint(t, ['operation', 'show', op, '-o', 'json']);
  t.is(json<{ status: string; error: { code: string } }>(opShown).error.code, 'NO_VALID_BACKEND');
  t.is((await flint(t, ['volume', 'delete', id, '--wait'])).status, 0, 'an ERROR volume can be deleted');
});

test('bad usage and bad input exit 2', async (t) => {
  const tooBig = await flint(t, ['volume', 'create', 'x', '--size', '70000']);
  t.is(tooBig.status, 2);
  t.regex(tooBig.stderr, /^flint: .*sizeGiB.*\(BAD_USER_INPUT\)$/m);
  for (const args of [
    ['volume', 'create', 'x', '--size', 'abc'],
    ['volume', 'create', 'x'],
    ['volume', 'create', 'x', '--size', '1', '--property', 'novalue'],
    ['volume', 'list', '--output', 'xml'],
    ['volume', 'frobnicate'],
    ['volume', 'set', '0b5e7f5c-8a4f-4c1e-9a57-2f7d3c8e9a10'],
  ]) {
    const r = await flint(t, args);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('a bad token exits 3, and so does an admin command for a member', async (t) => {
  const bad = await flint(t, ['volume', 'list'], { FLINT_TOKEN: 'flint_not-a-real-token' });
  t.is(bad.status, 3);
  t.regex(bad.stderr, /^flint: .*\(UNAUTHENTICATED\)$/m);
  const member = await flint(t, ['pool', 'list']);
  t.is(member.status, 3);
  t.regex(member.stderr, /\(FORBIDDEN\)$/m);
});

test('unknown ids and names exit 4', async (t) => {
  const unknown = '0b5e7f5c-8a4f-4c1e-9a57-2f7d3c8e9a10';
  for (const args of [['volume', 'show', unknown], ['volume', 'delete', unknown], ['volume', 'show', 'no-such-name'], ['operation', 'show', unknown]]) {
    const r = await flint(t, args);
    t.is(r.status, 4, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /\(NOT_FOUND\)$/m);
  }
});

test('an unreachable gateway exits 5', async (t) => {
  const url = `http://127.0.0.1:${await freePort()}/graphql`;
  const r = await flint(t, ['volume', 'list'], { FLINT_URL: url });
  t.is(r.status, 5);
  t.regex(r.stderr, /^flint: Could not reach the Flint gateway at .*\(NETWORK\)$/m);
  t.is((await flint(t, ['--url', url, 'pool', 'list'])).status, 5, '--url works before the command too');
});

test('pool list and service list as admin; the admin token is read from FLINT_DATA_DIR', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.cleanup());
  writeFileSync(join(dir.path, 'admin-token'), `${t.context.cluster.adminToken}\n`);
  const admin = { FLINT_TOKEN: '', FLINT_DATA_DIR: dir.path };

  const pools = await flint(t, ['pool', 'list'], admin);
  t.is(pools.status, 0, pools.stderr);
  t.regex(pools.stdout, /^ID\s+ZONE\s+STATE\s+FORMAT\s+TOTAL\s+FREE\s+ALLOCATED\s+VOLUMES$/m);
  t.regex(pools.stdout, /^host-a@small\s+nova\s+UP\s+qcow2\s+20 GiB\s/m);
  const poolJson = json<Array<{ id: string; totalCapacityGiB: number }>>(await flint(t, ['pool', 'list', '-o', 'json'], admin));
  t.deepEqual(poolJson.map((p) => [p.id, p.totalCapacityGiB]), [['host-a@small', 20]]);

  const services = await flint(t, ['service', 'list'], admin);
  t.is(services.status, 0, services.stderr);
  for (const role of ['gateway', 'scheduler', 'agent']) t.regex(services.stdout, new RegExp(`^${role}\\s+\\S+\\s+nova\\s+UP\\s`, 'm'));
  const roles = (parseYaml((await flint(t, ['service', 'list', '-o', 'yaml'], admin)).stdout) as Array<{ role: string }>).map((s) => s.role);
  t.deepEqual([...new Set(roles)].sort(), ['agent', 'gateway', 'scheduler']);
});

test('volume types: create, list and delete by name as admin', async (t) => {
  const admin = { FLINT_TOKEN: t.context.cluster.adminToken };
  const created = await flint(t, ['volume-type', 'create', 'cli-gold', '--property', 'capabilities:tier=gold', '--private', '-o', 'json'], admin);
  t.is(created.status, 0, created.stderr);
  const type = json<{ id: string; isPublic: boolean; extraSpecs: Record<string, string> }>(created);
  t.false(type.isPublic);
  t.deepEqual(type.extraSpecs, { 'capabilities:tier': 'gold' });
  const list = await flint(t, ['volume-type', 'list'], admin);
  t.regex(list.stdout, new RegExp(`^${type.id}\\s+cli-gold\\s+no\\s+capabilities:tier='gold'`, 'm'));
  const deleted = await flint(t, ['volume-type', 'delete', 'cli-gold'], admin);
  t.is(deleted.status, 0, deleted.stderr);
  t.is(deleted.stdout, `Deleted volume type ${type.id}.\n`);
});

test('an encrypted volume type from the CLI, and its volume shows encrypted', async (t) => {
  const admin = { FLINT_TOKEN: t.context.cluster.adminToken };
  const created = await flint(t, ['volume-type', 'create', 'cli-secure', '--encryption-provider', 'luks', '--encryption-key-size', '512'], admin);
  t.is(created.status, 0, created.stderr);
  t.is(field(created, 'encryption'), 'LUKS aes-xts-plain64 512-bit');
  const volume = await flint(t, ['volume', 'create', 'cli-enc', '--size', '1', '--type', 'cli-secure', '--wait']);
  t.is(volume.status, 0, volume.stderr);
  t.is(field(volume, 'encrypted'), 'true');
  const alone = await flint(t, ['volume-type', 'create', 'cli-half', '--encryption-cipher', 'aes-xts-plain64'], admin);
  t.is(alone.status, 2);
  t.regex(alone.stderr, /need --encryption-provider LUKS/);
  const badSize = await flint(t, ['volume-type', 'create', 'cli-bad', '--encryption-provider', 'LUKS', '--encryption-key-size', '128'], admin);
  t.is(badSize.status, 2);
  t.regex(badSize.stderr, /keySize for aes-xts-plain64 must be one of 256, 512 bits/);
});

test.after.always('no process is left behind', noProcessesLeft);
