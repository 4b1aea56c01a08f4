/**
 * migrateVolume and retypeVolume end to end (on SQLite and on PostgreSQL): gateway, scheduler and two agents on
 * different hosts (host-a: a qcow2 pool; host-b: a raw pool and a qcow2 one) as separate
 * processes over a real nats-server and SQLite. Data goes into the images with qemu-io and
 * is read back with qemu-io / qemu-img outside Flint; progress is watched over graphql-ws.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateSnapshotDocument,
  CreateVolumeDocument,
  CreateVolumeTypeDocument,
  DeleteVolumeDocument,
  MigrateVolumeDocument,
  PoolsDocument,
  RetypeVolumeDocument,
  UpdateVolumeDocument,
  VolumeChangedDocument,
  VolumeDocument,
  type CreateVolumeInput,
  type MigrateVolumeInput,
  type RetypeVolumeInput,
} from '../../src/client/index.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { EventLog, waitForOperation, waitForSnapshot, waitForVolume, waitUntil, type VolumeState } from '../helpers/wait.js';
import { json, runFlint } from '../helpers/flint-cli.js';

const run = promisify(execFile);

interface Ctx {
  cluster: Cluster;
  member: string;
}

type Vol = VolumeState;

const code = errorCode;
const admin = (t: ExecutionContext<Ctx>) => t.context.cluster.adminToken;
/** The SDK as an admin, who sees host and pool. */
const asAdmin = (t: ExecutionContext<Ctx>) => t.context.cluster.client();

/** Follows a volume over graphql-ws (as an admin, so host and pool are visible). */
const follow = (t: ExecutionContext<Ctx>, id: string) => EventLog.of(asAdmin(t).subscribe(VolumeChangedDocument, { id }), `volumeChanged of ${id}`, (e) => e.volumeChanged);

const getVolume = async (t: ExecutionContext<Ctx>, id: string) => (await asAdmin(t).request(VolumeDocument, { id })).volume!;

const availableVolume = async (t: ExecutionContext<Ctx>, input: Omit<CreateVolumeInput, 'sizeGiB'> & { sizeGiB?: number }): Promise<Vol> => {
  const r = await t.context.cluster.client(t.context.member).request(CreateVolumeDocument, { input: { sizeGiB: 1, ...input } });
  const id = r.createVolume.volume.id;
  return (await waitForVolume(asAdmin(t), id, (v) => v?.status === 'AVAILABLE' || v?.status === 'ERROR', { what: `volume ${id} to be AVAILABLE or ERROR`, timeoutMs: 30_000 }))!;
};

const imagePath = (t: ExecutionContext<Ctx>, v: { id: string; host: string | null; pool: string | null }, format: string) =>
  join(t.context.cluster.poolDir(v.host!, v.pool!), `volume-${v.id}.${format}`);

const exists = (path: string) => fs.stat(path).then(() => true, () => false);

const write = (path: string, format: string, byte: number, offset: string) =>
  run('qemu-io', ['-f', format, '-c', `write -q -P 0x${byte.toString(16)} ${offset} 1M`, path]);

/** qemu-io exits 1 on "Pattern verification failed". */
const hasPattern = async (path: string, format: string, byte: number, offset: string): Promise<boolean> => {
  try {
    const { stdout } = await run('qemu-io', ['-r', '-U', '-f', format, '-c', `read -P 0x${byte.toString(16)} ${offset} 1M`, path]);
    return !/fail/i.test(stdout);
  } catch {
    return false;
  }
};

const allocated = async (t: ExecutionContext<Ctx>): Promise<Record<string, number>> => {
  const r = await asAdmin(t).request(PoolsDocument);
  return Object.fromEntries(r.pools.map((p) => [p.id, p.allocatedCapacityGiB]));
};

/** Whether some qemu-nbd still exports the volume for a migration. */
const exportRunning = async (volumeId: string): Promise<boolean> => {
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.startsWith('qemu-nbd') && cmd.includes(`migrate-${volumeId}`)) return true;
  }
  return false;
};

const migrate = (t: ExecutionContext<Ctx>, input: MigrateVolumeInput, token = admin(t)) => t.context.cluster.client(token).raw(MigrateVolumeDocument, { input });

const retype = (t: ExecutionContext<Ctx>, input: RetypeVolumeInput, token = t.context.member) => t.context.cluster.client(token).raw(RetypeVolumeDocument, { input });

