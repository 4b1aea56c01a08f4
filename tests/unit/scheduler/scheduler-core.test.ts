import test, { type ExecutionContext } from 'ava';
import type { ScheduleCreate, ScheduleExtend, VolumeOutcomeEvent } from '../../../src/bus/contract/index.js';
import { VolumeNumberWeigher, type PoolState, type WeigherSetting } from '../../../src/scheduler/placement/index.js';
import { SchedulerCore, type Reserved, type SchedulerDeps } from '../../../src/scheduler/scheduler-core.js';
import { NOW, pool, request, thinPool } from './fixtures.js';

const STALE_AFTER_MS = 30_000;
const STALE_GRACE_MS = 60_000;
/** A heartbeat well past STALE_AFTER_MS before NOW. */
const LONG_AGO = new Date(NOW.getTime() - 5 * 60_000).toISOString();

interface Emitted {
  subject: string;
  kind: string;
  payload: unknown;
  msgId: string;
}

interface CapacityCall {
  volumeId: string;
  pool: string;
  sizeGiB: number;
  limitGiB: number;
}

/**
 * The database's capacity bookkeeping in Maps: `allocated` per pool (`host@pool`) and
 * each volume's reservation, updated only under the limit, like the conditional UPDATE.
 * Seeding `allocated` with more than `pools()` reports stands for another scheduler
 * that took the capacity after the heartbeat.
 */
class FakeCapacity {
  readonly allocated = new Map<string, number>();
  readonly reservations = new Map<string, { pool: string; sizeGiB: number }>();
  readonly reserveCalls: CapacityCall[] = [];
  readonly growCalls: CapacityCall[] = [];

  reserve = async (volumeId: string, pool: string, sizeGiB: number, limitGiB: number, movableFrom: readonly string[]): Promise<Reserved> => {
    this.reserveCalls.push({ volumeId, pool, sizeGiB, limitGiB });
    const held = this.reservations.get(volumeId);
    if (held?.pool === pool) return 'reserved';
    if (held && !movableFrom.includes(held.pool)) return { heldOn: held.pool };
    const used = this.allocated.get(pool) ?? 0;
    if (used + sizeGiB > limitGiB) return 'full';
    if (held) this.allocated.set(held.pool, (this.allocated.get(held.pool) ?? 0) - held.sizeGiB);
    this.allocated.set(pool, used + sizeGiB);
    this.reservations.set(volumeId, { pool, sizeGiB });
    return 'reserved';
  };

  grow = async (volumeId: string, pool: string, newSizeGiB: number, limitGiB: number): Promise<boolean> => {
    this.growCalls.push({ volumeId, pool, sizeGiB: newSizeGiB, limitGiB });
    const r = this.reservations.get(volumeId);
    if (!r || r.pool !== pool) return false;
    const delta = newSizeGiB - r.sizeGiB;
    const used = this.allocated.get(pool) ?? 0;
    if (used + delta > limitGiB) return false;
    this.allocated.set(pool, used + delta);
    r.sizeGiB = newSizeGiB;
    return true;
  };
}

interface Harness {
  core: SchedulerCore;
  capacity: FakeCapacity;
  emitted: Emitted[];
  clock: { now: Date };
}

function harness(pools: PoolState[], opts: { weighers?: WeigherSetting[]; deps?: Partial<SchedulerDeps> } = {}): Harness {
  const capacity = new FakeCapacity();
  const emitted: Emitted[] = [];
  const clock = { now: NOW };
  const core = new SchedulerCore({
    pools: async () => pools.map((p) => ({ ...p })),
    reserve: capacity.reserve,
    grow: capacity.grow,
    reservedPool: async (volumeId) => capacity.reservations.get(volumeId)?.pool ?? null,
    emit: async (subject, kind, payload, msgId) => {
      emitted.push({ subject, kind, payload, msgId });
    },
    staleAfterMs: STALE_AFTER_MS,
    staleGraceMs: STALE_GRACE_MS,
    weighers: opts.weighers,
    now: () => clock.now,
    ...opts.deps,
  });
  return { core, capacity, emitted, clock };
}

