import test from 'ava';
import type { PlacementRequest } from '../../../src/bus/contract/index.js';
import {
  AvailabilityZoneFilter,
  CapabilitiesFilter,
  CapacityFilter,
  DEFAULT_FILTERS,
  place,
  SameBackendFilter,
  type FilterResult,
  type PoolFilter,
  type PoolState,
} from '../../../src/scheduler/placement/index.js';
import { pool, request, thinPool, typed } from './fixtures.js';

type Row = [name: string, pool: PoolState, req: PlacementRequest, expected: FilterResult];

function table(filter: PoolFilter, rows: Row[]): void {
  for (const [name, p, req, expected] of rows) {
    test(`${filter.name}: ${name}`, (t) => {
      t.deepEqual(filter.filter(p, req), expected);
    });
  }
}

const PASS = { pass: true };
const fail = (reason: string): FilterResult => ({ pass: false, reason });

table(AvailabilityZoneFilter, [
  ['a request without a zone passes a pool in any zone', pool({ availabilityZone: 'az2' }), request(), PASS],
  ['a request passes a pool in its zone', pool({ availabilityZone: 'nova' }), request({ availabilityZone: 'nova' }), PASS],
  ['a request rejects a pool in another zone, naming both', pool({ availabilityZone: 'az2' }), request({ availabilityZone: 'nova' }), fail('in zone az2, not nova')],
]);

const size = (sizeGiB: number, spec?: Record<string, string>): PlacementRequest => (spec ? typed(spec, { sizeGiB }) : request({ sizeGiB }));
const THICK = { 'provisioning:type': 'thick' };

table(CapacityFilter, [
  // thick
  ['a thick volume that fills the free space exactly passes', pool({ freeCapacityGiB: 50 }), size(50), PASS],
  ['a thick volume one GiB larger than the free space is rejected', pool({ freeCapacityGiB: 49 }), size(50), fail('needs 50 GiB, 49 GiB free')],
  ['the reserved percentage is taken from the total, not the free space', pool({ freeCapacityGiB: 150, reservedPercentage: 10 }), size(50), PASS],
  [
    'a volume larger than the free space after the reserve is rejected',
    pool({ freeCapacityGiB: 150, reservedPercentage: 10 }),
    size(51),
    fail('needs 51 GiB, 50 GiB free after 10% reserved'),
  ],
  ['the reserve is floored (10% of 105 GiB is 10 GiB)', pool({ totalCapacityGiB: 105, freeCapacityGiB: 60, reservedPercentage: 10 }), size(50), PASS],
  [
    'the reason shows fractional free space',
    pool({ freeCapacityGiB: 112.3, reservedPercentage: 10 }),
    size(50),
    fail('needs 50 GiB, 12.3 GiB free after 10% reserved'),
  ],
  [
    'free space under the reserve is shown as zero',
    pool({ freeCapacityGiB: 20, reservedPercentage: 10 }),
    size(1),
    fail('needs 1 GiB, 0 GiB free after 10% reserved'),
  ],
  ['a pool reporting zero total capacity is rejected', pool({ totalCapacityGiB: 0, freeCapacityGiB: 0 }), size(1), fail('reports 0 GiB total capacity; its agent may not see its storage')],
  [
    'a pool without thin support ignores its over-subscription ratio',
    pool({ totalCapacityGiB: 100, freeCapacityGiB: 100, maxOverSubscriptionRatio: 10 }),
    size(150),
    fail('needs 150 GiB, 100 GiB free'),
  ],
  ['provisioning:type thick on a thin pool needs real free space', thinPool(), size(150, THICK), fail('needs 150 GiB, 100 GiB free')],
  // thin
  ['a thin volume larger than the free space passes under the ratio', thinPool(), size(150), PASS],
  ['a thin volume that brings provisioning exactly to the ratio passes', thinPool({ provisionedCapacityGiB: 950 }), size(50), PASS],
  [
    'a thin volume that exceeds the over-subscription ratio is rejected',
    thinPool({ provisionedCapacityGiB: 950 }),
    size(51),
    fail('needs 51 GiB thin, but 950 GiB is already provisioned of the 1000 GiB allowed (100 GiB × over-subscription 10)'),
  ],
  [
    'Flint reservations count as provisioned when the driver reports less',
    thinPool({ provisionedCapacityGiB: 0, allocatedCapacityGiB: 960 }),
    size(50),
    fail('needs 50 GiB thin, but 960 GiB is already provisioned of the 1000 GiB allowed (100 GiB × over-subscription 10)'),
  ],
  [
    'a thin volume larger than free space × ratio is rejected',
    thinPool({ freeCapacityGiB: 14, reservedPercentage: 10 }),
    size(50),
    fail('needs 50 GiB thin, 4 GiB free after 10% reserved (× over-subscription 10)'),
  ],
  ['a thin volume that fits free space × ratio exactly passes', thinPool({ freeCapacityGiB: 15, reservedPercentage: 10 }), size(50), PASS],
  [
    'a thin pool with a ratio below 1 is rejected as misconfigured',
    thinPool({ maxOverSubscriptionRatio: 0.5 }),
    size(1),
    fail('reports an invalid over-subscription ratio 0.5 (must be at least 1)'),
  ],
  // Flint's reservation bound
  [
    'a thick volume is rejected when Flint reservations would pass the limit',
    pool({ allocatedCapacityGiB: 960 }),
    size(50),
    fail('needs 50 GiB, but Flint has already reserved 960 GiB of the 1000 GiB it may allocate there'),
  ],
  ['a thick volume that fills the limit exactly passes', pool({ allocatedCapacityGiB: 960 }), size(40), PASS],
  [
    'a thin volume is rejected when Flint reservations would pass the limit net of the reserve',
    thinPool({ allocatedCapacityGiB: 950, reservedPercentage: 10 }),
    size(45),
    fail('needs 45 GiB, but Flint has already reserved 950 GiB of the 990 GiB it may allocate there'),
  ],
  ['a thin volume that fills the limit exactly passes', thinPool({ allocatedCapacityGiB: 950, reservedPercentage: 10 }), size(40), PASS],
]);