/** Registers the migrate and retype tests on a cluster with `database`. */
export function registerMigrateSuite(database: 'sqlite' | 'postgresql'): void {
  const test = anyTest as TestFn<Ctx>;

  test.before(async (t) => {
    const cluster = await startCluster({
      database,
      agents: [
        // The largest pool: the CapacityWeigher puts untyped volumes here, so each test knows where they start.
        { host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 200, capabilities: { tier: 'gold' } }] },
        {
          host: 'host-b',
          pools: [
            { name: 'bulk', imageFormat: 'raw', capacityGiB: 100, capabilities: { tier: 'bronze' } },
            { name: 'spare', imageFormat: 'qcow2', capacityGiB: 100, capabilities: { tier: 'silver' } },
          ],
        },
      ],
    });
    t.context = { cluster, member: await cluster.token('alpha', 'member') };
    for (const tier of ['gold', 'bronze', 'platinum']) {
      await cluster.client().request(CreateVolumeTypeDocument, { input: { name: tier, extraSpecs: { 'capabilities:tier': tier } } });
    }
  });

  test.after.always(async (t) => {
    await t.context.cluster?.stop();
  });

  test.afterEach.always((t) => {
    if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
  });

  test.serial('a volume migrates from a qcow2 pool on host-a to a raw pool on host-b and back, with its bytes, its id and its capacity', async (t) => {
    const v = await availableVolume(t, { name: 'mover' });
    t.like(v, { host: 'host-a', pool: 'fast', migrationStatus: null });
    const a = imagePath(t, v, 'qcow2');
    await write(a, 'qcow2', 0x5a, '0');
    await write(a, 'qcow2', 0xc3, '512M');
    const before = await allocated(t);

    const sub = follow(t, v.id);
    await sub.waitFor((x) => x.status === 'AVAILABLE');
    const r = await migrate(t, { id: v.id, host: 'host-b', pool: 'bulk' });
    t.is(r.errors, undefined, JSON.stringify(r.errors));
    t.like(r.data!.migrateVolume.volume, { id: v.id, status: 'MAINTENANCE', migrationStatus: 'STARTING', host: 'host-a', pool: 'fast' });
    t.is(r.data!.migrateVolume.operation.kind, 'migrate_volume');

    const done = await sub.waitFor((x) => x.migrationStatus === 'SUCCESS' || x.migrationStatus === 'ERROR', 60_000);
    sub.close();
    t.like(done, { id: v.id, status: 'AVAILABLE', migrationStatus: 'SUCCESS', host: 'host-b', pool: 'bulk' });
    const seen = sub.values.map((x) => `${x.status}/${x.migrationStatus}`);
    t.true(seen.includes('MAINTENANCE/STARTING') && seen.includes('MAINTENANCE/COPYING'), seen.join(' → '));
    t.is((await waitForOperation(asAdmin(t), r.data!.migrateVolume.operation.id)).status, 'SUCCEEDED');

    const b = imagePath(t, done, 'raw');
    t.true(await hasPattern(b, 'raw', 0x5a, '0'), 'first MiB copied');
    t.true(await hasPattern(b, 'raw', 0xc3, '512M'), 'MiB at 512M copied');
    await waitFor(async () => !(await exists(a)), 20_000, () => `the old image ${a} is still there`);
    await waitFor(async () => !(await exportRunning(v.id)), 20_000, () => 'the export is still running');
    const after = await allocated(t);
    t.is(after['host-a@fast'], (before['host-a@fast'] ?? 0) - 1, 'capacity left the source');
    t.is(after['host-b@bulk'], (before['host-b@bulk'] ?? 0) + 1, 'capacity moved to the destination');

    // Back from the raw pool to a qcow2 pool.
    const back = await migrate(t, { id: v.id, host: 'host-a', pool: 'fast' });
    t.is(back.errors, undefined, JSON.stringify(back.errors));
    t.is((await waitForOperation(asAdmin(t), back.data!.migrateVolume.operation.id)).status, 'SUCCEEDED');
    const home = await getVolume(t, v.id);
    t.like(home, { id: v.id, status: 'AVAILABLE', migrationStatus: 'SUCCESS', host: 'host-a', pool: 'fast' });
    t.true(await hasPattern(a, 'qcow2', 0x5a, '0') && (await hasPattern(a, 'qcow2', 0xc3, '512M')), 'the bytes came back');
    t.is((await run('qemu-img', ['info', '-U', '--output=json', a])).stdout.includes('"format": "qcow2"'), true);
    await waitFor(async () => !(await exists(b)), 20_000, () => `the raw image ${b} is still there`);
    t.deepEqual(await allocated(t), before);
  });

  test.serial('bad migrations are refused with the right codes and change nothing', async (t) => {
    const gold = await availableVolume(t, { name: 'gold-one', volumeType: 'gold' });
    t.like(gold, { host: 'host-a', pool: 'fast' });

    const same = await migrate(t, { id: gold.id, host: 'host-a', pool: 'fast' });
    t.is(code(same), 'BAD_USER_INPUT');
    t.regex(same.errors![0]!.message, /already on host-a@fast/);

    const unknown = await migrate(t, { id: gold.id, host: 'host-z', pool: 'nope' });
    t.is(code(unknown), 'BAD_USER_INPUT');
    t.regex(unknown.errors![0]!.message, /pool host-z@nope does not exist/);

    t.is(code(await migrate(t, { id: gold.id, host: 'host-b', pool: 'spare' }, t.context.member)), 'FORBIDDEN');
    t.is(code(await migrate(t, { id: '00000000-0000-0000-0000-000000000000', host: 'host-b', pool: 'spare' })), 'NOT_FOUND');

    // A gold volume on a bronze pool: the CapabilitiesFilter refuses unless forced.
    const refused = await migrate(t, { id: gold.id, host: 'host-b', pool: 'bulk' });
    t.is(code(refused), 'NO_VALID_BACKEND');
    t.regex(refused.errors![0]!.message, /rejected by CapabilitiesFilter/);
    t.regex(refused.errors![0]!.message, /force: true/);

    const snap = await t.context.cluster.client(t.context.member).raw(CreateSnapshotDocument, { input: { volumeId: gold.id, name: 's' } });
    t.is(snap.errors, undefined);
    await waitForSnapshot(t.context.cluster.client(t.context.member), snap.data!.createSnapshot.snapshot.id, 'AVAILABLE', { timeoutMs: 20_000 });
    const withSnapshots = await migrate(t, { id: gold.id, host: 'host-b', pool: 'spare' });
    t.is(code(withSnapshots), 'INVALID_STATE');
    t.regex(withSnapshots.errors![0]!.message, /has 1 snapshot.*delete its snapshots first, or copy the volume instead/);

    const broken = await availableVolume(t, { name: 'broken', volumeType: 'platinum' });
    t.is(broken.status, 'ERROR');
    const notAvailable = await migrate(t, { id: broken.id, host: 'host-b', pool: 'spare' });
    t.is(code(notAvailable), 'INVALID_STATE');
    t.regex(notAvailable.errors![0]!.message, /is ERROR and cannot be migrated; allowed from: AVAILABLE/);

    const now = await getVolume(t, gold.id);
    t.like(now, { status: 'AVAILABLE', host: 'host-a', pool: 'fast', migrationStatus: null, version: now.version });

    // force skips the filters: a gold volume without snapshots lands on the bronze pool.
    const plain = await availableVolume(t, { name: 'gold-forced', volumeType: 'gold' });
    const forced = await migrate(t, { id: plain.id, host: 'host-b', pool: 'bulk', force: true });
    t.is(forced.errors, undefined, JSON.stringify(forced.errors));
    t.is((await waitForOperation(asAdmin(t), forced.data!.migrateVolume.operation.id)).status, 'SUCCEEDED');
    t.like(await getVolume(t, plain.id), { host: 'host-b', pool: 'bulk', migrationStatus: 'SUCCESS', volumeType: 'gold' });

    // While one migration runs, everything else waits (MAINTENANCE). The source agent is stopped,
    // so the export command waits in the stream and the volume stays MAINTENANCE until it is back.
    const busy = await availableVolume(t, { name: 'busy' });
    t.like(busy, { host: 'host-a', pool: 'fast' });
    await t.context.cluster.stopAgent('host-a');
    let first: Awaited<ReturnType<typeof migrate>>;
    try {
      first = await migrate(t, { id: busy.id, host: 'host-b', pool: 'spare' });
      t.is(first.errors, undefined, JSON.stringify(first.errors));
      t.like(await getVolume(t, busy.id), { status: 'MAINTENANCE', migrationStatus: 'STARTING' });
      const again = await migrate(t, { id: busy.id, host: 'host-b', pool: 'bulk' });
      t.is(code(again), 'INVALID_STATE');
      t.regex(again.errors![0]!.message, /is MAINTENANCE and cannot be migrated/);
      const renamed = await t.context.cluster.client(t.context.member).raw(UpdateVolumeDocument, { input: { id: busy.id, name: 'x' } });
      t.is(code(renamed), 'INVALID_STATE');
      const deleted = await t.context.cluster.client(t.context.member).raw(DeleteVolumeDocument, { input: { id: busy.id } });
      t.is(code(deleted), 'INVALID_STATE');
    } finally {
      t.context.cluster.startAgent('host-a');
    }
    // The agent back, the queued export runs and the migration completes.
    t.is((await waitForOperation(asAdmin(t), first.data!.migrateVolume.operation.id)).status, 'SUCCEEDED');
    t.like(await getVolume(t, busy.id), { status: 'AVAILABLE', host: 'host-b', pool: 'spare', migrationStatus: 'SUCCESS' });
  });

  test.serial('a migration whose destination cannot write ends AVAILABLE on the old pool with ERROR, intact bytes, no export and no capacity held', async (t) => {
    const v = await availableVolume(t, { name: 'unlucky' });
    t.like(v, { host: 'host-a', pool: 'fast' });
    const a = imagePath(t, v, 'qcow2');
    await write(a, 'qcow2', 0x77, '0');
    const before = await allocated(t);
    // A real fault: the destination pool's directory is replaced by a file (root ignores permissions).
    const dir = t.context.cluster.poolDir('host-b', 'bulk');
    const aside = `${dir}.aside`;
    await fs.rename(dir, aside);
    await fs.writeFile(dir, 'not a directory');
    try {
      const r = await migrate(t, { id: v.id, host: 'host-b', pool: 'bulk' });
      t.is(r.errors, undefined, JSON.stringify(r.errors));
      const op = await waitForOperation(asAdmin(t), r.data!.migrateVolume.operation.id);
      t.is(op.status, 'FAILED');
      t.is(op.error!.code, 'INTERNAL');
      const now = await getVolume(t, v.id);
      t.like(now, { id: v.id, status: 'AVAILABLE', host: 'host-a', pool: 'fast', migrationStatus: 'ERROR' });
      const msg = now.messages.find((m) => m.event === 'migrate_volume');
      t.truthy(msg, JSON.stringify(now.messages));
      t.regex(msg!.message, /failed while the destination copied the image: .*The volume is AVAILABLE on its old pool with its data unchanged/);
      t.true(await hasPattern(a, 'qcow2', 0x77, '0'), 'the source bytes are intact');
      t.deepEqual(await allocated(t), before, 'the destination\'s reservation was released');
      await waitFor(async () => !(await exportRunning(v.id)), 20_000, () => 'the source still exports the volume');
    } finally {
      await fs.rm(dir, { force: true });
      await fs.rename(aside, dir);
    }
    // Once the pool is back, the same migration works.
    const retry = await migrate(t, { id: v.id, host: 'host-b', pool: 'bulk' });
    t.is(retry.errors, undefined, JSON.stringify(retry.errors));
    t.is((await waitForOperation(asAdmin(t), retry.data!.migrateVolume.operation.id)).status, 'SUCCEEDED');
    t.true(await hasPattern(imagePath(t, { id: v.id, host: 'host-b', pool: 'bulk' }, 'raw'), 'raw', 0x77, '0'));
  });

  test.serial('retype: in place when the pool satisfies the type, refused with NEVER, migrated with ON_DEMAND', async (t) => {
    const v = await availableVolume(t, { name: 'retyped' });
    t.like(v, { host: 'host-a', pool: 'fast', volumeType: null });

    t.is(code(await retype(t, { id: v.id, volumeType: 'nope' })), 'NOT_FOUND');

    // host-a@fast is gold: in place.
    const inPlace = await retype(t, { id: v.id, volumeType: 'gold' });
    t.is(inPlace.errors, undefined, JSON.stringify(inPlace.errors));
    t.is(inPlace.data!.retypeVolume.volume.status, 'RETYPING');
    t.is((await waitForOperation(asAdmin(t), inPlace.data!.retypeVolume.operation!.id)).status, 'SUCCEEDED');
    t.like(await getVolume(t, v.id), { status: 'AVAILABLE', volumeType: 'gold', host: 'host-a', pool: 'fast', migrationStatus: null });

    // Retyped to the type it has: done already, no operation.
    const same = await retype(t, { id: v.id, volumeType: 'gold' });
    t.deepEqual({ errors: same.errors, operation: same.data?.retypeVolume.operation }, { errors: undefined, operation: null });

    // bronze is only on host-b@bulk: NEVER refuses and says ON_DEMAND would move it.
    const never = await retype(t, { id: v.id, volumeType: 'bronze', migrationPolicy: 'NEVER' });
    t.is(never.errors, undefined, JSON.stringify(never.errors));
    const refused = await waitForOperation(asAdmin(t), never.data!.retypeVolume.operation!.id);
    t.is(refused.status, 'FAILED');
    t.is(refused.error!.code, 'NO_VALID_BACKEND');
    t.regex(refused.error!.message, /rejected by CapabilitiesFilter/);
    t.regex(refused.error!.message, /ON_DEMAND, Flint would migrate it to host-b@bulk/);
    const unchanged = await getVolume(t, v.id);
    t.like(unchanged, { status: 'AVAILABLE', volumeType: 'gold', host: 'host-a', pool: 'fast' });
    t.true(unchanged.messages.some((m) => m.event === 'retype_volume' && /migrationPolicy is NEVER/.test(m.message)));

    // ON_DEMAND: migrated to host-b@bulk with its data, type set at the switch.
    const a = imagePath(t, v, 'qcow2');
    await write(a, 'qcow2', 0x3c, '0');
    const sub = follow(t, v.id);
    const onDemand = await retype(t, { id: v.id, volumeType: 'bronze', migrationPolicy: 'ON_DEMAND' });
    t.is(onDemand.errors, undefined, JSON.stringify(onDemand.errors));
    t.is((await waitForOperation(asAdmin(t), onDemand.data!.retypeVolume.operation!.id)).status, 'SUCCEEDED');
    const moved = await getVolume(t, v.id);
    t.like(moved, { status: 'AVAILABLE', volumeType: 'bronze', host: 'host-b', pool: 'bulk', migrationStatus: 'SUCCESS' });
    await sub.waitFor((x) => x.volumeType === 'bronze');
    sub.close();
    t.true(sub.values.some((x) => x.status === 'RETYPING' && x.migrationStatus === 'COPYING'), sub.values.map((x) => `${x.status}/${x.migrationStatus}`).join(' → '));
    t.true(await hasPattern(imagePath(t, moved, 'raw'), 'raw', 0x3c, '0'), 'the data moved with it');
    await waitFor(async () => !(await exists(a)), 20_000, () => 'the old image is still there');
  });

  test.serial('flint volume migrate and flint volume retype --wait follow the work to its end', async (t) => {
    const v = await availableVolume(t, { name: 'cli-mover' });
    const opts = { cwd: t.context.cluster.dataDir, url: t.context.cluster.url, token: admin(t) };
    const moved = await runFlint(opts, ['volume', 'migrate', 'cli-mover', '--host', 'host-b', '--pool', 'spare', '--wait', '-o', 'json']);
    t.is(moved.status, 0, moved.stderr);
    t.like(json<{ volume: Vol }>(moved).volume, { id: v.id, status: 'AVAILABLE', host: 'host-b', pool: 'spare', migrationStatus: 'SUCCESS' });

    // NEVER: host-b@spare is silver, so a gold retype is refused; the CLI exits 1 with the reason.
    const refused = await runFlint({ ...opts, token: t.context.member }, ['volume', 'retype', v.id, '--type', 'gold', '--migration-policy', 'never', '--wait']);
    t.is(refused.status, 1, refused.stdout);
    t.regex(refused.stderr, /NO_VALID_BACKEND|CapabilitiesFilter/);
    const retyped = await runFlint({ ...opts, token: t.context.member }, ['volume', 'retype', v.id, '--type', 'gold', '--migration-policy', 'on-demand', '--wait', '-o', 'json']);
    t.is(retyped.status, 0, retyped.stderr);
    t.like(json<{ volume: Vol }>(retyped).volume, { id: v.id, status: 'AVAILABLE', volumeType: 'gold', migrationStatus: 'SUCCESS' });
    t.like(await getVolume(t, v.id), { host: 'host-a', pool: 'fast' });

    const forbidden = await runFlint({ ...opts, token: t.context.member }, ['volume', 'migrate', v.id, '--host', 'host-b', '--pool', 'bulk']);
    t.is(forbidden.status, 3, forbidden.stderr);
  });

  test.serial('a destination pool that is DOWN is NO_VALID_BACKEND', async (t) => {
    const v = await availableVolume(t, { name: 'stay' });
    t.like(v, { host: 'host-a', pool: 'fast' });
    await t.context.cluster.stopAgent('host-b');
    try {
      await waitUntil('host-b@spare to be DOWN', () => asAdmin(t).request(PoolsDocument), (r) => r.pools.find((p) => p.id === 'host-b@spare')?.state === 'DOWN', 30_000);
      const r = await migrate(t, { id: v.id, host: 'host-b', pool: 'spare' });
      t.is(code(r), 'NO_VALID_BACKEND');
      t.regex(r.errors![0]!.message, /is DOWN/);
      t.like(await getVolume(t, v.id), { status: 'AVAILABLE', migrationStatus: null });
    } finally {
      t.context.cluster.startAgent('host-b');
    }
  });
}
