import test from 'ava';
import {
  KIND,
  MANAGE_KIND,
  subjects,
  type AgentCreate,
  type AgentCreateSnapshot,
  type PlacementRequest,
  type ScheduleCreate,
  type SnapshotOutcomeEvent,
  type VolumeOutcomeEvent,
} from '../../../src/bus/index.js';
import { createLogger } from '../../../src/config/index.js';
import { volumeOutcome } from '../../../src/node-agent/volume-outcomes.js';
import {
  AgentCore,
  DriverError,
  GiB,
  MemoryOutcomeStore,
  type DriverCapabilities,
  type PoolCapacity,
  type SnapshotInfo,
  type VolumeDriver,
  type ManageableImage,
  type ImageSource,
  type VolumeInfo,
} from '../../../src/node-agent/index.js';

/** A driver keeping sizes (and snapshot ids) in Maps; `fail*` make calls throw, `gate` holds calls until released. */
class FakeDriver implements VolumeDriver {
  readonly name = 'fake';
  readonly volumes = new Map<string, number>();
  readonly calls: string[] = [];
  failCreate: DriverError | undefined;
  failDelete: Error | undefined;
  failSnapshot: Error | undefined;
  /** Snapshot ids by volume id. */
  readonly snapshots = new Map<string, Set<string>>();
  gate: Promise<void> | undefined;

