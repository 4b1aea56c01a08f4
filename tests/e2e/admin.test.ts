/**
 * Admin actions end to end (issue 3): resetVolumeStatus / resetSnapshotStatus refusing
 * statuses that would lie, the audit trail (`Volume.statusAudits`, `statusAudits`), and
 * forceDeleteVolume of a volume stuck CREATING on a stopped agent, on a real cluster.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import {
  CreateSnapshotDocument,
  CreateVolumeDocument,
  ForceDeleteVolumeDocument,
  PoolsDocument,
  ResetSnapshotStatusDocument,
  ResetVolumeStatusDocument,
  StatusAuditsDocument,
  ViewerDocument,
  VolumesDocument,
  VolumeStatusAuditsDocument,
  type FlintDocument,
  type StatusAuditFieldsFragment,
  type VolumeFieldsFragment,
} from '../../src/client/index.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { waitForSnapshot, waitUntil } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  member: string;
}

type Vol = VolumeFieldsFragment;
type Audit = StatusAuditFieldsFragment;

const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    // Pools stay fresh 6 s after their agent stops: long enough to place a volume on a stopped agent.
    heartbeatSeconds: 2,
    agents: [{ host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 100 }] }],
  });
  t.context = { cluster, member: await cluster.token('alpha', 'member') };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

/** A typed document sent with the admin's token: the whole answer, its errors returned, not thrown. */
const admin = <D, V>(t: { context: Ctx }, doc: FlintDocument<D, V>, variables?: V) => t.context.cluster.client().raw(doc, variables);
const code = errorCode;

async function createVolume(t: { context: Ctx }, sizeGiB: number, name: string): Promise<Vol> {
  return (await t.context.cluster.client().request(CreateVolumeDocument, { input: { name, sizeGiB } })).createVolume.volume;
}

async function getVolume(t: { context: Ctx }, id: string): Promise<(Vol & { statusAudits: Audit[] }) | null> {
  return (await t.context.cluster.client().request(VolumeStatusAuditsDocument, { id })).volume;
}

/** Waits through `getVolume`, as an admin (host, pool and the audit trail visible). */
const waitStatus = async (t: { context: Ctx }, id: string, status: string, timeoutMs = 30_000): Promise<Vol> =>
  (await waitUntil(`volume ${id} to be ${status}`, () => getVolume(t, id), (v) => v?.status === status, timeoutMs))!;

/** Whether the volume is DELETED (the `volume` query no longer shows it; the list does when asked). */
async function isDeleted(t: { context: Ctx }, id: string): Promise<boolean> {
  const r = await t.context.cluster.client().request(VolumesDocument, { first: 500, filter: { status: ['DELETED'] } });
  return r.volumes.edges.some((e) => e.node.id === id);
}

async function allocated(t: { context: Ctx }): Promise<number> {
  const { pools } = await t.context.cluster.client().request(PoolsDocument);
  const pool = pools.find((p) => p.id === 'host-a@fast');
  if (!pool) throw new Error(`pool host-a@fast not listed: ${JSON.stringify(pools)}`);
  return pool.allocatedCapacityGiB;
}

test.serial('a member is FORBIDDEN every admin action and sees no audit records', async (t) => {
  const v = await createVolume(t, 1, 'member-visible');
  const m = t.context.cluster.client(t.context.member);
  t.is(code(await m.raw(ResetVolumeStatusDocument, { input: { id: v.id, status: 'ERROR', reason: 'test' } })), 'FORBIDDEN');
  t.is(code(await m.raw(ForceDeleteVolumeDocument, { input: { id: v.id, reason: 'test' } })), 'FORBIDDEN');
  t.is(code(await m.raw(ResetSnapshotStatusDocument, { input: { id: v.id, status: 'ERROR', reason: 'x' } })), 'FORBIDDEN');
  t.is(code(await m.raw(StatusAuditsDocument, {})), 'FORBIDDEN');
  // The field is empty for non-admins, though the admin's audit record exists.
  const mineId = (await t.context.cluster.client(t.context.member).request(CreateVolumeDocument, { input: { name: 'mine', sizeGiB: 1 } })).createVolume.volume.id;
  await waitStatus(t, mineId, 'AVAILABLE');
  t.falsy((await admin(t, ResetVolumeStatusDocument, { input: { id: mineId, status: 'ERROR', reason: 'audit hidden from members' } })).errors);
  const seen = await m.raw(VolumeStatusAuditsDocument, { id: mineId });
  t.falsy(seen.errors);
  const mine = seen.data?.volume;
  t.deepEqual(mine && { status: mine.status, statusAudits: mine.statusAudits }, { status: 'ERROR', statusAudits: [] });
  t.is((await getVolume(t, mineId))!.statusAudits.length, 1);
});