function createCmd(overrides: Partial<ScheduleCreate> = {}): ScheduleCreate {
  return { operationId: 'op-1', request: request(), attempt: 1, excluded: [], ...overrides };
}

function extendCmd(overrides: Partial<ScheduleExtend> = {}): ScheduleExtend {
  return { operationId: 'op-2', volumeId: 'vol-1', host: 'host1', pool: 'fast', oldSizeGiB: 10, newSizeGiB: 20, ...overrides };
}

/** Asserts exactly one emission, a `volume.outcome` on the volume's event subject, and returns its payload. */
function onlyOutcome(t: ExecutionContext, emitted: Emitted[], msgId: string): VolumeOutcomeEvent {
  t.is(emitted.length, 1, `expected one emission, got ${emitted.map((e) => e.kind).join(', ')}`);
  const [e] = emitted;
  t.is(e?.subject, 'flint.evt.scheduler.volume.vol-1');
  t.is(e?.kind, 'volume.outcome');
  t.is(e?.msgId, msgId);
  return e?.payload as VolumeOutcomeEvent;
}

// ---------------------------------------------------------------- createVolume

test('createVolume reserves the volume on the candidate with the most free space, under that pool’s limit', async (t) => {
  const pools = [
    pool({ pool: 'small', freeCapacityGiB: 100 }),
    pool({ pool: 'big', freeCapacityGiB: 800, reservedPercentage: 10 }),
    pool({ pool: 'mid', freeCapacityGiB: 400 }),
  ];
  const h = harness(pools);
  t.is(await h.core.createVolume(createCmd()), 'done');
  // Thick pool of 1000 GiB with 10% reserved: Flint may allocate 900 GiB there.
  t.deepEqual(h.capacity.reserveCalls, [{ volumeId: 'vol-1', pool: 'host1@big', sizeGiB: 10, limitGiB: 900 }]);
});

test('createVolume emits volume.scheduled and then agent.create_volume to the chosen host, and nothing else', async (t) => {
  const req = request({ sizeGiB: 25 });
  const h = harness([pool({ host: 'host1', pool: 'a', freeCapacityGiB: 200 }), pool({ host: 'host2', pool: 'b', availabilityZone: 'az2', freeCapacityGiB: 900 })]);
  const excluded = [{ pool: 'host3@c', reason: 'driver crashed' }];
  t.is(await h.core.createVolume(createCmd({ operationId: 'op-7', request: req, attempt: 2, excluded })), 'done');
  t.deepEqual(h.emitted, [
    {
      subject: 'flint.evt.scheduler.volume.vol-1',
      kind: 'volume.scheduled',
      payload: { operationId: 'op-7', volumeId: 'vol-1', host: 'host2', pool: 'b', availabilityZone: 'az2', attempt: 2 },
      msgId: 'op-7:scheduled:2',
    },
    {
      subject: 'flint.cmd.agent.host2.create_volume',
      kind: 'agent.create_volume',
      payload: { operationId: 'op-7', volumeId: 'vol-1', pool: 'b', sizeGiB: 25, attempt: 2, request: req, excluded },
      msgId: 'op-7:agent.create:2',
    },
  ]);
});

test('createVolume addresses the agent command to the host as a subject token', async (t) => {
  const h = harness([pool({ host: 'node1.example.com', pool: 'fast' })]);
  await h.core.createVolume(createCmd());
  t.deepEqual(
    h.emitted.map((e) => e.subject),
    ['flint.evt.scheduler.volume.vol-1', 'flint.cmd.agent.node1_example_com.create_volume'],
  );
  t.like(h.emitted[0]?.payload, { host: 'node1.example.com', pool: 'fast' });
});

test('createVolume reserves on a thin pool under its over-subscribed limit', async (t) => {
  // 100 GiB total × over-subscription 10, 5% reserved: 1000 − 5 GiB.
  const h = harness([thinPool({ reservedPercentage: 5 })]);
  await h.core.createVolume(createCmd({ request: request({ sizeGiB: 150 }) }));
  t.deepEqual(h.capacity.reserveCalls, [{ volumeId: 'vol-1', pool: 'host1@fast', sizeGiB: 150, limitGiB: 995 }]);
});