  async setup(): Promise<void> {}
  capabilities(): DriverCapabilities {
    return { thinProvisioningSupport: true, thickProvisioningSupport: false, extra: {} };
  }
  async stats(): Promise<PoolCapacity> {
    return { totalCapacityGiB: 100, freeCapacityGiB: 100, provisionedCapacityGiB: 0, volumeCount: this.volumes.size };
  }
  async createVolume(volumeId: string, sizeGiB: number): Promise<VolumeInfo> {
    this.calls.push(`create ${volumeId}`);
    await this.gate;
    // Leaves a partial image behind, as a real driver could when it dies half-way.
    this.volumes.set(volumeId, sizeGiB);
    if (this.failCreate) throw this.failCreate;
    return this.info(volumeId);
  }
  async deleteVolume(volumeId: string): Promise<void> {
    this.calls.push(`delete ${volumeId}`);
    await this.gate;
    if (this.failDelete) throw this.failDelete;
    this.volumes.delete(volumeId);
  }
  async extendVolume(volumeId: string, newSizeGiB: number): Promise<VolumeInfo> {
    this.calls.push(`extend ${volumeId}`);
    const size = this.volumes.get(volumeId);
    if (size === undefined) throw new DriverError(`volume ${volumeId} does not exist`, { retryable: false });
    if (newSizeGiB < size) throw new DriverError('volumes only grow', { retryable: false });
    this.volumes.set(volumeId, newSizeGiB);
    return this.info(volumeId);
  }
  async getVolume(volumeId: string): Promise<VolumeInfo | null> {
    return this.volumes.has(volumeId) ? this.info(volumeId) : null;
  }
  async listVolumes(): Promise<string[]> {
    return [...this.volumes.keys()];
  }
  async createSnapshot(volumeId: string, snapshotId: string): Promise<SnapshotInfo> {
    this.calls.push(`snapshot ${volumeId}/${snapshotId}`);
    await this.gate;
    if (this.failSnapshot) throw this.failSnapshot;
    const size = this.volumes.get(volumeId);
    if (size === undefined) throw new DriverError(`volume ${volumeId} does not exist`, { retryable: false });
    const set = this.snapshots.get(volumeId) ?? new Set<string>();
    set.add(snapshotId);
    this.snapshots.set(volumeId, set);
    return { snapshotId, volumeId, sizeBytes: size * GiB };
  }
  async deleteSnapshot(volumeId: string, snapshotId: string): Promise<void> {
    this.calls.push(`delete snapshot ${volumeId}/${snapshotId}`);
    await this.gate;
    if (this.failSnapshot) throw this.failSnapshot;
    this.snapshots.get(volumeId)?.delete(snapshotId);
  }
  async listSnapshots(volumeId: string): Promise<string[]> {
    return [...(this.snapshots.get(volumeId) ?? [])].sort();
  }
  failCopy: DriverError | undefined;
  async createVolumeFromSnapshot(volumeId: string, sizeGiB: number, sourceVolumeId: string, snapshotId: string): Promise<VolumeInfo> {
    this.calls.push(`create ${volumeId} from ${sourceVolumeId}/${snapshotId}`);
    if (this.failCopy) throw this.failCopy;
    if (!this.snapshots.get(sourceVolumeId)?.has(snapshotId)) throw new DriverError(`no snapshot ${snapshotId}`, { retryable: false });
    this.volumes.set(volumeId, sizeGiB);
    return this.info(volumeId);
  }
  async cloneVolume(volumeId: string, sizeGiB: number, sourceVolumeId: string): Promise<VolumeInfo> {
    this.calls.push(`clone ${sourceVolumeId} to ${volumeId}`);
    if (this.failCopy) throw this.failCopy;
    if (!this.volumes.has(sourceVolumeId)) throw new DriverError(`no volume ${sourceVolumeId}`, { retryable: false });
    this.volumes.set(volumeId, sizeGiB);
    return this.info(volumeId);
  }
  async revertToSnapshot(volumeId: string, snapshotId: string): Promise<VolumeInfo> {
    this.calls.push(`revert ${volumeId} to ${snapshotId}`);
    if (this.failCopy) throw this.failCopy;
    if (!this.snapshots.get(volumeId)?.has(snapshotId)) throw new DriverError(`no snapshot ${snapshotId}`, { retryable: false });
    return this.info(volumeId);
  }
  async importVolume(volumeId: string): Promise<VolumeInfo> {
    throw new DriverError(`the fake driver cannot import ${volumeId}`, { retryable: false });
  }
  async imageSource(volumeId: string): Promise<ImageSource> {
    if (!this.volumes.has(volumeId)) throw new DriverError(`no volume ${volumeId}`, { retryable: false });
    return { path: `mem:${volumeId}`, format: 'raw', sizeBytes: this.volumes.get(volumeId)! * GiB };
  }
  /** Images a manage may adopt: reference → GiB. */
  readonly manageable = new Map<string, number>();
  async manageExisting(volumeId: string, reference: string): Promise<VolumeInfo> {
    this.calls.push(`manage ${volumeId} ${reference}`);
    if (this.volumes.has(volumeId) && !this.manageable.has(reference)) return this.info(volumeId);
    const size = this.manageable.get(reference);
    if (size === undefined) throw new DriverError(`${reference} does not exist`, { retryable: false });
    this.manageable.delete(reference);
    this.volumes.set(volumeId, size);
    return this.info(volumeId);
  }
  async unmanage(volumeId: string): Promise<void> {
    this.calls.push(`unmanage ${volumeId}`);
    const size = this.volumes.get(volumeId);
    if (size === undefined) return;
    this.volumes.delete(volumeId);
    this.manageable.set(`unmanaged-volume-${volumeId}`, size);
  }
  async listManageable(): Promise<ManageableImage[]> {
    return [...this.manageable].map(([reference, size]) => ({ reference, sizeBytes: size * GiB, format: 'raw', safeToManage: true, reasonNotSafe: null }));
  }
  private info(volumeId: string): VolumeInfo {
    const size = this.volumes.get(volumeId)! * GiB;
    return { volumeId, sizeBytes: size, allocatedBytes: 0, format: 'raw', location: `mem:${volumeId}`, encrypted: false };
  }
}

interface Emitted {
  subject: string;
  kind: string;
  payload: unknown;
  msgId: string;
}