test.serial('an ERROR volume that never reached a pool cannot be reset to AVAILABLE, and is force-deleted at once', async (t) => {
  const v = await createVolume(t, 60000, 'too-big');
  const failed = await waitStatus(t, v.id, 'ERROR');
  t.is(failed.host, null);
  const r = await admin(t, ResetVolumeStatusDocument, { input: { id: v.id, status: 'AVAILABLE', reason: 'looks fine to me' } });
  t.is(code(r), 'BAD_USER_INPUT');
  t.regex(r.errors![0]!.message, /never reached a pool/);

  const f = await admin(t, ForceDeleteVolumeDocument, { input: { id: v.id, reason: 'clean up a failed create' } });
  t.falsy(f.errors, JSON.stringify(f.errors));
  const out = f.data!.forceDeleteVolume;
  t.is(out.volume.status, 'DELETED');
  t.like(out.operation, { kind: 'delete_volume', status: 'SUCCEEDED' });
  t.like(out.audit, { action: 'force_delete', fromStatus: 'ERROR', toStatus: 'DELETED', reason: 'clean up a failed create', resourceId: v.id });
  t.true(await isDeleted(t, v.id));
  t.is(code(await admin(t, ForceDeleteVolumeDocument, { input: { id: v.id, reason: 'again' } })), 'INVALID_STATE');
});

