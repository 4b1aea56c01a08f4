/**
 * `flint snapshot …` of the real `bin/flint.js` against a real cluster (one agent with
 * a qcow2 pool): snapshots from create --wait to delete --wait in table and json, their
 * properties (`--property`), the refusal to delete a volume that has snapshots, and
 * `volume delete --cascade`.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
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

interface SnapshotJson {
  id: string;
  name: string;
  description: string | null;
  status: string;
  sizeGiB: number;
  volumeId: string;
  metadata: Record<string, string>;
  version: number;
  generation: number;
}

test.before(async (t) => {
  const cluster = await startCluster({ database: 'sqlite', agents: [{ host: 'host-a', pools: [{ name: 'small', imageFormat: 'qcow2', capacityGiB: 20 }] }] });
  t.context = { cluster, member: await cluster.token('cli-snap', 'member'), cwd: await tempDir('flint-cli-snap-') };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
  await t.context.cwd?.cleanup();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

function flint(t: { context: Ctx }, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runFlint({ cwd: t.context.cwd.path, url: t.context.cluster.url, token: t.context.member }, args, env);
}

/** Creates an AVAILABLE 1 GiB volume and returns its id. */
async function volume(t: ExecutionContext<Ctx>, name: string): Promise<string> {
  const r = await flint(t, ['volume', 'create', name, '--size', '1', '--wait']);
  t.is(r.status, 0, r.stderr);
  t.is(field(r, 'status'), 'AVAILABLE');
  return field(r, 'id')!;
}

test.serial('a snapshot from create --wait to delete --wait; its volume cannot be deleted meanwhile', async (t) => {
  const volumeId = await volume(t, 'snap-vol');

  const created = await flint(t, ['snapshot', 'create', 'snap-vol', '--name', 'snap-a', '--description', 'before upgrade', '--wait']);
  t.is(created.status, 0, created.stderr);
  t.is(field(created, 'status'), 'AVAILABLE');
  t.is(field(created, 'size'), '1 GiB');
  t.is(field(created, 'volume_id'), volumeId, 'the volume was named by its name');
  t.regex(field(created, 'operation') ?? '', / \(\S*snapshot\S* SUCCEEDED\)$/);
  const id = field(created, 'id')!;
  t.regex(id, /^[0-9a-f-]{36}$/);

  const table = await flint(t, ['snapshot', 'list']);
  t.is(table.status, 0, table.stderr);
  t.regex(table.stdout, /^ID\s+NAME\s+STATUS\s+SIZE\s+VOLUME\s+CREATED$/m);
  t.regex(table.stdout, new RegExp(`^${id}\\s+snap-a\\s+AVAILABLE\\s+1 GiB\\s+${volumeId}\\s+\\S+$`, 'm'));
  const listed = json<SnapshotJson[]>(await flint(t, ['snapshot', 'list', '-o', 'json', '--volume', 'snap-vol', '--status', 'available']));
  t.deepEqual(listed.map((s) => [s.id, s.name, s.status, s.volumeId, s.description]), [[id, 'snap-a', 'AVAILABLE', volumeId, 'before upgrade']]);
  t.is(json<SnapshotJson[]>(await flint(t, ['snapshot', 'list', '-o', 'json', '--status', 'ERROR'])).length, 0);
  t.is(json<SnapshotJson[]>(await flint(t, ['snapshot', 'list', '-o', 'json', '--name', 'no-such-snapshot'])).length, 0);

  const shown = await flint(t, ['snapshot', 'show', 'snap-a']);
  t.is(shown.status, 0, shown.stderr);
  t.is(field(shown, 'id'), id, 'a name resolves to its snapshot');
  t.is(field(shown, 'volume_name'), 'snap-vol');
  t.is(field(shown, 'description'), 'before upgrade');

  const set = await flint(t, ['snapshot', 'set', 'snap-a', '--name', 'snap-b', '--description', 'renamed', '-o', 'json']);
  t.is(set.status, 0, set.stderr);
  const updated = json<{ snapshot: SnapshotJson }>(set).snapshot;
  t.deepEqual([updated.id, updated.name, updated.description], [id, 'snap-b', 'renamed']);
  const stale = await flint(t, ['snapshot', 'set', id, '--description', 'x', '--expected-version', String(updated.version - 1)]);
  t.is(stale.status, 1);
  t.regex(stale.stderr, /^flint: .*\(CONFLICT\)$/m);

  const refused = await flint(t, ['volume', 'delete', volumeId]);
  t.is(refused.status, 1, 'a volume with snapshots is not deleted without --cascade');
  t.regex(refused.stderr, /^flint: .*\(INVALID_STATE\)$/m);
  t.is(field(await flint(t, ['volume', 'show', volumeId]), 'status'), 'AVAILABLE');

  const deleted = await flint(t, ['snapshot', 'delete', 'snap-b', '--wait']);
  t.is(deleted.status, 0, deleted.stderr);
  t.is(field(deleted, 'status'), 'DELETED');
  t.regex(field(deleted, 'operation') ?? '', /SUCCEEDED\)$/);
  const gone = await flint(t, ['snapshot', 'show', id]);
  t.is(gone.status, 4, 'a deleted snapshot is not found');
  t.regex(gone.stderr, /\(NOT_FOUND\)$/m);

  const volumeDeleted = await flint(t, ['volume', 'delete', volumeId, '--wait']);
  t.is(volumeDeleted.status, 0, `without its snapshots the volume can go: ${volumeDeleted.stderr}`);
  t.is(field(volumeDeleted, 'status'), 'DELETED');
});

