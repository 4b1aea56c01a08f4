/** The pure part of the agent's start-up reconciliation (src/node-agent/reconcile.ts). */
import test from 'ava';
import { compareWithDisk, type DbVolume } from '../../../src/node-agent/reconcile.js';

const vol = (volumeId: string, status: DbVolume['status'], pool: string | null = 'p', version = 3): DbVolume => ({ volumeId, pool, status, version });

test('everything in place: nothing missing, no orphans', (t) => {
  const plan = compareWithDisk([vol('a', 'available'), vol('b', 'error_extending')], [{ pool: 'p', volumeIds: ['a', 'b'] }]);
  t.deepEqual(plan, { missing: [], orphans: [], checked: 2 });
});

test('an AVAILABLE or ERROR_EXTENDING volume without its image is missing, with the version the DB had', (t) => {
  const plan = compareWithDisk([vol('a', 'available', 'p', 7), vol('b', 'error_extending'), vol('c', 'available')], [{ pool: 'p', volumeIds: ['c'] }]);
  t.deepEqual(plan.missing, [
    { volumeId: 'a', pool: 'p', status: 'available', version: 7, poolConfigured: true },
    { volumeId: 'b', pool: 'p', status: 'error_extending', version: 3, poolConfigured: true },
  ]);
});

test('volumes in transitional or error states are not reported: a command may be on its way', (t) => {
  const plan = compareWithDisk(
    [vol('a', 'creating'), vol('b', 'deleting'), vol('c', 'extending'), vol('d', 'error'), vol('e', 'error_deleting'), vol('f', 'available', null)],
    [{ pool: 'p', volumeIds: [] }],
  );
  t.deepEqual(plan.missing, []);
});

test('an image on another pool than the DB says does not count; a pool the host lacks is reported as such', (t) => {
  const plan = compareWithDisk([vol('a', 'available', 'p'), vol('b', 'available', 'gone')], [{ pool: 'q', volumeIds: ['a'] }, { pool: 'p', volumeIds: [] }]);
  t.deepEqual(plan.missing.map((m) => [m.volumeId, m.poolConfigured]), [['a', true], ['b', false]]);
  t.deepEqual(plan.orphans, [{ pool: 'q', volumeId: 'a' }]);
});

test('images no DB volume claims are orphans; a volume being created (any state, or not yet on a pool) claims its image', (t) => {
  const plan = compareWithDisk(
    [vol('a', 'creating'), vol('b', 'error'), vol('c', 'creating', null)],
    [{ pool: 'p', volumeIds: ['a', 'b', 'c', 'x'] }, { pool: 'q', volumeIds: ['y'] }],
  );
  t.deepEqual(plan.orphans, [{ pool: 'p', volumeId: 'x' }, { pool: 'q', volumeId: 'y' }]);
  t.deepEqual(plan.missing, []);
});
