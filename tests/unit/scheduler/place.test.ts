import test from 'ava';
import {
  CapacityFilter,
  explainNoValidBackend,
  HEARTBEAT_FILTER,
  place,
  type PoolFilter,
  type Rejection,
  RETRY_FILTER,
  VolumeNumberWeigher,
} from '../../../src/scheduler/placement/index.js';
import { NOW, pool, request } from './fixtures.js';

const ids = (pools: Array<{ pool: { host: string; pool: string } }>): string[] => pools.map(({ pool: p }) => `${p.host}@${p.pool}`);

test('place ranks candidates best first by the default CapacityWeigher', (t) => {
  const pools = [pool({ pool: 'a', freeCapacityGiB: 100 }), pool({ pool: 'b', freeCapacityGiB: 300 }), pool({ pool: 'c', freeCapacityGiB: 200 })];
  const { candidates, rejections } = place(request(), pools);
  t.deepEqual(ids(candidates), ['host1@b', 'host1@c', 'host1@a']);
  t.deepEqual(
    candidates.map((c) => c.weight),
    [1, 0.5, 0],
  );
  t.deepEqual(rejections, []);
});

test('place breaks ties by pool id so every scheduler picks the same pool', (t) => {
  const pools = [pool({ host: 'host2', pool: 'a' }), pool({ host: 'host1', pool: 'b' }), pool({ host: 'host1', pool: 'a' })];
  t.deepEqual(ids(place(request(), pools).candidates), ['host1@a', 'host1@b', 'host2@a']);
});

test('place uses the given weighers and multipliers instead of the defaults', (t) => {
  const pools = [pool({ pool: 'busy', volumeCount: 9, freeCapacityGiB: 900 }), pool({ pool: 'idle', volumeCount: 1, freeCapacityGiB: 10 })];
  t.deepEqual(ids(place(request(), pools).candidates), ['host1@busy', 'host1@idle']);
  t.deepEqual(ids(place(request(), pools, { weighers: [{ weigher: VolumeNumberWeigher }] }).candidates), ['host1@idle', 'host1@busy']);
  t.deepEqual(ids(place(request(), pools, { weighers: [{ weigher: VolumeNumberWeigher, multiplier: 1 }] }).candidates), ['host1@busy', 'host1@idle']);
});

test('place normalises weights over the candidates only, not the rejected pools', (t) => {
  const pools = [pool({ pool: 'a', freeCapacityGiB: 100 }), pool({ pool: 'b', freeCapacityGiB: 200 }), pool({ pool: 'far', availabilityZone: 'az2' })];
  const { candidates } = place(request({ availabilityZone: 'nova' }), pools);
  t.deepEqual(
    candidates.map((c) => [c.pool.pool, c.weight]),
    [
      ['b', 1],
      ['a', 0],
    ],
  );
});

test('place reports each rejected pool with the first filter that refused it', (t) => {
  const pools = [pool({ pool: 'ok' }), pool({ pool: 'far', availabilityZone: 'az2', freeCapacityGiB: 0 }), pool({ pool: 'full', freeCapacityGiB: 5 })];
  const { candidates, rejections } = place(request({ availabilityZone: 'nova', sizeGiB: 10 }), pools);
  t.deepEqual(ids(candidates), ['host1@ok']);
  t.deepEqual(rejections, [
    { pool: 'host1@far', filter: 'AvailabilityZoneFilter', reason: 'in zone az2, not nova' },
    { pool: 'host1@full', filter: 'CapacityFilter', reason: 'needs 10 GiB, 5 GiB free' },
  ]);
});

test('place lists rejections in pool id order whatever the input order', (t) => {
  const pools = ['host3', 'host1', 'host2'].map((host) => pool({ host, freeCapacityGiB: 0 }));
  t.deepEqual(
    place(request(), pools).rejections.map((r) => r.pool),
    ['host1@fast', 'host2@fast', 'host3@fast'],
  );
});

test('place rejects excluded pools before any filter runs', (t) => {
  const pools = [pool({ pool: 'tried', freeCapacityGiB: 0 }), pool({ pool: 'fresh' })];
  const { candidates, rejections } = place(request(), pools, { exclude: ['host1@tried'] });
  t.deepEqual(ids(candidates), ['host1@fresh']);
  t.deepEqual(rejections, [{ pool: 'host1@tried', filter: RETRY_FILTER, reason: 'already tried for this volume and failed' }]);
});

