/**
 * Capacity is never over-allocated (issue 14, "Many hosts"): two gateways, two schedulers and
 * three agents in two availability zones on one PostgreSQL, with small pools of explicit
 * capacity (thin, over-subscription ratio 1: a pool may promise exactly its capacity). Creates,
 * extends, migrations and deletes run concurrently through both gateways, asking for more
 * than the pools hold. Then the pools are recounted from the images themselves (each image's
 * virtual size, `qemu-img info`) and compared with the capacity and with what the database
 * says is allocated.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import {
  CreateVolumeDocument,
  DeleteVolumeDocument,
  ExtendVolumeDocument,
  MigrateVolumeDocument,
  OperationDocument,
  PoolsDocument,
  VolumeDocument,
  type FlintClient,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { errorCode } from '../helpers/sdk.js';
import { waitForOperation, waitUntil } from '../helpers/wait.js';

interface Ctx {
  cluster: Cluster;
}
const test = anyTest as TestFn<Ctx>;

const GiB = 1024 ** 3;
/** host → zone, pool capacity (GiB) and image format. */
const HOSTS = [
  { host: 'cap-1', zone: 'az1', capacityGiB: 6, imageFormat: 'raw' as const },
  { host: 'cap-2', zone: 'az1', capacityGiB: 5, imageFormat: 'qcow2' as const },
  { host: 'cap-3', zone: 'az2', capacityGiB: 6, imageFormat: 'raw' as const },
];
const UNSETTLED = new Set(['CREATING', 'EXTENDING', 'MAINTENANCE', 'DELETING', 'RETYPING']);

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'postgresql',
    gateways: 2,
    schedulers: 2,
    agents: HOSTS.map((h) => ({ host: h.host, zone: h.zone, pools: [{ name: 'p', imageFormat: h.imageFormat, capacityGiB: h.capacityGiB, maxOverSubscriptionRatio: 1 }] })),
  });
  t.context = { cluster };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

/**
 * GiB of the images in a pool directory, by file name's volume id, from their virtual sizes.
 * `busy`: work is under way, so any file counts (a migration's copy, one being removed).
 */
function recount(dir: string, busy = false): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const f of readdirSync(dir)) {
    const m = /^volume-([0-9a-f-]{36})\.(raw|qcow2)$/.exec(f);
    if (!m && !busy) throw new Error(`an unexpected file in ${dir}: ${f} (${readdirSync(dir).join(', ')})`);
    try {
      const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', join(dir, f)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { 'virtual-size': number };
      sizes.set(m?.[1] ?? f, info['virtual-size'] / GiB);
    } catch (err) {
      if (!busy) throw err; // gone or half-written while work runs: the next sample sees it
    }
  }
  return sizes;
}

/** A mutation's operation id, or the code it was refused with at once. */
async function attempt(run: () => Promise<{ errors?: readonly { message: string; extensions?: Record<string, unknown> }[] | undefined; data?: unknown }>, pickOp: (data: never) => string | undefined): Promise<{ op?: string; refused?: string; why?: string }> {
  const r = await run();
  if (r.errors?.length) return { refused: errorCode(r as never) ?? 'UNKNOWN', why: r.errors[0]!.message };
  return { op: pickOp(r.data as never) };
}