test('createVolume ranks pools with the configured weighers', async (t) => {
  const pools = [pool({ pool: 'busy', volumeCount: 9, freeCapacityGiB: 900 }), pool({ pool: 'idle', volumeCount: 1, freeCapacityGiB: 100 })];
  const h = harness(pools, { weighers: [{ weigher: VolumeNumberWeigher }] });
  await h.core.createVolume(createCmd());
  t.deepEqual(
    h.capacity.reserveCalls.map((c) => c.pool),
    ['host1@idle'],
  );
  t.like(h.emitted[0]?.payload, { pool: 'idle' });
});

test('createVolume places on the next candidate when the reservation on the best pool is refused', async (t) => {
  const h = harness([pool({ pool: 'a', freeCapacityGiB: 900 }), pool({ pool: 'b', freeCapacityGiB: 500 })]);
  // Another scheduler took pool a after its last heartbeat.
  h.capacity.allocated.set('host1@a', 995);
  t.is(await h.core.createVolume(createCmd()), 'done');
  t.deepEqual(
    h.capacity.reserveCalls.map((c) => c.pool),
    ['host1@a', 'host1@b'],
  );
  t.deepEqual(
    h.emitted.map((e) => [e.kind, e.subject]),
    [
      ['volume.scheduled', 'flint.evt.scheduler.volume.vol-1'],
      ['agent.create_volume', 'flint.cmd.agent.host1.create_volume'],
    ],
  );
  t.like(h.emitted[0]?.payload, { pool: 'b' });
  t.like(h.emitted[1]?.payload, { pool: 'b' });
});

test('createVolume fails with NO_VALID_BACKEND naming every pool whose reservation was refused', async (t) => {
  const h = harness([pool({ pool: 'a', freeCapacityGiB: 900 }), pool({ host: 'host2', pool: 'b', freeCapacityGiB: 500 })]);
  h.capacity.allocated.set('host1@a', 1000);
  h.capacity.allocated.set('host2@b', 999);
  t.is(await h.core.createVolume(createCmd()), 'done');
  t.deepEqual(
    h.capacity.reserveCalls.map((c) => c.pool),
    ['host1@a', 'host2@b'],
  );
  const event = onlyOutcome(t, h.emitted, 'op-1:create.failed');
  t.like(event, { operationId: 'op-1', volumeId: 'vol-1', outcome: 'create.failed', error: { code: 'NO_VALID_BACKEND' } });
  const message = event.error?.message ?? '';
  t.true(message.includes('host1@a rejected by CapacityFilter'), message);
  t.true(message.includes('host2@b rejected by CapacityFilter'), message);
  t.true(message.includes('its capacity was just taken by other volumes'), message);
});

test('createVolume does not try pools excluded by a previous attempt', async (t) => {
  const h = harness([pool({ pool: 'a', freeCapacityGiB: 900 }), pool({ pool: 'b', freeCapacityGiB: 500 })]);
  const excluded = [{ pool: 'host1@a', reason: 'lvcreate: insufficient free extents' }];
  t.is(await h.core.createVolume(createCmd({ attempt: 2, excluded })), 'done');
  t.deepEqual(
    h.capacity.reserveCalls.map((c) => c.pool),
    ['host1@b'],
  );
  t.like(h.emitted[0], { kind: 'volume.scheduled', msgId: 'op-1:scheduled:2', payload: { pool: 'b', attempt: 2 } });
  t.like(h.emitted[1], { kind: 'agent.create_volume', payload: { pool: 'b', attempt: 2, excluded } });
});

test('createVolume quotes the earlier failure of an excluded pool when nothing else can take the volume', async (t) => {
  const h = harness([pool({ pool: 'a', freeCapacityGiB: 900 }), pool({ pool: 'b', freeCapacityGiB: 5 })]);
  const excluded = [{ pool: 'host1@a', reason: 'lvcreate: insufficient free extents' }];
  t.is(await h.core.createVolume(createCmd({ attempt: 2, excluded })), 'done');
  t.deepEqual(h.capacity.reserveCalls, []);
  const event = onlyOutcome(t, h.emitted, 'op-1:create.failed');
  t.is(event.error?.code, 'NO_VALID_BACKEND');
  const message = event.error?.message ?? '';
  t.true(message.includes('host1@a rejected by RetryFilter (failed on a previous attempt: lvcreate: insufficient free extents)'), message);
  t.true(message.includes('host1@b rejected by CapacityFilter (needs 10 GiB, 5 GiB free)'), message);
});