function setup(maxAttempts = 3) {
  const gold = new FakeDriver();
  const silver = new FakeDriver();
  const emitted: Emitted[] = [];
  const outcomes = new MemoryOutcomeStore();
  let failEmit = false;
  const core = new AgentCore({
    host: 'node1',
    availabilityZone: 'nova',
    drivers: new Map<string, VolumeDriver>([
      ['gold', gold],
      ['silver', silver],
    ]),
    maxAttempts,
    outcomes,
    emit: async (subject, kind, payload, msgId) => {
      if (failEmit) throw new Error('NATS is down');
      emitted.push({ subject, kind, payload, msgId });
    },
    log: createLogger('test', 'silent'),
  });
  return { core, gold, silver, emitted, outcomes, setFailEmit: (v: boolean) => (failEmit = v) };
}

const request: PlacementRequest = { volumeId: 'v1', projectId: 'p1', sizeGiB: 10, availabilityZone: null, volumeType: null };

function createCmd(over: Partial<AgentCreate> = {}): AgentCreate {
  return { operationId: 'op1', volumeId: 'v1', pool: 'gold', sizeGiB: 10, attempt: 1, request, excluded: [], ...over };
}

test('a created volume is reported as create.succeeded with host, pool and size', async (t) => {
  const { core, gold, emitted } = setup();
  await core.handle('create_volume', createCmd());
  t.is(gold.volumes.get('v1'), 10);
  t.deepEqual(emitted, [
    {
      subject: subjects.agentEvent('node1', 'volume', 'v1'),
      kind: KIND.volumeOutcome,
      payload: { operationId: 'op1', volumeId: 'v1', outcome: 'create.succeeded', host: 'node1', pool: 'gold', sizeGiB: 10 },
      msgId: 'op1:create.succeeded:1:node1',
    },
  ]);
});

test('a failed create removes the partial image and goes back to the scheduler with the pool excluded and attempt + 1', async (t) => {
  const { core, gold, emitted } = setup();
  gold.failCreate = new DriverError('disk full');
  const earlier = { pool: 'node0@gold', reason: 'no space' };
  await core.handle('create_volume', createCmd({ attempt: 2, excluded: [earlier] }));
  t.false(gold.volumes.has('v1'), 'the partial image is removed');
  t.is(emitted.length, 1);
  const [m] = emitted;
  t.is(m!.subject, subjects.agentEvent('node1', 'volume', 'v1'));
  t.is(m!.kind, KIND.volumeReschedule);
  t.is(m!.msgId, 'op1:schedule:3');
  const expected: ScheduleCreate = {
    operationId: 'op1',
    request,
    attempt: 3,
    excluded: [earlier, { pool: 'node1@gold', reason: 'disk full' }],
  };
  t.deepEqual(m!.payload, expected);
});

test('a create failing on the last allowed attempt reports NO_VALID_BACKEND naming every pool tried', async (t) => {
  const { core, gold, emitted } = setup(3);
  gold.failCreate = new DriverError('qemu-img create failed: No space left on device');
  const excluded = [
    { pool: 'node2@a', reason: 'pool a broke' },
    { pool: 'node3@b', reason: 'pool b broke' },
  ];
  await core.handle('create_volume', createCmd({ attempt: 3, excluded }));
  t.is(emitted.length, 1);
  t.is(emitted[0]!.subject, subjects.agentEvent('node1', 'volume', 'v1'));
  t.is(emitted[0]!.msgId, 'op1:create.failed:3:node1');
  const p = emitted[0]!.payload as VolumeOutcomeEvent;
  t.is(p.outcome, 'create.failed');
  t.is(p.error?.code, 'NO_VALID_BACKEND');
  for (const s of ['node2@a: pool a broke', 'node3@b: pool b broke', 'node1@gold: qemu-img create failed: No space left on device']) {
    t.true(p.error!.message.includes(s), `message names "${s}": ${p.error!.message}`);
  }
  t.regex(p.error!.message, /delete this volume and create it again/);
  t.false(gold.volumes.has('v1'));
});

