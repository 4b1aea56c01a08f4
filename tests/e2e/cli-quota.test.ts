/**
 * `flint quota …` of the real `bin/flint.js` against a real cluster: a member shows its
 * project's quota, an admin sets limits by project name (refused below use unless
 * --force), the member's next create is QUOTA_EXCEEDED with its exit code, and a sync
 * reports no drift.
 */
import anyTest, { type TestFn } from 'ava';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { json, runFlint, type Run } from '../helpers/flint-cli.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  member: string;
  cwd: TempDir;
}
const test = anyTest as TestFn<Ctx>;

interface Usage {
  limit: number;
  inUse: number;
  reserved: number;
  available: number | null;
}

test.before(async (t) => {
  // Cinder's default limits (`{}` keeps every default), not the unlimited ones other tests run with.
  const cluster = await startCluster({ database: 'sqlite', agents: [{ host: 'host-a', pools: [{ name: 'p', imageFormat: 'qcow2', capacityGiB: 50 }] }], env: { FLINT_QUOTA_DEFAULTS: '{}' } });
  t.context = { cluster, member: await cluster.token('cli-quota', 'member'), cwd: await tempDir('flint-cli-quota-') };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
  await t.context.cwd?.cleanup();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

function flint(t: { context: Ctx }, token: string, args: string[]): Promise<Run> {
  return runFlint({ cwd: t.context.cwd.path, url: t.context.cluster.url, token }, args);
}

test.serial('show, set by project name, QUOTA_EXCEEDED on the next create, and a sync without drift', async (t) => {
  const { cluster, member } = t.context;
  const admin = cluster.adminToken;
  const created = await flint(t, member, ['volume', 'create', 'q1', '--size', '3', '--wait']);
  t.is(created.status, 0, created.stderr);

  const shown = await flint(t, member, ['quota', 'show']);
  t.is(shown.status, 0, shown.stderr);
  t.regex(shown.stdout, /^Project cli-quota \(.+\), default limits$/m);
  t.regex(shown.stdout, /^gigabytes\s+1000\s+3\s+0\s+997$/m);
  t.regex(shown.stdout, /^perVolumeGigabytes\s+unlimited\s+3\s+0\s+unlimited$/m);

  const below = await flint(t, admin, ['quota', 'set', '--project', 'cli-quota', '--gigabytes', '2']);
  t.not(below.status, 0);
  t.regex(below.stderr, /gigabytes 2 is below what the project holds \(3 in use, 0 reserved\).*\(INVALID_STATE\)/);

  const set = await flint(t, admin, ['quota', 'set', '--project', 'cli-quota', '--gigabytes', '4', '--volumes', '-1', '--reason', 'cli test', '-o', 'json']);
  t.is(set.status, 0, set.stderr);
  const after = json<{ quotaSet: { gigabytes: Usage; volumes: Usage; usesDefaults: boolean }; audit: { reason: string } }>(set);
  t.deepEqual(after.quotaSet.gigabytes, { limit: 4, inUse: 3, reserved: 0, available: 1 });
  t.is(after.quotaSet.volumes.limit, -1);
  t.is(after.audit.reason, 'cli test: volumes 10 → unlimited, gigabytes 1000 → 4');

  const over = await flint(t, member, ['volume', 'create', 'q2', '--size', '2']);
  t.not(over.status, 0);
  t.regex(over.stderr, /Quota exceeded for gigabytes in project .*: requested 2, in use 3, reserved 0, limit 4\..*\(QUOTA_EXCEEDED\)/);

  const refused = await flint(t, member, ['quota', 'set', '--project', 'cli-quota', '--gigabytes', '100']);
  t.regex(refused.stderr, /FORBIDDEN/);
  const bad = await flint(t, admin, ['quota', 'set', '--project', 'cli-quota', '--gigabytes', 'lots']);
  t.is(bad.status, 2);

  const sync = await flint(t, admin, ['quota', 'sync', '--project', 'cli-quota']);
  t.is(sync.status, 0, sync.stderr);
  t.regex(sync.stdout, /^no drift: the counters matched the tables$/m);
});

test.after.always('no process is left behind', noProcessesLeft);