test.serial('snapshot create and set take --property (repeatable); set merges them into the present ones; show prints them', async (t) => {
  await volume(t, 'prop-vol');
  const created = await flint(t, ['snapshot', 'create', 'prop-vol', '--name', 'prop-snap', '--property', 'flint.stack=web', '--property', 'app=pg', '--wait', '-o', 'json']);
  t.is(created.status, 0, created.stderr);
  // AVAILABLE first (--wait), so no status move of the agent's races the set below (its write is conditional on the version it read).
  const snap = json<{ snapshot: SnapshotJson }>(created).snapshot;
  t.is(snap.status, 'AVAILABLE');
  t.deepEqual(snap.metadata, { 'flint.stack': 'web', app: 'pg' });

  const set = await flint(t, ['snapshot', 'set', 'prop-snap', '--property', 'app=mysql', '--property', 'tier=gold', '-o', 'json']);
  t.is(set.status, 0, set.stderr);
  const updated = json<{ snapshot: SnapshotJson }>(set).snapshot;
  t.deepEqual(updated.metadata, { 'flint.stack': 'web', app: 'mysql', tier: 'gold' });
  t.is(updated.generation, snap.generation + 1);

  const shown = await flint(t, ['snapshot', 'show', snap.id]);
  t.is(shown.status, 0, shown.stderr);
  t.is(field(shown, 'properties'), "app='mysql', flint.stack='web', tier='gold'");

  const bad = await flint(t, ['snapshot', 'set', snap.id, '--property', 'no-equals-sign']);
  t.is(bad.status, 2, 'a property without = is bad usage');
});

test.serial('volume delete --cascade --wait deletes a volume with its snapshots', async (t) => {
  const volumeId = await volume(t, 'cascade-vol');
  const ids: string[] = [];
  for (const name of ['cascade-1', 'cascade-2']) {
    const r = await flint(t, ['snapshot', 'create', volumeId, '--name', name, '--wait', '-o', 'json']);
    t.is(r.status, 0, r.stderr);
    const out = json<{ snapshot: SnapshotJson; operation: { status: string } }>(r);
    t.is(out.snapshot.status, 'AVAILABLE');
    t.is(out.operation.status, 'SUCCEEDED');
    ids.push(out.snapshot.id);
  }

  const deleted = await flint(t, ['volume', 'delete', 'cascade-vol', '--cascade', '--wait']);
  t.is(deleted.status, 0, deleted.stderr);
  t.is(field(deleted, 'status'), 'DELETED');
  t.is((await flint(t, ['volume', 'show', volumeId])).status, 4);
  for (const id of ids) t.is((await flint(t, ['snapshot', 'show', id])).status, 4, `snapshot ${id} went with its volume`);
  t.deepEqual(json<SnapshotJson[]>(await flint(t, ['snapshot', 'list', '-o', 'json', '--volume', volumeId])), []);
});

test('bad usage exits 2 and unknown snapshots exit 4', async (t) => {
  for (const args of [
    ['snapshot', 'create', 'some-volume'],
    ['snapshot', 'list', '--limit', '0'],
    ['snapshot', 'list', '--output', 'xml'],
    ['snapshot', 'frobnicate'],
    ['snapshot', 'set', '0b5e7f5c-8a4f-4c1e-9a57-2f7d3c8e9a10'],
    ['snapshot', 'delete', 'x', '--expected-version', 'abc'],
  ]) {
    const r = await flint(t, args);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  const unknown = '0b5e7f5c-8a4f-4c1e-9a57-2f7d3c8e9a10';
  for (const args of [
    ['snapshot', 'show', unknown],
    ['snapshot', 'show', 'no-such-snapshot'],
    ['snapshot', 'delete', unknown],
    ['snapshot', 'create', 'no-such-volume', '--name', 's'],
  ]) {
    const r = await flint(t, args);
    t.is(r.status, 4, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /\(NOT_FOUND\)$/m);
  }
});

test.after.always('no process is left behind', noProcessesLeft);