test('createVolume fails with NO_VALID_BACKEND when no pool has reported at all', async (t) => {
  const h = harness([]);
  t.is(await h.core.createVolume(createCmd(), NOW), 'done');
  const event = onlyOutcome(t, h.emitted, 'op-1:create.failed');
  t.like(event, { operationId: 'op-1', volumeId: 'vol-1', outcome: 'create.failed', error: { code: 'NO_VALID_BACKEND' } });
  t.regex(event.error?.message ?? '', /no agent has reported a pool/);
});

test('createVolume asks to retry later, emitting nothing, while only stale pools stand in the way within the grace period', async (t) => {
  const h = harness([pool({ pool: 'a', updatedAt: LONG_AGO }), pool({ host: 'host2', pool: 'b', updatedAt: LONG_AGO })]);
  const publishedAt = new Date(NOW.getTime() - 10_000);
  const decision = await h.core.createVolume(createCmd(), publishedAt);
  t.true(typeof decision === 'object', `expected { retryAfterMs }, got ${JSON.stringify(decision)}`);
  if (typeof decision === 'object') {
    t.true(decision.retryAfterMs > 0 && decision.retryAfterMs <= STALE_AFTER_MS, `retryAfterMs ${decision.retryAfterMs}`);
  }
  t.deepEqual(h.emitted, []);
  t.deepEqual(h.capacity.reserveCalls, []);
});

test('createVolume fails the volume once the grace period for stale pools is over', async (t) => {
  const h = harness([pool({ pool: 'a', updatedAt: LONG_AGO })]);
  const publishedAt = new Date(NOW.getTime() - STALE_GRACE_MS - 1);
  t.is(await h.core.createVolume(createCmd(), publishedAt), 'done');
  const event = onlyOutcome(t, h.emitted, 'op-1:create.failed');
  t.is(event.error?.code, 'NO_VALID_BACKEND');
  const message = event.error?.message ?? '';
  t.true(message.includes('host1@a rejected by HeartbeatFilter'), message);
  t.true(message.includes(LONG_AGO), message);
});

test('createVolume counts the grace period from the command’s publication on the injected clock', async (t) => {
  const h = harness([pool({ pool: 'a', updatedAt: LONG_AGO })]);
  const publishedAt = NOW;
  t.not(await h.core.createVolume(createCmd(), publishedAt), 'done');
  h.clock.now = new Date(NOW.getTime() + STALE_GRACE_MS);
  t.is(await h.core.createVolume(createCmd(), publishedAt), 'done');
  t.is(h.emitted.length, 1);
  t.like(h.emitted[0]?.payload, { outcome: 'create.failed' });
});

test('createVolume places on a fresh pool even when a stale one would weigh better', async (t) => {
  const h = harness([pool({ pool: 'silent', freeCapacityGiB: 1000, updatedAt: LONG_AGO }), pool({ pool: 'alive', freeCapacityGiB: 100 })]);
  t.is(await h.core.createVolume(createCmd(), NOW), 'done');
  t.deepEqual(
    h.capacity.reserveCalls.map((c) => c.pool),
    ['host1@alive'],
  );
  t.like(h.emitted[0]?.payload, { pool: 'alive' });
});

test('createVolume fails at once, without waiting for the grace period, when no pool is stale', async (t) => {
  const h = harness([pool({ pool: 'a', availabilityZone: 'az1' })]);
  const decision = await h.core.createVolume(createCmd({ request: request({ availabilityZone: 'az9' }) }), NOW);
  t.is(decision, 'done');
  const event = onlyOutcome(t, h.emitted, 'op-1:create.failed');
  t.is(event.error?.code, 'NO_VALID_BACKEND');
  t.true((event.error?.message ?? '').includes('host1@a rejected by AvailabilityZoneFilter'), event.error?.message);
});