const caps = pool({ capabilities: { replication: true, tier: 'gold', iops: 5000 } });
const IS_TRUE = '<is> True';

table(CapabilitiesFilter, [
  ['a request without a volume type passes', pool(), request(), PASS],
  ['a volume type without extra specs passes', pool(), typed({}), PASS],
  ['an unscoped key matches a reported capability', caps, typed({ replication: IS_TRUE }), PASS],
  ['a capabilities: key matches a reported capability', caps, typed({ 'capabilities:replication': IS_TRUE }), PASS],
  ['a numeric spec matches a numeric capability', caps, typed({ iops: '>= 4000' }), PASS],
  [
    'an unscoped key the pool does not report rejects it',
    pool(),
    typed({ replication: IS_TRUE }),
    fail('volume type gold needs replication "<is> True"; the pool does not report replication'),
  ],
  [
    'a capabilities: key the pool does not report rejects it',
    pool(),
    typed({ 'capabilities:replication': IS_TRUE }),
    fail('volume type gold needs replication "<is> True"; the pool does not report replication'),
  ],
  [
    'a capability that does not match rejects the pool, showing its value',
    pool({ capabilities: { replication: false } }),
    typed({ replication: IS_TRUE }),
    fail('volume type gold needs replication "<is> True"; the pool has False'),
  ],
  ['a string capability is shown quoted', caps, typed({ tier: 'silver' }), fail('volume type gold needs tier "silver"; the pool has "gold"')],
  ['keys with another scope are ignored', pool(), typed({ 'provisioning:type': 'thin', 'qos:maxIOPS': '100', 'vendor:x': 'y' }), PASS],
  [
    'a nested capabilities: path is never reported by a flat pool',
    caps,
    typed({ 'capabilities:tier:name': 'gold' }),
    fail('volume type gold needs tier:name "gold"; the pool does not report tier:name'),
  ],
  [
    'the first failing spec is the one reported',
    caps,
    typed({ tier: 'gold', iops: '>= 9000', replication: '<is> False' }),
    fail('volume type gold needs iops ">= 9000"; the pool has 5000'),
  ],
  ['built-in thin_provisioning_support matches a thin pool', thinPool(), typed({ thin_provisioning_support: IS_TRUE }), PASS],
  [
    'built-in thin_provisioning_support rejects a thick-only pool',
    pool(),
    typed({ thin_provisioning_support: '<is> True' }),
    fail('volume type gold needs thin_provisioning_support "<is> True"; the pool has False'),
  ],
  ['built-in thick_provisioning_support matches a thick pool', pool(), typed({ 'capabilities:thick_provisioning_support': '<is> True' }), PASS],
  ['built-in driver matches the pool driver', pool(), typed({ driver: 'file' }), PASS],
  ['built-in driver rejects another driver', pool(), typed({ driver: 'lvm' }), fail('volume type gold needs driver "lvm"; the pool has "file"')],
  ['built-in image_format matches the pool format', thinPool(), typed({ image_format: '<or> qcow2 <or> raw' }), PASS],
  ['built-in pool matches the pool name', pool(), typed({ pool: 's== fast' }), PASS],
  ['built-in host matches the host name', pool(), typed({ host: 'host2' }), fail('volume type gold needs host "host2"; the pool has "host1"')],
  ['built-ins win over a reported capability of the same name', pool({ capabilities: { driver: 'lvm' } }), typed({ driver: 'file' }), PASS],
]);

