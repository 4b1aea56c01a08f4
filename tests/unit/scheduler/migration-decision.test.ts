/** The pure decisions of migrate and retype (src/scheduler/migration-decision.ts), with table data. */
import test from 'ava';
import { checkMigrationTarget, decideRetype, ProvisioningFilter } from '../../../src/scheduler/index.js';
import { NOW, pool, request, thinPool, typed } from './fixtures.js';

const fresh = { staleBefore: new Date(NOW.getTime() - 15_000), force: false };
const A = { host: 'host1', pool: 'fast' };
const B = { host: 'host2', pool: 'bulk' };
const pools = [pool({ ...A, capabilities: { tier: 'gold' } }), pool({ ...B, capabilities: { tier: 'bronze' } })];

test('migrating to the pool the volume is on is BAD_USER_INPUT', (t) => {
  const r = checkMigrationTarget(request(), A, A, pools, fresh);
  t.deepEqual(r.ok ? null : r.code, 'BAD_USER_INPUT');
  t.regex(r.ok ? '' : r.message, /already on host1@fast/);
});

test('an unknown pool is BAD_USER_INPUT listing the known ones', (t) => {
  const r = checkMigrationTarget(request(), A, { host: 'x', pool: 'y' }, pools, fresh);
  t.false(r.ok);
  if (!r.ok) {
    t.is(r.code, 'BAD_USER_INPUT');
    t.true(r.message.includes('known pools: host1@fast, host2@bulk'), r.message);
  }
});

test('a silent pool is NO_VALID_BACKEND, force or not', (t) => {
  const stale = [pools[0]!, pool({ ...B, updatedAt: new Date(NOW.getTime() - 60_000).toISOString() })];
  for (const force of [false, true]) {
    const r = checkMigrationTarget(request(), A, B, stale, { ...fresh, force });
    t.false(r.ok);
    if (!r.ok) {
      t.is(r.code, 'NO_VALID_BACKEND');
      t.regex(r.message, /is DOWN \(HeartbeatFilter/);
    }
  }
});

test('the capabilities of the volume type refuse a pool unless forced, naming the filter', (t) => {
  const req = typed({ 'capabilities:tier': 'gold' });
  const r = checkMigrationTarget(req, A, B, pools, fresh);
  t.false(r.ok);
  if (!r.ok) {
    t.is(r.code, 'NO_VALID_BACKEND');
    t.regex(r.message, /rejected by CapabilitiesFilter \(volume type gold needs tier "gold"; the pool has "bronze"\)/);
  }
  const forced = checkMigrationTarget(req, A, B, pools, { ...fresh, force: true });
  t.true(forced.ok);
  if (forced.ok) t.is(forced.limitGiB, 1000);
});

test('a full destination is refused by the CapacityFilter', (t) => {
  const r = checkMigrationTarget(request({ sizeGiB: 10 }), A, B, [pools[0]!, pool({ ...B, freeCapacityGiB: 5 })], fresh);
  t.false(r.ok);
  if (!r.ok) t.regex(r.message, /CapacityFilter/);
});

test('the zone filter uses the volume\'s zone', (t) => {
  const r = checkMigrationTarget(request({ availabilityZone: 'nova' }), A, B, [pools[0]!, pool({ ...B, availabilityZone: 'other' })], fresh);
  t.false(r.ok);
  if (!r.ok) t.regex(r.message, /AvailabilityZoneFilter \(in zone other, not nova\)/);
});

const retypeOpts = { staleBefore: fresh.staleBefore, policy: 'on_demand' as const, snapshotCount: 0 };

test('retype is in place when the current pool satisfies the new type', (t) => {
  t.deepEqual(decideRetype(typed({ 'capabilities:tier': 'gold' }), A, pools, retypeOpts), { kind: 'in_place' });
});

test('the volume\'s own GiB are not counted twice when checking its pool in place', (t) => {
  // A full pool holding the volume itself: 1000 GiB allocated of which 10 are this volume's.
  const full = [pool({ ...A, capabilities: { tier: 'gold' }, allocatedCapacityGiB: 1000, provisionedCapacityGiB: 1000, freeCapacityGiB: 990 }), pools[1]!];
  t.deepEqual(decideRetype(typed({ 'capabilities:tier': 'gold' }, { sizeGiB: 10 }), A, full, retypeOpts), { kind: 'in_place' });
});

test('retype with ON_DEMAND migrates to the best pool that satisfies the type', (t) => {
  const d = decideRetype(typed({ 'capabilities:tier': 'bronze' }), A, pools, retypeOpts);
  t.is(d.kind, 'migrate');
  if (d.kind === 'migrate') t.like(d.pool, B);
});

test('retype with NEVER refuses, says which filter refused and where ON_DEMAND would go', (t) => {
  const d = decideRetype(typed({ 'capabilities:tier': 'bronze' }), A, pools, { ...retypeOpts, policy: 'never' });
  t.is(d.kind, 'refuse');
  if (d.kind === 'refuse') {
    t.is(d.code, 'NO_VALID_BACKEND');
    t.regex(d.message, /rejected by CapabilitiesFilter/);
    t.regex(d.message, /migrationPolicy is NEVER\. With migrationPolicy ON_DEMAND, Flint would migrate it to host2@bulk/);
  }
});

test('retype with NEVER and no pool satisfying the type says ON_DEMAND would not help', (t) => {
  const d = decideRetype(typed({ 'capabilities:tier': 'platinum' }), A, pools, { ...retypeOpts, policy: 'never' });
  t.is(d.kind === 'refuse' ? d.code : d.kind, 'NO_VALID_BACKEND');
  t.regex(d.kind === 'refuse' ? d.message : '', /No other pool satisfies it either/);
});

test('retype with ON_DEMAND and no pool satisfying the type is NO_VALID_BACKEND with every pool\'s reason', (t) => {
  const d = decideRetype(typed({ 'capabilities:tier': 'platinum' }), A, pools, retypeOpts);
  t.is(d.kind === 'refuse' ? d.code : d.kind, 'NO_VALID_BACKEND');
  t.regex(d.kind === 'refuse' ? d.message : '', /host2@bulk rejected by CapabilitiesFilter/);
});

test('a volume with snapshots that would have to migrate is INVALID_STATE', (t) => {
  const d = decideRetype(typed({ 'capabilities:tier': 'bronze' }), A, pools, { ...retypeOpts, snapshotCount: 2 });
  t.is(d.kind === 'refuse' ? d.code : d.kind, 'INVALID_STATE');
  t.regex(d.kind === 'refuse' ? d.message : '', /it has 2\) cannot migrate/);
});