test('createVolume drops a create whose volume is no longer CREATING, reserving and emitting nothing', async (t) => {
  const h = harness([pool()], { deps: { stillCreating: async () => false } });
  t.is(await h.core.createVolume(createCmd(), NOW), 'done');
  t.deepEqual(h.emitted, []);
  t.deepEqual(h.capacity.reserveCalls, []);
});

// Found by the chaos suite: after a NATS node died, a create's ack was lost and the command came
// again; the scheduler placed it on another host too, which made a second image there.
test('createVolume sends a command that comes again to the pool it placed it on, with the same message ids, whatever the pools look like now', async (t) => {
  const pools = [pool({ host: 'host1', pool: 'a', freeCapacityGiB: 900 }), pool({ host: 'host2', pool: 'b', availabilityZone: 'az2', freeCapacityGiB: 100 })];
  const h = harness(pools);
  t.is(await h.core.createVolume(createCmd()), 'done');
  const first = h.emitted.splice(0);
  t.like(first[1]?.payload, { pool: 'a' });
  // Since then host2's pool has become the better one; the redelivery must not follow it.
  pools[1] = { ...pools[1]!, freeCapacityGiB: 5000, totalCapacityGiB: 5000 };
  t.is(await h.core.createVolume(createCmd()), 'done');
  t.deepEqual(h.emitted, first, 'the same two messages, to the same host');
  t.deepEqual(h.capacity.reserveCalls.map((c) => c.pool), ['host1@a'], 'nothing reserved a second time');
  t.is(h.capacity.allocated.get('host2@b'), undefined);
});

test('createVolume sends a redelivered command to its reserved pool even when that pool has stopped reporting', async (t) => {
  const h = harness([pool({ host: 'host2', pool: 'b', availabilityZone: 'az2' })]);
  h.capacity.reservations.set('vol-1', { pool: 'host1@a', sizeGiB: 10 });
  t.is(await h.core.createVolume(createCmd()), 'done');
  t.deepEqual(
    h.emitted.map((e) => [e.kind, e.subject, e.msgId]),
    [
      ['volume.scheduled', 'flint.evt.scheduler.volume.vol-1', 'op-1:scheduled:1'],
      ['agent.create_volume', 'flint.cmd.agent.host1.create_volume', 'op-1:agent.create:1'],
    ],
  );
  t.like(h.emitted[0]?.payload, { host: 'host1', pool: 'a' });
  t.deepEqual(h.capacity.reserveCalls, []);
});

// Two schedulers can take two copies of one create at the same instant: both read "no reservation
// yet", and before this fix the second's reservation moved the volume to the pool it had chosen.
test('createVolume sends a copy placed at the same moment as another to the pool the other reserved', async (t) => {
  const pools = [pool({ host: 'host1', pool: 'a', freeCapacityGiB: 100 }), pool({ host: 'host2', pool: 'b', availabilityZone: 'az2', freeCapacityGiB: 900 })];
  // The other copy's reservation committed after this copy looked for one.
  const h = harness(pools, { deps: { reservedPool: async () => null } });
  h.capacity.reservations.set('vol-1', { pool: 'host1@a', sizeGiB: 10 });
  h.capacity.allocated.set('host1@a', 10);
  t.is(await h.core.createVolume(createCmd()), 'done');
  t.deepEqual(
    h.emitted.map((e) => [e.kind, e.subject, e.msgId]),
    [
      ['volume.scheduled', 'flint.evt.scheduler.volume.vol-1', 'op-1:scheduled:1'],
      ['agent.create_volume', 'flint.cmd.agent.host1.create_volume', 'op-1:agent.create:1'],
    ],
  );
  t.like(h.emitted[0]?.payload, { host: 'host1', pool: 'a', availabilityZone: 'nova' });
  t.deepEqual(h.capacity.reservations.get('vol-1'), { pool: 'host1@a', sizeGiB: 10 }, 'the reservation did not move');
  t.is(h.capacity.allocated.get('host2@b'), undefined);
});

