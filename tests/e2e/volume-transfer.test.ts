/**
 * Volume transfers end to end (issue 12) against a real cluster on PostgreSQL: a member
 * offers a volume with a snapshot, another project accepts it with the CLI; the giver's
 * volumeEvents see it DELETED, the receiver's see it CREATED; its quota usage moves; the
 * receiver can use it (a snapshot of its own, a delete); a cancelled and an expired
 * transfer leave it AVAILABLE with the giver.
 */
import anyTest, { type TestFn } from 'ava';
import {
  AcceptVolumeTransferDocument,
  CreateSnapshotDocument,
  CreateVolumeDocument,
  CreateVolumeTransferDocument,
  DeleteVolumeTransferDocument,
  QuotaSetDocument,
  SnapshotsDocument,
  ViewerDocument,
  VolumeEventsDocument,
  VolumeTransfersDocument,
  type FlintClient,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { runFlint } from '../helpers/flint-cli.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { errorCode } from '../helpers/sdk.js';
import { EventLog, waitForSnapshot, waitForVolume, waitUntil } from '../helpers/wait.js';

interface Ctx {
  cluster: Cluster;
  giver: string;
  receiver: string;
  cwd: TempDir;
}
const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'postgresql',
    agents: [{ host: 'host-t', pools: [{ name: 'p', imageFormat: 'qcow2', capacityGiB: 100 }] }],
    env: { FLINT_TRANSFER_EXPIRY_SECONDS: '3' },
  });
  t.context = { cluster, giver: await cluster.token('giver', 'member'), receiver: await cluster.token('receiver', 'member'), cwd: await tempDir('flint-transfer-') };
  for (const token of [t.context.giver, t.context.receiver]) for (let i = 0; i < 3; i++) await cluster.client(token).raw(ViewerDocument).catch(() => undefined);
});
test.after.always(async (t) => {
  await t.context.cluster?.stop();
  await t.context.cwd?.cleanup();
});
test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

async function availableVolume(c: FlintClient, name: string, sizeGiB: number): Promise<string> {
  const id = (await c.request(CreateVolumeDocument, { input: { name, sizeGiB } })).createVolume.volume.id;
  await waitForVolume(c, id, 'AVAILABLE');
  return id;
}

const gigabytes = async (c: FlintClient) => (await c.request(QuotaSetDocument, {})).quotaSet.gigabytes;

test.serial('accepted with the CLI: the volume and its snapshot move, the giver sees it go and the receiver sees it come, and the usage moves with them', async (t) => {
  const { cluster, giver, receiver } = t.context;
  const g = cluster.client(giver);
  const r = cluster.client(receiver);
  const volumeId = await availableVolume(g, 'gift', 3);
  const snapshotId = (await g.request(CreateSnapshotDocument, { input: { volumeId, name: 'before' } })).createSnapshot.snapshot.id;
  await waitForSnapshot(g, snapshotId, 'AVAILABLE');
  t.deepEqual(await gigabytes(g), { limit: -1, inUse: 6, reserved: 0, available: null });

  const giverEvents = EventLog.of(g.subscribe(VolumeEventsDocument, {}), 'giver volumeEvents', (e) => e.volumeEvents);
  const receiverEvents = EventLog.of(r.subscribe(VolumeEventsDocument, {}), 'receiver volumeEvents', (e) => e.volumeEvents);
  const made = (await g.request(CreateVolumeTransferDocument, { input: { volumeId, name: 'to receiver' } })).createVolumeTransfer;
  t.is(made.volume.status, 'AWAITING_TRANSFER');
  t.deepEqual((await g.request(VolumeTransfersDocument, {})).volumeTransfers.edges.map((e) => e.node.id), [made.transfer.id]);
  t.is((await r.request(VolumeTransfersDocument, {})).volumeTransfers.totalCount, 0);

  const wrong = await r.raw(AcceptVolumeTransferDocument, { input: { transferId: made.transfer.id, authKey: '0'.repeat(32) } });
  t.is(errorCode(wrong), 'NOT_FOUND');

  const cli = await runFlint({ cwd: t.context.cwd.path, url: cluster.url, token: receiver }, ['volume', 'transfer', 'accept', made.transfer.id, made.authKey]);
  t.is(cli.status, 0, cli.stderr);
  t.regex(cli.stdout, /^status\s+ACCEPTED$/m);

  const gone = await giverEvents.waitFor((e) => e.volume.id === volumeId && e.type === 'DELETED');
  t.is(gone.volume.status, 'AVAILABLE');
  const came = await receiverEvents.waitFor((e) => e.volume.id === volumeId && e.type === 'CREATED');
  t.is(came.volume.status, 'AVAILABLE');
  t.true(came.volume.version > gone.volume.version);
  giverEvents.close();
  receiverEvents.close();

  t.deepEqual((await r.request(SnapshotsDocument, {})).snapshots.edges.map((e) => e.node.id), [snapshotId]);
  t.is((await g.request(SnapshotsDocument, {})).snapshots.totalCount, 0);
  t.deepEqual(await gigabytes(g), { limit: -1, inUse: 0, reserved: 0, available: null });
  t.deepEqual(await gigabytes(r), { limit: -1, inUse: 6, reserved: 0, available: null });
  // The receiver owns it now: its own snapshot, on the agent.
  const mine = (await r.request(CreateSnapshotDocument, { input: { volumeId, name: 'mine' } })).createSnapshot.snapshot.id;
  await waitForSnapshot(r, mine, 'AVAILABLE');
});

test.serial('a cancelled transfer and an expired one leave the volume AVAILABLE with the giver', async (t) => {
  const { cluster, giver, receiver } = t.context;
  const g = cluster.client(giver);
  const r = cluster.client(receiver);
  const volumeId = await availableVolume(g, 'kept', 1);
  const first = (await g.request(CreateVolumeTransferDocument, { input: { volumeId } })).createVolumeTransfer;
  const cancelled = (await g.request(DeleteVolumeTransferDocument, { input: { id: first.transfer.id } })).deleteVolumeTransfer;
  t.is(cancelled.transfer.status, 'CANCELLED');
  t.is(cancelled.volume?.status, 'AVAILABLE');
  t.is(errorCode(await r.raw(AcceptVolumeTransferDocument, { input: { transferId: first.transfer.id, authKey: first.authKey } })), 'NOT_FOUND');

  const second = (await g.request(CreateVolumeTransferDocument, { input: { volumeId } })).createVolumeTransfer;
  // FLINT_TRANSFER_EXPIRY_SECONDS=3: the sweeper ends it and gives the volume back.
  await waitForVolume(g, volumeId, 'AVAILABLE', { timeoutMs: 20_000 });
  await waitUntil('the transfer gone from the list', () => g.request(VolumeTransfersDocument, {}), (l) => l.volumeTransfers.totalCount === 0);
  t.is(errorCode(await r.raw(AcceptVolumeTransferDocument, { input: { transferId: second.transfer.id, authKey: second.authKey } })), 'NOT_FOUND');
});

test.after.always('no process is left behind', noProcessesLeft);