const MINUTE = 60_000;
const staleness: Array<[string, string, boolean]> = [
  ['a pool heard from after staleBefore is a candidate', new Date(NOW.getTime() + MINUTE).toISOString(), true],
  ['a pool heard from exactly at staleBefore is a candidate', NOW.toISOString(), true],
  ['a pool last heard from before staleBefore is rejected', new Date(NOW.getTime() - MINUTE).toISOString(), false],
  ['a pool with an unreadable heartbeat time is rejected', 'yesterday', false],
];
for (const [name, updatedAt, candidate] of staleness) {
  test(`place: ${name}`, (t) => {
    const { candidates, rejections } = place(request(), [pool({ updatedAt })], { staleBefore: NOW });
    t.is(candidates.length, candidate ? 1 : 0);
    t.deepEqual(
      rejections,
      candidate
        ? []
        : [{ pool: 'host1@fast', filter: HEARTBEAT_FILTER, reason: `no heartbeat since ${updatedAt}; is \`flint agent\` running on host1?` }],
    );
  });
}

test('place ignores heartbeat age when no staleBefore is given', (t) => {
  t.is(place(request(), [pool({ updatedAt: '2000-01-01T00:00:00Z' })]).candidates.length, 1);
});

test('place runs the given filters instead of the defaults', (t) => {
  const nope: PoolFilter = { name: 'NopeFilter', filter: () => ({ pass: false, reason: 'nope' }) };
  const full = pool({ freeCapacityGiB: 0 });
  t.deepEqual(place(request(), [full], { filters: [] }).candidates.length, 1);
  t.deepEqual(place(request(), [pool()], { filters: [nope] }).rejections, [{ pool: 'host1@fast', filter: 'NopeFilter', reason: 'nope' }]);
  t.deepEqual(place(request(), [full], { filters: [CapacityFilter] }).rejections[0]?.filter, 'CapacityFilter');
});

test('place with no pools returns no candidates and no rejections', (t) => {
  t.deepEqual(place(request(), []), { candidates: [], rejections: [] });
});

test('explainNoValidBackend names the request, every pool with its filter and reason, and what to do', (t) => {
  const req = request({ sizeGiB: 5000, availabilityZone: 'nova' });
  const pools = [pool({ host: 'host2', pool: 'slow', availabilityZone: 'az2' }), pool({ host: 'host1', pool: 'fast', freeCapacityGiB: 1000 })];
  const { candidates, rejections } = place(req, pools);
  t.deepEqual(candidates, []);
  t.is(
    explainNoValidBackend(req, rejections),
    'No pool can hold a 5000 GiB volume in zone nova: ' +
      'host1@fast rejected by CapacityFilter (needs 5000 GiB, 1000 GiB free); ' +
      'host2@slow rejected by AvailabilityZoneFilter (in zone az2, not nova). ' +
      'Ask for a smaller size, another zone or volume type, or add capacity.',
  );
});

test('explainNoValidBackend names the volume type when there is one', (t) => {
  const req = request({ sizeGiB: 5, volumeType: { name: 'gold', extraSpecs: {} } });
  const rejections: Rejection[] = [{ pool: 'h@p', filter: 'F', reason: 'r' }];
  t.true(explainNoValidBackend(req, rejections).startsWith('No pool can hold a 5 GiB volume of type gold: h@p rejected by F (r).'));
});

test('explainNoValidBackend tells the user to start an agent when no pool was reported', (t) => {
  t.is(
    explainNoValidBackend(request({ sizeGiB: 5 }), []),
    'No pool can hold a 5 GiB volume: no agent has reported a pool yet. ' +
      'Start `flint agent` on a storage host (or `flint dev` on one machine) and try again.',
  );
});

const articles: Array<[number, string]> = [
  [5, 'a 5 GiB'],
  [8, 'an 8 GiB'],
  [11, 'an 11 GiB'],
  [18, 'an 18 GiB'],
  [80, 'an 80 GiB'],
  [110, 'a 110 GiB'],
  [800, 'an 800 GiB'],
  [1800, 'a 1800 GiB'],
  [18000, 'an 18000 GiB'],
];
for (const [sizeGiB, phrase] of articles) {
  test(`explainNoValidBackend says "${phrase} volume"`, (t) => {
    t.true(explainNoValidBackend(request({ sizeGiB }), []).startsWith(`No pool can hold ${phrase} volume:`));
  });
}