test('createVolume places a retry anew: the reservation it finds is on a pool a previous attempt failed on', async (t) => {
  const h = harness([pool({ host: 'host1', pool: 'a', freeCapacityGiB: 900 }), pool({ host: 'host2', pool: 'b', freeCapacityGiB: 100 })]);
  h.capacity.reservations.set('vol-1', { pool: 'host1@a', sizeGiB: 10 });
  t.is(await h.core.createVolume(createCmd({ attempt: 2, excluded: [{ pool: 'host1@a', reason: 'disk full' }] })), 'done');
  t.deepEqual(h.capacity.reserveCalls.map((c) => c.pool), ['host2@b']);
  t.is(h.emitted[1]?.subject, 'flint.cmd.agent.host2.create_volume');
  t.is(h.emitted[1]?.msgId, 'op-1:agent.create:2');
});

test('createVolume fails at once when the only stale pools could not take the volume anyway', async (t) => {
  const h = harness([pool({ pool: 'elsewhere', availabilityZone: 'az2', updatedAt: LONG_AGO })]);
  const decision = await h.core.createVolume(createCmd({ request: request({ availabilityZone: 'az1' }) }), NOW);
  t.is(decision, 'done');
  t.is(onlyOutcome(t, h.emitted, 'op-1:create.failed').error?.code, 'NO_VALID_BACKEND');
});

test('extendVolume checks a thick volume type against the thick limit of a pool that offers both', async (t) => {
  const both = pool({ thinProvisioningSupport: true, thickProvisioningSupport: true, maxOverSubscriptionRatio: 10, totalCapacityGiB: 1000, freeCapacityGiB: 1000, reservedPercentage: 0 });
  const h = harness([both]);
  h.capacity.reservations.set('vol-1', { pool: 'host1@fast', sizeGiB: 10 });
  await h.core.extendVolume(extendCmd({ volumeType: { name: 'thick', extraSpecs: { 'provisioning:type': 'thick' } } }));
  t.is(h.capacity.growCalls[0]?.limitGiB, 1000);
});

test('createVolume treats a pool whose heartbeat is exactly staleAfterMs old as alive', async (t) => {
  const h = harness([pool({ updatedAt: new Date(NOW.getTime() - STALE_AFTER_MS).toISOString() })]);
  t.is(await h.core.createVolume(createCmd(), NOW), 'done');
  t.is(h.capacity.reserveCalls.length, 1);
  t.is(h.emitted[0]?.kind, 'volume.scheduled');
});

// ---------------------------------------------------------------- extendVolume

test('extendVolume grows the reservation to the new size under the pool’s limit and sends agent.extend_volume to the volume’s host', async (t) => {
  const h = harness([pool({ pool: 'fast', freeCapacityGiB: 990, allocatedCapacityGiB: 10, reservedPercentage: 10 }), pool({ pool: 'other' })]);
  h.capacity.allocated.set('host1@fast', 10);
  h.capacity.reservations.set('vol-1', { pool: 'host1@fast', sizeGiB: 10 });
  await h.core.extendVolume(extendCmd({ oldSizeGiB: 10, newSizeGiB: 50 }));
  t.deepEqual(h.capacity.growCalls, [{ volumeId: 'vol-1', pool: 'host1@fast', sizeGiB: 50, limitGiB: 900 }]);
  t.deepEqual(h.emitted, [
    {
      subject: 'flint.cmd.agent.host1.extend_volume',
      kind: 'agent.extend_volume',
      payload: { operationId: 'op-2', volumeId: 'vol-1', pool: 'fast', newSizeGiB: 50 },
      msgId: 'op-2:agent.extend',
    },
  ]);
});

test('extendVolume drops an extend whose operation has ended, growing and sending nothing', async (t) => {
  const asked: string[] = [];
  const h = harness([pool({ host: 'host1', pool: 'fast' })], {
    deps: {
      operationOpen: async (id) => {
        asked.push(id);
        return false;
      },
    },
  });
  h.capacity.reservations.set('vol-1', { pool: 'host1@fast', sizeGiB: 10 });
  await h.core.extendVolume(extendCmd());
  t.deepEqual(asked, ['op-2']);
  t.deepEqual(h.capacity.growCalls, []);
  t.deepEqual(h.emitted, []);
  t.is(h.capacity.reservations.get('vol-1')?.sizeGiB, 10);
});