test('a create on a pool this host does not have counts as a failed attempt', async (t) => {
  const { core, emitted } = setup();
  await core.handle('create_volume', createCmd({ pool: 'bronze' }));
  const p = emitted[0]!.payload as ScheduleCreate;
  t.is(emitted[0]!.kind, KIND.volumeReschedule);
  t.is(p.attempt, 2);
  t.is(p.excluded[0]!.pool, 'node1@bronze');
  t.regex(p.excluded[0]!.reason, /not configured on host node1 \(its pools: gold, silver\)/);
});

test('a create the driver refuses as not retryable fails at once and keeps the existing image', async (t) => {
  const { core, gold, emitted } = setup();
  gold.volumes.set('v1', 5);
  gold.failCreate = new DriverError('volume v1 already exists with 5 GiB, not 10 GiB', { retryable: false });
  await core.handle('create_volume', createCmd());
  t.is(emitted[0]!.kind, KIND.volumeOutcome);
  t.is((emitted[0]!.payload as VolumeOutcomeEvent).outcome, 'create.failed');
  t.false(gold.calls.includes('delete v1'), 'no clean-up of an image the failed command did not make');
});

test('a redelivered create re-emits the recorded outcome without calling the driver again', async (t) => {
  const { core, gold, emitted } = setup();
  await core.handle('create_volume', createCmd());
  await core.handle('create_volume', createCmd());
  t.deepEqual(gold.calls, ['create v1']);
  t.is(emitted.length, 2);
  t.deepEqual(emitted[1], emitted[0]);
});

test('a redelivered failed create re-sends the same reschedule rather than trying the pool again', async (t) => {
  const { core, gold, emitted } = setup();
  gold.failCreate = new DriverError('disk full');
  await core.handle('create_volume', createCmd());
  gold.failCreate = undefined;
  await core.handle('create_volume', createCmd());
  t.deepEqual(gold.calls, ['create v1', 'delete v1']);
  t.deepEqual(emitted[1], emitted[0]);
  t.is(emitted[1]!.kind, KIND.volumeReschedule);
});

test('a new attempt of the same operation is new work, not a replay', async (t) => {
  const { core, gold, silver, emitted } = setup();
  gold.failCreate = new DriverError('disk full');
  await core.handle('create_volume', createCmd());
  const resent = emitted[0]!.payload as ScheduleCreate;
  await core.handle('create_volume', createCmd({ pool: 'silver', attempt: resent.attempt, excluded: resent.excluded }));
  t.is(silver.volumes.get('v1'), 10);
  t.is((emitted[1]!.payload as VolumeOutcomeEvent).outcome, 'create.succeeded');
  t.is(emitted[1]!.msgId, 'op1:create.succeeded:2:node1');
});

test('a command whose publish failed publishes the recorded outcome on redelivery without redoing the work', async (t) => {
  const { core, gold, emitted, setFailEmit } = setup();
  setFailEmit(true);
  await t.throwsAsync(core.handle('create_volume', createCmd()), { message: 'NATS is down' });
  setFailEmit(false);
  await core.handle('create_volume', createCmd());
  t.deepEqual(gold.calls, ['create v1']);
  t.is(emitted.length, 1);
  t.is(emitted[0]!.msgId, 'op1:create.succeeded:1:node1');
});

test('deleting a volume, even a missing one, is reported as delete.succeeded', async (t) => {
  const { core, gold, emitted } = setup();
  gold.volumes.set('v1', 10);
  await core.handle('delete_volume', { operationId: 'op2', volumeId: 'v1', pool: 'gold' });
  await core.handle('delete_volume', { operationId: 'op3', volumeId: 'v1', pool: 'gold' });
  t.false(gold.volumes.has('v1'));
  t.deepEqual(
    emitted.map((e) => [e.subject, e.msgId, (e.payload as VolumeOutcomeEvent).outcome]),
    [
      [subjects.agentEvent('node1', 'volume', 'v1'), 'op2:delete.succeeded:1:node1', 'delete.succeeded'],
      [subjects.agentEvent('node1', 'volume', 'v1'), 'op3:delete.succeeded:1:node1', 'delete.succeeded'],
    ],
  );
});

