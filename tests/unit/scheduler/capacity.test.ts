import test from 'ava';
import { capacityLimitGiB, formatGiB, isThin, provisionedGiB, reservedGiB } from '../../../src/scheduler/placement/index.js';
import { pool, request, thinPool, typed } from './fixtures.js';

const limits: Array<[string, Parameters<typeof pool>[0], boolean, number]> = [
  ['a thin limit is total × ratio minus the reserved GiB', { totalCapacityGiB: 100, maxOverSubscriptionRatio: 10, reservedPercentage: 10 }, true, 990],
  ['a thin limit floors total × ratio', { totalCapacityGiB: 10, maxOverSubscriptionRatio: 2.55, reservedPercentage: 0 }, true, 25],
  ['a thin limit does not lose a GiB to float noise (100 × 1.15)', { totalCapacityGiB: 100, maxOverSubscriptionRatio: 1.15 }, true, 115],
  ['a thick limit is total minus the reserved GiB', { totalCapacityGiB: 1000, maxOverSubscriptionRatio: 10, reservedPercentage: 10 }, false, 900],
  ['a thick limit floors a fractional total', { totalCapacityGiB: 100.5 }, false, 100],
  ['a thick limit does not lose a GiB to float noise (29% of 100)', { totalCapacityGiB: 100, reservedPercentage: 29 }, false, 71],
];
for (const [name, overrides, thin, expected] of limits) {
  test(`capacityLimitGiB: ${name}`, (t) => {
    t.is(capacityLimitGiB(pool(overrides), thin), expected);
  });
}

test('reservedGiB floors the reserved percentage of the total, as Cinder does', (t) => {
  t.is(reservedGiB(pool({ totalCapacityGiB: 105, reservedPercentage: 10 })), 10);
});

test('provisionedGiB takes the larger of the driver view and Flint reservations', (t) => {
  t.is(provisionedGiB(pool({ provisionedCapacityGiB: 30, allocatedCapacityGiB: 70 })), 70);
  t.is(provisionedGiB(pool({ provisionedCapacityGiB: 90, allocatedCapacityGiB: 70 })), 90);
});

const thinness: Array<[string, ReturnType<typeof pool>, ReturnType<typeof request>, boolean]> = [
  ['a volume without a type is thin on a thin pool', thinPool(), request(), true],
  ['provisioning:type thin is thin on a thin pool', thinPool(), typed({ 'provisioning:type': 'thin' }), true],
  ['provisioning:type thick is thick even on a thin pool', thinPool(), typed({ 'provisioning:type': 'thick' }), false],
  ['a volume on a pool without thin support is thick whatever its type says', pool(), typed({ 'provisioning:type': 'thin' }), false],
];
for (const [name, p, req, expected] of thinness) {
  test(`isThin: ${name}`, (t) => {
    t.is(isThin(p, req), expected);
  });
}

const formats: Array<[number, string]> = [
  [50, '50 GiB'],
  [12.3, '12.3 GiB'],
  [12.34, '12.3 GiB'],
  [49.96, '49.9 GiB'],
];
for (const [value, expected] of formats) {
  test(`formatGiB shows ${value} as "${expected}", never rounding free space up`, (t) => {
    t.is(formatGiB(value), expected);
  });
}
