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

test.serial('create from a snapshot and as a copy without --size, then delete both in one command', async (t) => {
  const src = await flint(t, ['volume', 'create', 'cli-src', '--size', '2', '--wait', '-f', 'value', '-c', 'id']);
  t.is(src.status, 0, src.stderr);
  const srcId = src.stdout.trim();
  t.regex(srcId, /^[0-9a-f-]{36}$/, '-f value -c id prints the id alone');
  const snap = await flint(t, ['snapshot', 'create', 'cli-src', '--name', 'cli-snap', '--wait', '-f', 'value', '-c', 'id', '-c', 'status']);
  t.is(snap.status, 0, snap.stderr);
  t.regex(snap.stdout, /^[0-9a-f-]{36} AVAILABLE\n$/);

  const fromSnap = await flint(t, ['volume', 'create', 'cli-from-snap', '--snapshot', 'cli-snap', '--wait', '-o', 'json']);
  t.is(fromSnap.status, 0, fromSnap.stderr);
  const made = json<{ volume: VolumeJson & { snapshotId: string } }>(fromSnap).volume;
  t.is(made.status, 'AVAILABLE');
  t.is(made.sizeGiB, 2, 'the size is the snapshot\'s');
  t.is(made.snapshotId, snap.stdout.split(' ')[0]);
  const copy = await flint(t, ['volume', 'create', 'cli-copy', '--source', 'cli-src', '--wait', '-f', 'value', '-c', 'status', '-c', 'size_gib', '-c', 'sourceVolumeId']);
  t.is(copy.status, 0, copy.stderr);
  t.is(copy.stdout, `AVAILABLE 2 ${srcId}\n`);
  const both = await flint(t, ['volume', 'create', 'x', '--snapshot', 'cli-snap', '--source', 'cli-src']);
  t.is(both.status, 2);
  t.regex(both.stderr, /^flint: --snapshot and --source are exclusive.*\(BAD_USER_INPUT\)$/m);

  const deleted = await flint(t, ['volume', 'delete', 'cli-from-snap', 'cli-copy', '--wait', '-f', 'csv', '-c', 'volume,status']);
  t.is(deleted.status, 0, deleted.stderr);
  t.is(deleted.stdout, 'volume,status\ncli-from-snap,DELETED\ncli-copy,DELETED\n');
  const cascade = await flint(t, ['volume', 'delete', srcId, '--cascade', '--wait']);
  t.is(cascade.status, 0, cascade.stderr);
});

test.serial('a delete of several tries each one and exits with the first failure', async (t) => {
  const a = await flint(t, ['volume', 'create', 'cli-del-a', '--size', '1', '--wait', '-f', 'value', '-c', 'id']);
  t.is(a.status, 0, a.stderr);
  const r = await flint(t, ['volume', 'delete', 'no-such-volume', 'cli-del-a', '--wait']);
  t.is(r.status, 4, r.stderr);
  t.regex(r.stderr, /^flint: no-such-volume: No volume has the id or name "no-such-volume"\. \(NOT_FOUND\)$/m);
  t.regex(r.stderr, /^flint: 1 of 2 volumes were not deleted: no-such-volume\. \(NOT_FOUND\)$/m);
  t.regex(r.stdout, /^VOLUME\s+ID\s+STATUS\s+OPERATION\s+ERROR$/m);
  t.regex(r.stdout, new RegExp(`^cli-del-a\\s+${a.stdout.trim()}\\s+DELETED\\s`, 'm'), 'the volume after the failure was deleted');
  t.is((await flint(t, ['volume', 'show', a.stdout.trim()])).status, 4);
});

