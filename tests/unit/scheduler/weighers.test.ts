import test from 'ava';
import {
  AllocatedCapacityWeigher,
  CapacityWeigher,
  DEFAULT_WEIGHERS,
  normalize,
  type PoolState,
  type PoolWeigher,
  VolumeNumberWeigher,
  weighPools,
} from '../../../src/scheduler/placement/index.js';
import { pool, request, thinPool, typed } from './fixtures.js';

const normalizations: Array<[string, number[], number[]]> = [
  ['no weights normalise to none', [], []],
  ['equal weights all normalise to zero', [5, 5, 5], [0, 0, 0]],
  ['weights are scaled between the smallest (0) and the largest (1)', [0, 5, 10], [0, 0.5, 1]],
  ['negative weights are scaled the same way', [-10, 30, 10], [0, 1, 0.5]],
];
for (const [name, input, expected] of normalizations) {
  test(`normalize: ${name}`, (t) => {
    t.deepEqual(normalize(input), expected);
  });
}

const raw: Array<[string, PoolWeigher, PoolState, ReturnType<typeof request>, number]> = [
  ['CapacityWeigher scores a thick pool by free minus reserved', CapacityWeigher, pool({ freeCapacityGiB: 500, reservedPercentage: 10 }), request(), 400],
  [
    'CapacityWeigher scores a thin pool by total × ratio minus provisioned minus reserved',
    CapacityWeigher,
    thinPool({ provisionedCapacityGiB: 200, reservedPercentage: 10 }),
    request(),
    790,
  ],
  [
    'CapacityWeigher counts Flint reservations as provisioned when larger',
    CapacityWeigher,
    thinPool({ provisionedCapacityGiB: 200, allocatedCapacityGiB: 300, reservedPercentage: 10 }),
    request(),
    690,
  ],
  [
    'CapacityWeigher scores a thin pool by real free space for a thick volume type',
    CapacityWeigher,
    thinPool({ provisionedCapacityGiB: 200, reservedPercentage: 10 }),
    typed({ 'provisioning:type': 'thick' }),
    90,
  ],
  ['AllocatedCapacityWeigher scores the GiB Flint reserved', AllocatedCapacityWeigher, pool({ allocatedCapacityGiB: 321 }), request(), 321],
  ['VolumeNumberWeigher scores the number of volumes', VolumeNumberWeigher, pool({ volumeCount: 7 }), request(), 7],
];
for (const [name, weigher, p, req, expected] of raw) {
  test(name, (t) => {
    t.is(weigher.weigh(p, req), expected);
  });
}

const multipliers: Array<[PoolWeigher, number]> = [
  [CapacityWeigher, 1],
  [AllocatedCapacityWeigher, -1],
  [VolumeNumberWeigher, -1],
];
for (const [weigher, expected] of multipliers) {
  test(`${weigher.name} has Cinder's default multiplier ${expected}`, (t) => {
    t.is(weigher.defaultMultiplier, expected);
  });
}

test("DEFAULT_WEIGHERS is Cinder's default: the CapacityWeigher alone", (t) => {
  t.deepEqual(DEFAULT_WEIGHERS, [CapacityWeigher]);
});

const free = (...gib: number[]): PoolState[] => gib.map((freeCapacityGiB, i) => pool({ pool: `p${i}`, freeCapacityGiB }));

test('weighPools normalises each weigher across the pools before applying its multiplier', (t) => {
  t.deepEqual(weighPools(free(100, 300, 200), request(), [{ weigher: CapacityWeigher }]), [0, 1, 0.5]);
});

test('weighPools turns a negative default multiplier into a preference for the smallest score', (t) => {
  const pools = [0, 50, 100].map((allocatedCapacityGiB) => pool({ allocatedCapacityGiB }));
  t.deepEqual(weighPools(pools, request(), [{ weigher: AllocatedCapacityWeigher }]), [0, -0.5, -1]);
});

test('weighPools applies an explicit multiplier instead of the default', (t) => {
  t.deepEqual(weighPools(free(100, 300, 200), request(), [{ weigher: CapacityWeigher, multiplier: 2 }]), [0, 2, 1]);
});

test('weighPools sums the weighers, so units do not matter after normalisation', (t) => {
  const pools = [
    pool({ freeCapacityGiB: 100, volumeCount: 10 }),
    pool({ freeCapacityGiB: 300_000, volumeCount: 0 }),
    pool({ freeCapacityGiB: 200, volumeCount: 5 }),
  ];
  const weights = weighPools(pools, request(), [{ weigher: CapacityWeigher }, { weigher: VolumeNumberWeigher }]);
  t.deepEqual(weights, [-1, 1, -0.5 + 100 / 299_900]);
});

test('weighPools gives zero to every pool when a weigher scores them all the same', (t) => {
  t.deepEqual(weighPools(free(100, 100), request(), [{ weigher: CapacityWeigher, multiplier: 5 }]), [0, 0]);
});

test('weighPools gives zero to every pool without weighers', (t) => {
  t.deepEqual(weighPools(free(100, 300), request(), []), [0, 0]);
});