test('a volume with snapshots is still retyped in place', (t) => {
  t.deepEqual(decideRetype(typed({ 'capabilities:tier': 'gold' }), A, pools, { ...retypeOpts, snapshotCount: 2 }), { kind: 'in_place' });
});

test('a silent current pool is SERVICE_UNAVAILABLE: nothing can be checked', (t) => {
  const stale = [pool({ ...A, updatedAt: new Date(NOW.getTime() - 60_000).toISOString() }), pools[1]!];
  const d = decideRetype(typed({ 'capabilities:tier': 'gold' }), A, stale, retypeOpts);
  t.is(d.kind === 'refuse' ? d.code : d.kind, 'SERVICE_UNAVAILABLE');
});

test('a thick type on a thin-only pool moves to a pool that makes thick volumes', (t) => {
  const mixed = [thinPool({ ...A }), pool({ ...B })];
  const d = decideRetype(typed({ 'provisioning:type': 'thick' }), A, mixed, retypeOpts);
  t.is(d.kind, 'migrate');
  const refused = decideRetype(typed({ 'provisioning:type': 'thick' }), A, mixed, { ...retypeOpts, policy: 'never' });
  t.regex(refused.kind === 'refuse' ? refused.message : '', /ProvisioningFilter \(volume type gold is thick, and the pool only makes thin volumes\)/);
});

test('the ProvisioningFilter passes types without provisioning:type and matching ones', (t) => {
  t.true(ProvisioningFilter.filter(thinPool(), request()).pass);
  t.true(ProvisioningFilter.filter(thinPool(), typed({ 'provisioning:type': 'thin' })).pass);
  t.false(ProvisioningFilter.filter(pool(), typed({ 'provisioning:type': 'thin' })).pass);
  t.true(ProvisioningFilter.filter(pool(), typed({ 'provisioning:type': 'thick' })).pass);
});