test.serial('--project as admin lists one project\'s volumes; for a member another project matches nothing', async (t) => {
  const admin = { FLINT_TOKEN: t.context.cluster.adminToken };
  const other = await t.context.cluster.token('cli-other', 'member');
  const mine = await flint(t, ['volume', 'create', 'cli-mine', '--size', '1', '--wait', '-f', 'value', '-c', 'id']);
  const theirs = await flint(t, ['volume', 'create', 'cli-theirs', '--size', '1', '--wait', '-f', 'value', '-c', 'id'], { FLINT_TOKEN: other });
  t.is(mine.status, 0, mine.stderr);
  t.is(theirs.status, 0, theirs.stderr);

  const byName = await flint(t, ['volume', 'list', '--project', 'cli-other', '-f', 'value', '-c', 'id', '-c', 'name'], admin);
  t.is(byName.status, 0, byName.stderr);
  t.is(byName.stdout, `${theirs.stdout.trim()} cli-theirs\n`);
  const otherId = json<{ projectId: string }>(await flint(t, ['quota', 'show', '--project', 'cli-other', '-o', 'json'], admin)).projectId;
  const byId = await flint(t, ['volume', 'list', '--project', otherId, '-f', 'value', '-c', 'name'], admin);
  t.is(byId.stdout, 'cli-theirs\n');
  const ours = await flint(t, ['volume', 'list', '--project', 'cli-team', '--all-pages', '-f', 'value', '-c', 'name'], admin);
  t.true(ours.stdout.split('\n').includes('cli-mine'), ours.stdout);
  t.false(ours.stdout.split('\n').includes('cli-theirs'), ours.stdout);

  const member = await flint(t, ['volume', 'list', '--project', otherId, '-o', 'json']);
  t.is(member.status, 0, member.stderr);
  t.deepEqual(json<unknown[]>(member), [], 'a member asking for another project sees nothing');
  const unknownName = await flint(t, ['volume', 'list', '--project', 'no-such-project'], admin);
  t.is(unknownName.status, 4, unknownName.stderr);

  const snap = await flint(t, ['snapshot', 'create', 'cli-theirs', '--name', 'snap-theirs', '--wait'], { FLINT_TOKEN: other });
  t.is(snap.status, 0, snap.stderr);
  t.is((await flint(t, ['snapshot', 'list', '--project', 'cli-other', '-f', 'value', '-c', 'name'], admin)).stdout, 'snap-theirs\n');
  t.deepEqual(json<unknown[]>(await flint(t, ['snapshot', 'list', '--project', otherId, '-o', 'json'])), [], 'nor their snapshots');
  const backups = await flint(t, ['backup', 'list', '--project', 'cli-other', '-o', 'json'], admin);
  t.is(backups.status, 0, backups.stderr);
  t.deepEqual(json<unknown[]>(backups), []);

  const del = await flint(t, ['volume', 'delete', theirs.stdout.trim(), '--force', '--reason', 'e2e cleanup', '--wait', '-f', 'value', '-c', 'status'], admin);
  t.is(del.status, 0, del.stderr);
  t.is(del.stdout, 'DELETED\n');
  t.is((await flint(t, ['volume', 'delete', mine.stdout.trim(), '--force'])).status, 3, '--force is for admins');

  const reset = await flint(t, ['volume', 'set', 'cli-mine', '--state', 'error', '--reason', 'e2e: checked the host', '-f', 'value', '-c', 'status'], admin);
  t.is(reset.status, 0, reset.stderr);
  t.is(reset.stdout, 'ERROR\n');
  t.is((await flint(t, ['volume', 'set', 'cli-mine', '--state', 'available'])).status, 3, '--state is for admins');
  const back = await flint(t, ['volume', 'set', 'cli-mine', '--state', 'available', '-o', 'json'], admin);
  t.is(back.status, 0, back.stderr);
  const audit = json<{ volume: VolumeJson; audit: { fromStatus: string; toStatus: string; reason: string } }>(back);
  t.is(audit.volume.status, 'AVAILABLE');
  t.like(audit.audit, { fromStatus: 'ERROR', toStatus: 'AVAILABLE', reason: 'by hand with the flint CLI (no --reason given)' });
  t.is((await flint(t, ['volume', 'delete', mine.stdout.trim(), '--wait'])).status, 0);
});

test('an unknown -c column exits 2 and names the columns there are', async (t) => {
  // The serial tests ran first and left DELETED volumes: the list is not empty (an empty one has no columns to check).
  const r = await flint(t, ['volume', 'list', '--status', 'DELETED', '-f', 'value', '-c', 'nope']);
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /^flint: No column "nope" here; the columns are: id, name, .*\(BAD_USER_INPUT\)$/m);
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