test('a delete the driver fails is reported as delete.failed with INTERNAL and advice to retry', async (t) => {
  const { core, gold, emitted } = setup();
  gold.failDelete = new DriverError('permission denied');
  await core.handle('delete_volume', { operationId: 'op2', volumeId: 'v1', pool: 'gold' });
  const p = emitted[0]!.payload as VolumeOutcomeEvent;
  t.is(p.outcome, 'delete.failed');
  t.is(p.error?.code, 'INTERNAL');
  t.regex(p.error!.message, /permission denied.*Retry the delete/);
});

test('an extend is reported with the new size, and a shrink as extend.failed', async (t) => {
  const { core, gold, emitted } = setup();
  gold.volumes.set('v1', 10);
  await core.handle('extend_volume', { operationId: 'op4', volumeId: 'v1', pool: 'gold', newSizeGiB: 20 });
  await core.handle('extend_volume', { operationId: 'op5', volumeId: 'v1', pool: 'gold', newSizeGiB: 5 });
  t.is(gold.volumes.get('v1'), 20);
  const [ok, bad] = emitted.map((e) => e.payload as VolumeOutcomeEvent);
  t.deepEqual(ok, { operationId: 'op4', volumeId: 'v1', outcome: 'extend.succeeded', host: 'node1', pool: 'gold', sizeGiB: 20 });
  t.is(bad!.outcome, 'extend.failed');
  t.is(bad!.error?.code, 'BAD_USER_INPUT');
});

test('commands of one volume run one at a time while other volumes proceed', async (t) => {
  const { core, gold, emitted } = setup();
  let release!: () => void;
  gold.gate = new Promise((r) => (release = r));
  const first = core.handle('create_volume', createCmd());
  const second = core.handle('delete_volume', { operationId: 'op2', volumeId: 'v1', pool: 'gold' });
  const other = core.handle('create_volume', createCmd({ operationId: 'op9', volumeId: 'v2', request: { ...request, volumeId: 'v2' } }));
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(gold.calls, ['create v1', 'create v2'], 'the delete of v1 waits; v2 does not wait for v1');
  release();
  await Promise.all([first, second, other]);
  t.deepEqual(gold.calls, ['create v1', 'create v2', 'delete v1']);
  t.is(emitted.length, 3);
});

function snapCmd(over: Partial<AgentCreateSnapshot> = {}): AgentCreateSnapshot {
  return { operationId: 'op-s1', snapshotId: 's1', volumeId: 'v1', pool: 'gold', ...over };
}

test('a snapshot is taken and reported as create.succeeded on the snapshot subject', async (t) => {
  const { core, gold, emitted } = setup();
  gold.volumes.set('v1', 10);
  await core.handle('create_snapshot', snapCmd());
  t.deepEqual(await gold.listSnapshots('v1'), ['s1']);
  t.deepEqual(emitted, [
    {
      subject: subjects.agentEvent('node1', 'snapshot', 's1'),
      kind: KIND.snapshotOutcome,
      payload: { operationId: 'op-s1', snapshotId: 's1', volumeId: 'v1', outcome: 'create.succeeded' },
      msgId: 'op-s1:create.succeeded',
    },
  ]);
});

test('a snapshot of a missing volume is create.failed with BAD_USER_INPUT and what to do', async (t) => {
  const { core, emitted } = setup();
  await core.handle('create_snapshot', snapCmd());
  t.is(emitted[0]!.subject, subjects.agentEvent('node1', 'snapshot', 's1'));
  t.is(emitted[0]!.msgId, 'op-s1:create.failed');
  const p = emitted[0]!.payload as SnapshotOutcomeEvent;
  t.is(p.outcome, 'create.failed');
  t.is(p.error?.code, 'BAD_USER_INPUT');
  t.regex(p.error!.message, /Taking snapshot s1 of volume v1 on node1@gold failed: volume v1 does not exist\. .*take a new one/);
});