test.serial('an AVAILABLE volume is reset to ERROR and back, both audited with actor and reason; lying statuses are refused', async (t) => {
  const { viewer } = await t.context.cluster.client().request(ViewerDocument);
  const v = await createVolume(t, 2, 'resettable');
  await waitStatus(t, v.id, 'AVAILABLE');

  const toError = await admin(t, ResetVolumeStatusDocument, { input: { id: v.id, status: 'ERROR', reason: 'disk on host-a reported I/O errors' } });
  t.falsy(toError.errors, JSON.stringify(toError.errors));
  const e = toError.data!.resetVolumeStatus;
  t.is(e.volume.status, 'ERROR');
  t.like(e.audit, { resourceType: 'volume', resourceId: v.id, action: 'reset_status', fromStatus: 'AVAILABLE', toStatus: 'ERROR', actorProjectId: viewer.projectId });

  const back = await admin(t, ResetVolumeStatusDocument, { input: { id: v.id, status: 'AVAILABLE', reason: 'fsck clean, INC-42' } });
  t.falsy(back.errors, JSON.stringify(back.errors));
  t.is(back.data?.resetVolumeStatus.volume.status, 'AVAILABLE');

  for (const [status, why] of [['IN_USE', /no attachments yet/], ['CREATING', /transitional/], ['DELETED', /forceDeleteVolume/]] as const) {
    const r = await admin(t, ResetVolumeStatusDocument, { input: { id: v.id, status, reason: 'should be refused' } });
    t.is(code(r), 'BAD_USER_INPUT', status);
    t.regex(r.errors![0]!.message, why, status);
  }
  t.is(code(await admin(t, ResetVolumeStatusDocument, { input: { id: v.id, status: 'ERROR', reason: '' } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, ResetVolumeStatusDocument, { input: { id: v.id, status: 'ERROR', reason: 'x'.repeat(1025) } })), 'BAD_USER_INPUT');

  const audits = (await getVolume(t, v.id))!.statusAudits;
  t.deepEqual(audits.map((a) => [a.fromStatus, a.toStatus, a.reason]), [
    ['ERROR', 'AVAILABLE', 'fsck clean, INC-42'],
    ['AVAILABLE', 'ERROR', 'disk on host-a reported I/O errors'],
  ]);
  for (const a of audits) {
    t.regex(a.actorTokenId, /^[0-9a-f-]{36}$/);
    t.is(a.actorProjectId, viewer.projectId);
  }
  const q = await admin(t, StatusAuditsDocument, { first: 1, filter: { resourceType: 'volume', resourceId: v.id } });
  t.falsy(q.errors, JSON.stringify(q.errors));
  const page = q.data!.statusAudits;
  t.is(page.totalCount, 2);
  t.true(page.pageInfo.hasNextPage);
  t.deepEqual(page.edges[0]!.node, audits[0]);
  const rest = (await t.context.cluster.client().request(StatusAuditsDocument, { first: 5, after: page.pageInfo.endCursor, filter: { resourceId: v.id } })).statusAudits;
  t.deepEqual(rest.edges.map((x) => x.node.id), [audits[1]!.id]);
  t.false(rest.pageInfo.hasNextPage);
  t.is(code(await admin(t, StatusAuditsDocument, { filter: { resourceType: 'backup' } })), 'BAD_USER_INPUT');

  // Snapshots: AVAILABLE, ERROR and ERROR_DELETING only.
  const s = await admin(t, CreateSnapshotDocument, { input: { volumeId: v.id, name: 'snap' } });
  t.falsy(s.errors, JSON.stringify(s.errors));
  const snapId = s.data!.createSnapshot.snapshot.id;
  await waitForSnapshot(t.context.cluster.client(), snapId, 'AVAILABLE', { timeoutMs: 30_000 });
  const bad = await admin(t, ResetSnapshotStatusDocument, { input: { id: snapId, status: 'DELETING', reason: 'no' } });
  t.is(code(bad), 'BAD_USER_INPUT');
  const ok = await admin(t, ResetSnapshotStatusDocument, { input: { id: snapId, status: 'ERROR', reason: 'checksum mismatch' } });
  t.falsy(ok.errors, JSON.stringify(ok.errors));
  t.like(ok.data!.resetSnapshotStatus, {
    snapshot: { status: 'ERROR' },
    audit: { resourceType: 'snapshot', resourceId: snapId, fromStatus: 'AVAILABLE', toStatus: 'ERROR', reason: 'checksum mismatch' },
  });
});

test.serial('forceDeleteVolume of a volume stuck CREATING on a stopped agent ends DELETED, image gone, capacity back', async (t) => {
  const before = await allocated(t);
  await t.context.cluster.stopAgent('host-a');
  let agentDown = true;
  try {
    const v = await createVolume(t, 3, 'stuck');
    // The scheduler places it on the (still fresh) pool; the agent is not there to make it.
    const placed = await waitUntil(`volume ${v.id} to be placed on host-a`, () => getVolume(t, v.id), (x) => x?.host === 'host-a', 10_000);
    t.is(placed!.status, 'CREATING');
    const f = await admin(t, ForceDeleteVolumeDocument, { input: { id: v.id, reason: 'host-a was down, volume stuck' } });
    t.falsy(f.errors, JSON.stringify(f.errors));
    const out = f.data!.forceDeleteVolume;
    t.is(out.volume.status, 'DELETING');
    t.is(out.operation.kind, 'delete_volume');
    t.like(out.audit, { action: 'force_delete', fromStatus: 'CREATING', toStatus: 'DELETING', reason: 'host-a was down, volume stuck' });

    t.context.cluster.startAgent('host-a');
    agentDown = false;
    await waitFor(() => isDeleted(t, v.id), 60_000, () => `volume ${v.id} did not become DELETED`);
    t.false(existsSync(join(t.context.cluster.poolDir('host-a', 'fast'), `volume-${v.id}.qcow2`)));
    await waitFor(async () => (await allocated(t).catch(() => -1)) === before, 15_000, () => 'capacity not released');
    t.is(await allocated(t), before);
  } finally {
    if (agentDown) t.context.cluster.startAgent('host-a');
  }
});

test.after.always('no process is left behind', noProcessesLeft);