const copyOf = (sameBackendAs: string, overrides: Partial<PlacementRequest> = {}): PlacementRequest => request({ sameBackendAs, ...overrides });
const OTHER = (want: string, id: string) =>
  fail(`the volume is a copy of a snapshot or volume on ${want}, and copies are made within the source's pool, not on ${id}`);

table(SameBackendFilter, [
  ['a request that is not a copy passes any pool', pool({ host: 'host9', pool: 'slow' }), request(), PASS],
  ['a copy passes the source\'s pool', pool({ host: 'host1', pool: 'fast' }), copyOf('host1@fast'), PASS],
  ['a copy rejects another pool on the source\'s host', pool({ host: 'host1', pool: 'slow' }), copyOf('host1@fast'), OTHER('host1@fast', 'host1@slow')],
  ['a copy rejects a pool of the same name on another host', pool({ host: 'host2', pool: 'fast' }), copyOf('host1@fast'), OTHER('host1@fast', 'host2@fast')],
  ['a copy rejects a pool whose id only starts like the source\'s', pool({ host: 'host1', pool: 'fast2' }), copyOf('host1@fast'), OTHER('host1@fast', 'host1@fast2')],
  ['a copy on a pool with a zone and type still needs the source\'s pool', thinPool({ host: 'host2' }), copyOf('host1@fast', { availabilityZone: 'nova' }), OTHER('host1@fast', 'host2@fast')],
]);

test('place() sends a copy only to the source\'s pool and says why the others were refused', (t) => {
  const pools = [pool({ host: 'host1', pool: 'fast' }), pool({ host: 'host2', pool: 'fast', freeCapacityGiB: 5000, totalCapacityGiB: 5000 }), pool({ host: 'host1', pool: 'slow' })];
  const r = place(copyOf('host1@fast'), pools);
  t.deepEqual(r.candidates.map((c) => `${c.pool.host}@${c.pool.pool}`), ['host1@fast']);
  t.deepEqual(r.rejections.map((x) => [x.pool, x.filter]), [['host1@slow', 'SameBackendFilter'], ['host2@fast', 'SameBackendFilter']]);
});

test('place() still applies the capacity check to the source\'s pool', (t) => {
  const r = place(copyOf('host1@fast', { sizeGiB: 50 }), [pool({ host: 'host1', pool: 'fast', freeCapacityGiB: 10 })]);
  t.deepEqual(r.candidates, []);
  t.like(r.rejections[0], { pool: 'host1@fast', filter: 'CapacityFilter' });
});

test('DEFAULT_FILTERS are the same-backend, backup-repository, zone, capacity and capabilities filters, in that order', (t) => {
  t.deepEqual(
    DEFAULT_FILTERS.map((f) => f.name),
    ['SameBackendFilter', 'BackupRepositoryFilter', 'AvailabilityZoneFilter', 'CapacityFilter', 'CapabilitiesFilter'],
  );
});
