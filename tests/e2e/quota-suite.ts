/**
 * Quotas end to end (issue 12) against a real cluster: 1,000 concurrent 1 GiB creates
 * against `gigabytes = N` give exactly N AVAILABLE volumes and 1,000 − N QUOTA_EXCEEDED;
 * the same with extends and snapshots mixed in stays within the limit and counts exactly;
 * and after a random run with failed creates, force-deletes, an agent stopped mid-work and
 * deadlines that expire, the counters equal what the tables say (`syncQuotaUsage` finds no
 * drift, and a recount from the API's lists agrees). Registered once per database.
 */
import anyTest, { type TestFn } from 'ava';
import {
  CreateSnapshotDocument,
  CreateVolumeDocument,
  DeleteVolumeDocument,
  ExtendVolumeDocument,
  ForceDeleteVolumeDocument,
  QuotaSetDocument,
  SnapshotsDocument,
  SyncQuotaUsageDocument,
  UpdateQuotaSetDocument,
  ViewerDocument,
  VolumesDocument,
  type FlintClient,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { waitForVolume, waitUntil } from '../helpers/wait.js';

interface Ctx {
  cluster: Cluster;
}

const ALL_VOLUME_STATUSES = ['CREATING', 'AVAILABLE', 'EXTENDING', 'DELETING', 'ERROR', 'ERROR_DELETING', 'ERROR_EXTENDING', 'DELETED'] as const;

/** The project's volumes and snapshots in every state, from the API. */
async function resources(c: FlintClient) {
  const volumes = (await c.request(VolumesDocument, { first: 500, filter: { status: [...ALL_VOLUME_STATUSES] } })).volumes.edges.map((e) => e.node);
  const snapshots = (await c.request(SnapshotsDocument, { first: 500 })).snapshots.edges.map((e) => e.node);
  return { volumes, snapshots };
}

/** What the API's lists say the project holds, by the charge rules: CREATING reserved, DELETED nothing, the rest in use. */
async function recountFromLists(c: FlintClient) {
  const { volumes, snapshots } = await resources(c);
  const live = volumes.filter((v) => v.status !== 'DELETED');
  const liveSnaps = snapshots.filter((s) => s.status !== 'DELETED');
  const sum = (xs: Array<{ sizeGiB: number }>) => xs.reduce((a, x) => a + x.sizeGiB, 0);
  return {
    volumes: { inUse: live.filter((v) => v.status !== 'CREATING').length, reserved: live.filter((v) => v.status === 'CREATING').length },
    gigabytes: {
      inUse: sum(live.filter((v) => v.status !== 'CREATING')) + sum(liveSnaps.filter((s) => s.status !== 'CREATING')),
      reserved: sum(live.filter((v) => v.status === 'CREATING')) + sum(liveSnaps.filter((s) => s.status === 'CREATING')),
    },
    snapshots: { inUse: liveSnaps.filter((s) => s.status !== 'CREATING').length, reserved: liveSnaps.filter((s) => s.status === 'CREATING').length },
  };
}

async function quota(c: FlintClient) {
  return (await c.request(QuotaSetDocument, {})).quotaSet;
}

/** Until no volume or snapshot of the project is in a state that ends by itself. */
async function settled(c: FlintClient, timeoutMs = 120_000) {
  return waitUntil(
    'every volume and snapshot settled',
    () => resources(c),
    (r) => r.volumes.every((v) => !['CREATING', 'EXTENDING', 'DELETING'].includes(v.status)) && r.snapshots.every((s) => !['CREATING', 'DELETING'].includes(s.status)),
    timeoutMs,
  );
}

export function registerQuotaSuite(database: 'sqlite' | 'postgresql'): void {
  const test = anyTest as TestFn<Ctx>;

  test.before(async (t) => {
    const cluster = await startCluster({
      database,
      agents: [{ host: 'host-q', pools: [{ name: 'p', imageFormat: 'qcow2', capacityGiB: 5000 }] }],
      // A thousand requests at once from one token.
      env: { FLINT_API_RATE_PER_SECOND: '5000', FLINT_API_RATE_BURST: '5000' },
    });
    t.context = { cluster };
  });
  test.after.always(async (t) => {
    await t.context.cluster?.stop();
  });
  test.afterEach.always((t) => {
    if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
  });

  async function project(t: { context: Ctx }, name: string, limits: Record<string, number>) {
    const { cluster } = t.context;
    const token = await cluster.token(name, 'member');
    const client = cluster.client(token);
    for (let i = 0; i < 3; i++) await client.raw(ViewerDocument).catch(() => undefined);
    const projectId = (await client.request(ViewerDocument)).viewer.projectId;
    await cluster.client().request(UpdateQuotaSetDocument, { input: { projectId, ...limits } });
    return { client, projectId };
  }

  test.serial(`${database}: 1,000 concurrent 1 GiB creates against gigabytes = 25 give exactly 25 AVAILABLE volumes and 975 QUOTA_EXCEEDED`, async (t) => {
    const N = 25;
    const { client } = await project(t, `q1000-${database}`, { gigabytes: N, volumes: -1 });
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => client.raw(CreateVolumeDocument, { input: { name: `v${i}`, sizeGiB: 1 } })));
    const created = results.filter((r) => !r.errors).map((r) => r.data!.createVolume.volume.id);
    const codes = results.filter((r) => r.errors).map((r) => errorCode(r));
    t.is(created.length, N);
    t.is(codes.length, 1000 - N);
    t.deepEqual([...new Set(codes)], ['QUOTA_EXCEEDED']);
    const refused = results.find((r) => r.errors)!.errors![0]!;
    t.like(refused.extensions, { code: 'QUOTA_EXCEEDED', resource: 'gigabytes', requested: 1, limit: N });
    for (const id of created) await waitForVolume(client, id, 'AVAILABLE');
    const q = await quota(client);
    t.deepEqual(q.gigabytes, { limit: N, inUse: N, reserved: 0, available: 0 });
    t.is(q.volumes.inUse, N);
    // Deleting one frees its GiB for the next create.
    await client.request(DeleteVolumeDocument, { input: { id: created[0]! } });
    await waitUntil('the deleted volume released', () => quota(client), (q) => q.gigabytes.inUse === N - 1);
    t.falsy((await client.raw(CreateVolumeDocument, { input: { name: 'again', sizeGiB: 1 } })).errors);
  });

  test.serial(`${database}: creates, extends and snapshots at once stay within gigabytes, and inUse is what the volumes and snapshots add up to`, async (t) => {
    const LIMIT = 60;
    const { client } = await project(t, `qmix-${database}`, { gigabytes: LIMIT, volumes: -1, snapshots: -1 });
    const base: string[] = [];
    for (let i = 0; i < 5; i++) base.push((await client.request(CreateVolumeDocument, { input: { name: `base${i}`, sizeGiB: 2 } })).createVolume.volume.id);
    for (const id of base) await waitForVolume(client, id, 'AVAILABLE');
    const pick = () => base[Math.floor(Math.random() * base.length)]!;
    const sizes = new Map<string, number>(base.map((id) => [id, 2]));
    const ops = Array.from({ length: 300 }, (_, i) => {
      const r = Math.random();
      if (r < 0.5) return client.raw(CreateVolumeDocument, { input: { name: `m${i}`, sizeGiB: 1 } });
      if (r < 0.75) {
        const id = pick();
        const to = (sizes.get(id) ?? 2) + 1 + (i % 3);
        sizes.set(id, to);
        return client.raw(ExtendVolumeDocument, { input: { id, newSizeGiB: to } });
      }
      return client.raw(CreateSnapshotDocument, { input: { volumeId: pick(), name: `s${i}` } });
    });
    const results = await Promise.all(ops);
    const codes = results.filter((r) => r.errors).map((r) => errorCode(r));
    // Each refusal is the quota, or a volume busy with another of these requests (EXTENDING, or changed meanwhile).
    t.deepEqual([...new Set(codes)].filter((c) => !['QUOTA_EXCEEDED', 'INVALID_STATE', 'CONFLICT', 'BAD_USER_INPUT'].includes(String(c))), []);
    t.true(codes.includes('QUOTA_EXCEEDED'));
    await settled(client);
    const q = await quota(client);
    const counted = await recountFromLists(client);
    t.deepEqual({ inUse: q.gigabytes.inUse, reserved: q.gigabytes.reserved }, counted.gigabytes);
    t.deepEqual({ inUse: q.snapshots.inUse, reserved: q.snapshots.reserved }, counted.snapshots);
    t.true(q.gigabytes.inUse <= LIMIT, `${q.gigabytes.inUse} GiB held against a limit of ${LIMIT}`);
    t.deepEqual((await t.context.cluster.client().request(SyncQuotaUsageDocument, { input: { projectId: q.projectId } })).syncQuotaUsage.corrections, []);
  });

  test.serial(`${database}: after failed creates, force-deletes, an agent stopped mid-work and expired deadlines, the counters equal the tables`, async (t) => {
    const { cluster } = t.context;
    // Deadlines short enough to expire while the agent is stopped (the last test: the gateway keeps them).
    await cluster.restartGateway({ FLINT_OPERATION_TIMEOUT_SECONDS: '8' });
    for (let i = 0; i < 3; i++) await cluster.client().raw(ViewerDocument).catch(() => undefined);
    const { client, projectId } = await project(t, `qdrift-${database}`, { gigabytes: 20_000, volumes: 100, snapshots: 100 });
    const admin = cluster.client();
    const ids: string[] = [];
    const create = async (sizeGiB: number) => {
      const r = await client.raw(CreateVolumeDocument, { input: { name: `d${ids.length}`, sizeGiB } });
      if (!r.errors) ids.push(r.data!.createVolume.volume.id);
      return r;
    };
    // Failures: too large for the pool (NO_VALID_BACKEND at the scheduler: the volume goes ERROR and keeps counting).
    for (let i = 0; i < 2; i++) await create(6000 - i);
    for (let i = 0; i < 8; i++) await create(1 + (i % 4));
    await settled(client);
    const available = (await resources(client)).volumes.filter((v) => v.status === 'AVAILABLE').map((v) => v.id);
    for (const id of available.slice(0, 3)) await client.raw(CreateSnapshotDocument, { input: { volumeId: id, name: 'snap' } });
    for (const id of available.slice(3, 5)) await client.raw(ExtendVolumeDocument, { input: { id, newSizeGiB: 9 } });
    await settled(client);
    // Force-deletes: an ERROR volume and one with a snapshot.
    const errored = (await resources(client)).volumes.filter((v) => v.status === 'ERROR').map((v) => v.id);
    for (const id of [errored[0]!, available[0]!]) await admin.request(ForceDeleteVolumeDocument, { input: { id, reason: 'quota drift test' } });
    // An agent stopped mid-work: creates and extends wait for it until their deadlines expire (8 s).
    await cluster.stopAgent('host-q');
    for (let i = 0; i < 4; i++) await create(2);
    await client.raw(ExtendVolumeDocument, { input: { id: available[6]!, newSizeGiB: 12 } });
    await client.raw(DeleteVolumeDocument, { input: { id: available[7]! } });
    const mid = await quota(client);
    t.true(mid.gigabytes.reserved > 0, 'the creates and the extend hold reservations while they wait');
    await waitUntil('deadlines expired', () => resources(client), (r) => r.volumes.every((v) => !['CREATING', 'EXTENDING', 'DELETING'].includes(v.status)), 60_000);
    cluster.startAgent('host-q');
    await settled(client);
    const q = await quota(client);
    const counted = await recountFromLists(client);
    t.deepEqual({ inUse: q.volumes.inUse, reserved: q.volumes.reserved }, counted.volumes);
    t.deepEqual({ inUse: q.gigabytes.inUse, reserved: q.gigabytes.reserved }, counted.gigabytes);
    t.deepEqual({ inUse: q.snapshots.inUse, reserved: q.snapshots.reserved }, counted.snapshots);
    t.is(q.gigabytes.reserved, 0);
    const sync = (await admin.request(SyncQuotaUsageDocument, { input: { projectId, reason: 'drift check' } })).syncQuotaUsage;
    t.deepEqual(sync.corrections, []);
    t.is(sync.audit.action, 'sync_quota_usage');
  });
}