test.serial('concurrent creates, extends, migrations and deletes through two gateways never promise a pool more than it holds, and the database agrees with the images', async (t) => {
  const { cluster } = t.context;
  const member = await cluster.token('capacity', 'member');
  const via = (i: number, token: string = member): FlintClient => cluster.client(token, i % 2);
  const admin = (i: number): FlintClient => cluster.client(undefined, i % 2);

  // Round 1: 14 creates, 13 GiB asked in each zone; az1 holds 11, az2 6.
  const sizes = [1, 2, 3, 1, 2, 3, 1];
  const creates = await Promise.all(
    Array.from({ length: 14 }, (_, i) =>
      via(i)
        .raw(CreateVolumeDocument, { input: { name: `cap-${i}`, sizeGiB: sizes[i % 7]!, availabilityZone: i < 7 ? 'az1' : 'az2' } })
        .then((r) => ({ r, volume: r.data?.createVolume.volume.id, op: r.data?.createVolume.operation?.id })),
    ),
  );
  for (const c of creates) t.is(c.r.errors, undefined, `a create was refused at once: ${JSON.stringify(c.r.errors)}`);
  const createOps = creates.map((c) => ({ volume: c.volume!, op: c.op! }));
  await Promise.all(createOps.map((c, i) => waitForOperation(via(i), c.op, { timeoutMs: 90_000 })));
  // As the admin: host and pool are null for members.
  const volumeOf = async (id: string) => (await admin(0).request(VolumeDocument, { id })).volume;
  const round1 = await Promise.all(createOps.map(async (c) => ({ ...c, v: (await volumeOf(c.volume))! })));
  const placed = round1.filter((c) => c.v.status === 'AVAILABLE');
  t.true(placed.length < 14, `more was asked than fits: some creates are refused (${placed.length} placed)`);

  // Free room in az1 (its largest volume on each host), so that round 2 fights over it.
  const freed = HOSTS.filter((h) => h.zone === 'az1').flatMap((h) => placed.filter((c) => c.v.host === h.host).sort((a, b) => b.v.sizeGiB - a.v.sizeGiB).slice(0, 1));
  for (const c of freed) await waitForOperation(admin(0), (await admin(0).request(DeleteVolumeDocument, { input: { id: c.volume } })).deleteVolume.operation!.id);
  const kept = placed.filter((c) => !freed.includes(c));
  // The scheduler and the gateway filter on the pools' reported stats: wait until they show the deletes.
  await waitUntil('the pools to report what the database allocates', async () => (await admin(0).request(PoolsDocument, {})).pools, (ps) => ps.every((p) => p.provisionedCapacityGiB === p.allocatedCapacityGiB));

  // Round 2: migrations between the az1 hosts, in both directions, of what fits there now
  // (and one more that does not). Each reserves its destination's room when accepted; then,
  // while they copy, extends by 2 GiB of each volume not migrating and six more creates, all at once.
  // The pools are sampled all along.
  const ops: Array<{ what: string; op?: string; refused?: string; why?: string }> = [];
  const az1Hosts = HOSTS.filter((h) => h.zone === 'az1').map((h) => h.host);
  let sampling = true;
  const samples: string[] = [];
  const sampler = (async () => {
    while (sampling) {
      const allocated = new Map((await admin(0).request(PoolsDocument, {})).pools.map((p) => [p.host, p.allocatedCapacityGiB]));
      for (const h of HOSTS) {
        const sum = [...recount(cluster.poolDir(h.host, 'p'), true).values()].reduce((a, b) => a + b, 0);
        if (sum > h.capacityGiB || (allocated.get(h.host) ?? 0) > h.capacityGiB) samples.push(`${h.host}@p: images ${sum} GiB, allocated ${allocated.get(h.host)} GiB, of ${h.capacityGiB}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const room = new Map((await admin(0).request(PoolsDocument, {})).pools.map((p) => [p.host, p.totalCapacityGiB - p.allocatedCapacityGiB]));
  const migrating = new Set<string>();
  let tooBig = false;
  for (const c of kept.filter((k) => k.v.availabilityZone === 'az1').sort((a, b) => a.v.sizeGiB - b.v.sizeGiB)) {
    const to = az1Hosts.find((h) => h !== c.v.host)!;
    const fits = c.v.sizeGiB <= room.get(to)!;
    if (!fits && tooBig) continue;
    if (fits) room.set(to, room.get(to)! - c.v.sizeGiB);
    else tooBig = true;
    migrating.add(c.volume);
    ops.push({ what: `migrate ${c.volume} (${c.v.sizeGiB} GiB) to ${to}`, ...(await attempt(() => admin(ops.length).raw(MigrateVolumeDocument, { input: { id: c.volume, host: to, pool: 'p' } }), (d: { migrateVolume: { operation: { id: string } } }) => d.migrateVolume.operation.id)) });
  }
  t.true(ops.some((o) => o.op), `a migration was accepted: ${JSON.stringify(ops)}`);
  const work = kept.map((c, i) =>
    migrating.has(c.volume)
      ? Promise.resolve()
      : attempt(() => via(i).raw(ExtendVolumeDocument, { input: { id: c.volume, newSizeGiB: c.v.sizeGiB + 2 } }), (d: { extendVolume: { operation: { id: string } | null } }) => d.extendVolume.operation?.id).then((r) => void ops.push({ what: `extend ${c.volume}`, ...r })),
  );
  // The creates once the migrations and extends are accepted, while they run.
  await Promise.all(work);
  await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      via(i + 1)
        .raw(CreateVolumeDocument, { input: { name: `cap-more-${i}`, sizeGiB: 1, availabilityZone: i % 2 ? 'az2' : 'az1' } })
        .then((r) => {
          t.is(r.errors, undefined, `a create was refused at once: ${JSON.stringify(r.errors)}`);
          createOps.push({ volume: r.data!.createVolume.volume.id, op: r.data!.createVolume.operation!.id });
        }),
    ),
  );
  for (const o of ops.filter((x) => x.refused)) t.log(`${o.what}: refused at once with ${o.refused}: ${o.why}`);
  for (const o of ops) if (o.refused) t.true(['INVALID_STATE', 'NO_VALID_BACKEND'].includes(o.refused), `${o.what}: refused with ${o.refused}`);
  const ended = await Promise.all(ops.filter((o) => o.op).map(async (o, i) => ({ ...o, end: await waitForOperation(admin(i), o.op!, { timeoutMs: 90_000 }) })));
  for (const o of ended) if (o.end.status === 'FAILED') t.log(`${o.what}: ${o.end.error?.code} ${o.end.error?.message}`);
  t.true(ended.some((o) => o.what.startsWith('extend') && o.end.status === 'FAILED' && o.end.error?.code === 'NO_VALID_BACKEND'), 'some extend found no room');
  t.true(ended.some((o) => o.what.startsWith('migrate') && o.end.status === 'SUCCEEDED'), 'some migration ran');
  await Promise.all(createOps.map((c, i) => waitForOperation(via(i), c.op, { timeoutMs: 90_000 })));
  sampling = false;
  await sampler;
  t.deepEqual(samples, [], 'no pool held or was promised more than its capacity while round 2 ran');

  // Every create ended AVAILABLE, or ERROR with NO_VALID_BACKEND; nothing is left half-way.
  const finals = new Map<string, { status: string; host: string | null; pool: string | null; sizeGiB: number }>();
  for (const [i, c] of createOps.entries()) {
    const v = await volumeOf(c.volume);
    const op = (await via(i).request(OperationDocument, { id: c.op })).operation!;
    if (v) finals.set(c.volume, v);
    const status = v?.status ?? 'DELETED';
    t.false(UNSETTLED.has(status), `volume ${c.volume} is still ${status}`);
    if (op.status === 'FAILED') {
      t.is(op.error?.code, 'NO_VALID_BACKEND', `create ${c.volume} failed: ${JSON.stringify(op.error)}`);
      t.regex(op.error?.message ?? '', /capacity|room|GiB/i);
      t.is(status, 'ERROR');
    } else t.is(op.status, 'SUCCEEDED');
  }

  // The recount: no pool holds more than its capacity, the database's allocation is the
  // recount, and each volume's image is on its host at its size.
  const pools = (await admin(0).request(PoolsDocument, {})).pools;
  for (const h of HOSTS) {
    const images = recount(cluster.poolDir(h.host, 'p'));
    const sum = [...images.values()].reduce((a, b) => a + b, 0);
    t.true(sum <= h.capacityGiB, `${h.host}@p holds ${sum} GiB of images, over its ${h.capacityGiB} GiB`);
    const pool = pools.find((p) => p.host === h.host && p.name === 'p')!;
    t.is(pool.allocatedCapacityGiB, sum, `${h.host}@p: the database's allocated GiB against the images' ${JSON.stringify([...images])}`);
    for (const [id, gib] of images) {
      const v = finals.get(id);
      t.deepEqual(v && { status: v.status, host: v.host, pool: v.pool, sizeGiB: v.sizeGiB }, { status: 'AVAILABLE', host: h.host, pool: 'p', sizeGiB: gib }, `image of volume ${id} on ${h.host}`);
    }
    t.log(`${h.host}@p: ${sum} of ${h.capacityGiB} GiB in ${images.size} images`);
  }
  const available = [...finals.entries()].filter(([, v]) => v.status === 'AVAILABLE');
  t.is(available.length, HOSTS.reduce((n, h) => n + recount(cluster.poolDir(h.host, 'p')).size, 0), 'every AVAILABLE volume has one image');
});

test.after.always('no process is left behind', noProcessesLeft);