test('extendVolume rejects with NO_VALID_BACKEND, naming the growth in GiB, when the pool has no room for it', async (t) => {
  const h = harness([pool({ pool: 'fast', freeCapacityGiB: 50, allocatedCapacityGiB: 10 })]);
  h.capacity.reservations.set('vol-1', { pool: 'host1@fast', sizeGiB: 10 });
  await h.core.extendVolume(extendCmd({ oldSizeGiB: 10, newSizeGiB: 100 }));
  t.deepEqual(h.capacity.growCalls, []);
  const event = onlyOutcome(t, h.emitted, 'op-2:extend.rejected');
  t.like(event, { operationId: 'op-2', volumeId: 'vol-1', outcome: 'extend.rejected', error: { code: 'NO_VALID_BACKEND' } });
  const message = event.error?.message ?? '';
  t.true(message.includes('host1@fast'), message);
  t.true(message.includes('by 90 GiB to 100 GiB'), message);
  t.true(message.includes('needs 90 GiB, 50 GiB free'), message);
});

test('extendVolume rejects with NO_VALID_BACKEND when the reservation cannot grow though the heartbeat showed room', async (t) => {
  const h = harness([pool({ pool: 'fast', freeCapacityGiB: 990, allocatedCapacityGiB: 10 })]);
  // Others reserved the rest after the last heartbeat.
  h.capacity.allocated.set('host1@fast', 995);
  h.capacity.reservations.set('vol-1', { pool: 'host1@fast', sizeGiB: 10 });
  await h.core.extendVolume(extendCmd({ oldSizeGiB: 10, newSizeGiB: 20 }));
  t.is(h.capacity.growCalls.length, 1);
  const event = onlyOutcome(t, h.emitted, 'op-2:extend.rejected');
  t.is(event.error?.code, 'NO_VALID_BACKEND');
  const message = event.error?.message ?? '';
  t.true(message.includes('by 10 GiB to 20 GiB'), message);
  t.true(message.includes('already promised to other volumes'), message);
});

test('extendVolume rejects with SERVICE_UNAVAILABLE when the volume’s pool is unknown', async (t) => {
  const h = harness([pool({ pool: 'other' }), pool({ host: 'host2', pool: 'fast' })]);
  await h.core.extendVolume(extendCmd({ host: 'host1', pool: 'fast' }));
  t.deepEqual(h.capacity.growCalls, []);
  const event = onlyOutcome(t, h.emitted, 'op-2:extend.rejected');
  t.like(event, { outcome: 'extend.rejected', error: { code: 'SERVICE_UNAVAILABLE' } });
  t.true((event.error?.message ?? '').includes('host1@fast'), event.error?.message);
});

test('extendVolume rejects with SERVICE_UNAVAILABLE when the volume’s pool has stopped reporting', async (t) => {
  const h = harness([pool({ pool: 'fast', updatedAt: LONG_AGO })]);
  h.capacity.reservations.set('vol-1', { pool: 'host1@fast', sizeGiB: 10 });
  await h.core.extendVolume(extendCmd());
  t.deepEqual(h.capacity.growCalls, []);
  const event = onlyOutcome(t, h.emitted, 'op-2:extend.rejected');
  t.is(event.error?.code, 'SERVICE_UNAVAILABLE');
});

test('extendVolume treats a pool whose heartbeat time cannot be read as not reporting, as createVolume does', async (t) => {
  // place() counts an unparseable updatedAt as stale (HeartbeatFilter); extend must not trust it either.
  const bad = pool({ pool: 'fast', updatedAt: 'not a date' });
  const create = harness([bad]);
  await create.core.createVolume(createCmd(), new Date(NOW.getTime() - STALE_GRACE_MS - 1));
  t.like(create.emitted[0]?.payload, { outcome: 'create.failed' }, 'createVolume refuses the pool');

  const h = harness([bad]);
  h.capacity.reservations.set('vol-1', { pool: 'host1@fast', sizeGiB: 10 });
  await h.core.extendVolume(extendCmd());
  t.deepEqual(h.capacity.growCalls, [], 'grew the reservation on a pool with no readable heartbeat');
  t.like(h.emitted[0], { kind: 'volume.outcome', payload: { outcome: 'extend.rejected', error: { code: 'SERVICE_UNAVAILABLE' } } });
});