test('a snapshot the driver fails, or on an unknown pool, is create.failed with INTERNAL', async (t) => {
  const { core, gold, emitted } = setup();
  gold.volumes.set('v1', 10);
  gold.failSnapshot = new DriverError('qemu-img snapshot failed: Failed to get "write" lock');
  await core.handle('create_snapshot', snapCmd());
  await core.handle('create_snapshot', snapCmd({ operationId: 'op-s2', snapshotId: 's2', pool: 'bronze' }));
  const [a, b] = emitted.map((e) => e.payload as SnapshotOutcomeEvent);
  t.like(a, { outcome: 'create.failed', error: { code: 'INTERNAL' } });
  t.regex(a!.error!.message, /write" lock\. Delete this snapshot and take it again/);
  t.like(b, { outcome: 'create.failed', snapshotId: 's2', error: { code: 'INTERNAL' } });
  t.regex(b!.error!.message, /pool bronze is not configured on host node1/);
});

test('a redelivered snapshot command replays its recorded outcome without calling the driver again', async (t) => {
  const { core, gold, emitted, setFailEmit } = setup();
  gold.volumes.set('v1', 10);
  setFailEmit(true);
  await t.throwsAsync(core.handle('create_snapshot', snapCmd()), { message: 'NATS is down' });
  setFailEmit(false);
  await core.handle('create_snapshot', snapCmd());
  await core.handle('create_snapshot', snapCmd());
  t.deepEqual(gold.calls, ['snapshot v1/s1']);
  t.is(emitted.length, 2);
  t.deepEqual(emitted[1], emitted[0]);
  t.is(emitted[0]!.msgId, 'op-s1:create.succeeded');

  const del = { operationId: 'op-ds1', snapshotId: 's1', volumeId: 'v1', pool: 'gold' };
  await core.handle('delete_snapshot', del);
  await core.handle('delete_snapshot', del);
  t.deepEqual(gold.calls, ['snapshot v1/s1', 'delete snapshot v1/s1']);
  t.deepEqual(emitted[3], emitted[2]);
});

test('deleting a snapshot, even a missing one, is delete.succeeded; a failing delete is delete.failed with INTERNAL', async (t) => {
  const { core, gold, emitted } = setup();
  gold.volumes.set('v1', 10);
  gold.snapshots.set('v1', new Set(['s1']));
  await core.handle('delete_snapshot', { operationId: 'op-d1', snapshotId: 's1', volumeId: 'v1', pool: 'gold' });
  await core.handle('delete_snapshot', { operationId: 'op-d2', snapshotId: 's1', volumeId: 'v1', pool: 'gold' });
  gold.failSnapshot = new DriverError('permission denied');
  await core.handle('delete_snapshot', { operationId: 'op-d3', snapshotId: 's1', volumeId: 'v1', pool: 'gold' });
  t.deepEqual(await gold.listSnapshots('v1'), []);
  t.deepEqual(
    emitted.map((e) => [e.subject, e.kind, e.msgId, (e.payload as SnapshotOutcomeEvent).outcome]),
    [
      [subjects.agentEvent('node1', 'snapshot', 's1'), KIND.snapshotOutcome, 'op-d1:delete.succeeded', 'delete.succeeded'],
      [subjects.agentEvent('node1', 'snapshot', 's1'), KIND.snapshotOutcome, 'op-d2:delete.succeeded', 'delete.succeeded'],
      [subjects.agentEvent('node1', 'snapshot', 's1'), KIND.snapshotOutcome, 'op-d3:delete.failed', 'delete.failed'],
    ],
  );
  const failed = emitted[2]!.payload as SnapshotOutcomeEvent;
  t.is(failed.error?.code, 'INTERNAL');
  t.regex(failed.error!.message, /Deleting snapshot s1 of volume v1 on node1@gold failed: permission denied\. Retry the delete/);
});

test('snapshot commands wait for the other commands of their volume', async (t) => {
  const { core, gold } = setup();
  let release!: () => void;
  gold.gate = new Promise((r) => (release = r));
  const create = core.handle('create_volume', createCmd());
  const snap = core.handle('create_snapshot', snapCmd());
  const del = core.handle('delete_volume', { operationId: 'op2', volumeId: 'v1', pool: 'gold' });
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(gold.calls, ['create v1'], 'the snapshot waits for the create of its volume');
  release();
  await Promise.all([create, snap, del]);
  t.deepEqual(gold.calls, ['create v1', 'snapshot v1/s1', 'delete v1']);
});

test('a create with a snapshot source copies it on the pool and reports create.succeeded', async (t) => {
  const { core, gold, emitted } = setup();
  gold.volumes.set('src', 10);
  gold.snapshots.set('src', new Set(['s1']));
  await core.handle('create_volume', createCmd({ source: { volumeId: 'src', snapshotId: 's1' } }));
  t.true(gold.calls.includes('create v1 from src/s1'));
  t.false(gold.calls.includes('create v1'), 'no blank volume was made');
  t.like(emitted[0]!.payload, { outcome: 'create.succeeded', pool: 'gold', sizeGiB: 10 });
});

test('a create with a volume source clones it', async (t) => {
  const { core, gold, emitted } = setup();
  gold.volumes.set('src', 10);
  await core.handle('create_volume', createCmd({ source: { volumeId: 'src' } }));
  t.true(gold.calls.includes('clone src to v1'));
  t.like(emitted[0]!.payload, { outcome: 'create.succeeded' });
});

test('a failed copy fails the volume at once: another pool cannot hold the source, so no reschedule', async (t) => {
  const { core, gold, emitted } = setup(3);
  gold.volumes.set('src', 10);
  gold.failCopy = new DriverError('qemu-img convert failed: disk full');
  await core.handle('create_volume', createCmd({ source: { volumeId: 'src' } }));
  t.is(emitted.length, 1);
  t.is(emitted[0]!.subject, subjects.agentEvent('node1', 'volume', 'v1'));
  const payload = emitted[0]!.payload as VolumeOutcomeEvent;
  t.is(payload.outcome, 'create.failed');
  t.is(payload.error?.code, 'INTERNAL');
  t.regex(payload.error!.message, /could not be created from volume src on node1@gold: qemu-img convert failed: disk full/);
  t.regex(payload.error!.message, /not tried elsewhere/);
});

test('a copy of a missing snapshot is refused as BAD_USER_INPUT', async (t) => {
  const { core, emitted } = setup();
  await core.handle('create_volume', createCmd({ source: { volumeId: 'src', snapshotId: 'gone' } }));
  const payload = emitted[0]!.payload as VolumeOutcomeEvent;
  t.is(payload.outcome, 'create.failed');
  t.is(payload.error?.code, 'BAD_USER_INPUT');
});

test('revert_volume reverts through the driver and reports revert.succeeded, or revert.failed with a message', async (t) => {
  const { core, gold, emitted } = setup();
  gold.volumes.set('v1', 10);
  gold.snapshots.set('v1', new Set(['s1']));
  await core.handle('revert_volume', { operationId: 'op-r', volumeId: 'v1', snapshotId: 's1', pool: 'gold' });
  t.true(gold.calls.includes('revert v1 to s1'));
  t.deepEqual(emitted[0], {
    subject: subjects.agentEvent('node1', 'volume', 'v1'),
    kind: KIND.volumeOutcome,
    payload: { operationId: 'op-r', volumeId: 'v1', outcome: 'revert.succeeded', host: 'node1', pool: 'gold' },
    msgId: 'op-r:revert.succeeded:1:node1',
  });
  await core.handle('revert_volume', { operationId: 'op-r2', volumeId: 'v1', snapshotId: 'gone', pool: 'gold' });
  const failed = emitted[1]!.payload as VolumeOutcomeEvent;
  t.is(failed.outcome, 'revert.failed');
  t.regex(failed.error!.message, /Reverting volume v1 to snapshot gone on node1@gold failed/);
});

test('manage_volume adopts the reference and reports its size; a redelivery replays the recorded outcome', async (t) => {
  const { core, gold, emitted } = setup();
  gold.manageable.set('legacy.raw', 3);
  const cmd = { operationId: 'opm', volumeId: 'vm', pool: 'gold', reference: 'legacy.raw' };
  await core.handle('manage_volume', cmd);
  await core.handle('manage_volume', cmd);
  t.is(gold.volumes.get('vm'), 3);
  t.is(gold.calls.filter((c) => c.startsWith('manage')).length, 1, 'the driver is called once');
  const expected = {
    subject: subjects.agentEvent('node1', 'volume', 'vm'),
    kind: MANAGE_KIND.manageOutcome,
    payload: { operationId: 'opm', volumeId: 'vm', host: 'node1', pool: 'gold', outcome: 'manage.succeeded', sizeGiB: 3, format: 'raw' },
    msgId: 'opm:manage.succeeded',
  };
  t.deepEqual(emitted, [expected, expected]);
});

test('manage_volume of a missing reference or on an unknown pool is manage.failed with BAD_USER_INPUT and what to do', async (t) => {
  const { core, emitted } = setup();
  await core.handle('manage_volume', { operationId: 'op1', volumeId: 'v1', pool: 'gold', reference: 'gone.raw' });
  await core.handle('manage_volume', { operationId: 'op2', volumeId: 'v2', pool: 'bronze', reference: 'x.raw' });
  const [a, b] = emitted.map((e) => e.payload as { outcome: string; error: { code: string; message: string } });
  t.is(a!.outcome, 'manage.failed');
  t.is(a!.error.code, 'BAD_USER_INPUT');
  t.regex(a!.error.message, /gone\.raw does not exist.*left as it was/);
  t.is(b!.outcome, 'manage.failed');
  t.regex(b!.error.message, /pool bronze is not configured on host node1/);
});

test('unmanage_volume keeps the bytes and reports delete.succeeded; a driver failure is delete.failed', async (t) => {
  const { core, gold, emitted } = setup();
  await core.handle('create_volume', createCmd({ volumeId: 'vu', operationId: 'opc' }));
  await core.handle('unmanage_volume', { operationId: 'opu', volumeId: 'vu', pool: 'gold' });
  t.false(gold.volumes.has('vu'));
  t.is(gold.manageable.get('unmanaged-volume-vu'), 10);
  t.deepEqual(emitted.at(-1), {
    subject: subjects.agentEvent('node1', 'volume', 'vu'),
    kind: KIND.volumeOutcome,
    payload: { operationId: 'opu', volumeId: 'vu', host: 'node1', pool: 'gold', outcome: 'delete.succeeded' },
    msgId: 'opu:unmanage:delete.succeeded',
  });
  await core.handle('unmanage_volume', { operationId: 'opx', volumeId: 'vu', pool: 'nowhere' });
  const failed = emitted.at(-1)!.payload as { outcome: string; error: { code: string } };
  t.is(failed.outcome, 'delete.failed');
  t.is(failed.error.code, 'INTERNAL');
});

// Found by the chaos suite: a create that ran on a second host reported it with the first host's
// msgId, so JetStream dropped the report and no one learnt of the second image.
test('two hosts that ran one create report it under different message ids', (t) => {
  const a = volumeOutcome('host-a', 'op1', 'create.succeeded', 1, { volumeId: 'v1', host: 'host-a', pool: 'p' });
  const b = volumeOutcome('host-b', 'op1', 'create.succeeded', 1, { volumeId: 'v1', host: 'host-b', pool: 'p' });
  t.not(a.msgId, b.msgId);
  t.is(volumeOutcome('host-a', 'op1', 'create.succeeded', 1, { volumeId: 'v1' }).msgId, a.msgId, 'one host, one create: one id');
});
