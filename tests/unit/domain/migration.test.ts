/** Migration rules (src/domain/migration.ts) and the agent's deadline check. */
import test from 'ava';
import { MIGRATION_STATUSES, MIGRATION_STEPS, migrationFailureMessage, migrationStepFrom, toApiMigrationStatus } from '../../../src/domain/migration.js';
import { exportName, pastDeadline } from '../../../src/node-agent/migration.js';

test('migration statuses are starting, copying, success and error', (t) => {
  t.deepEqual([...MIGRATION_STATUSES], ['starting', 'copying', 'success', 'error']);
  t.is(toApiMigrationStatus('copying'), 'COPYING');
  t.is(toApiMigrationStatus(null), null);
});

test('each step starts only from the statuses before it', (t) => {
  t.deepEqual([...migrationStepFrom('exporting')], ['starting']);
  t.deepEqual([...migrationStepFrom('copied')], ['copying']);
  t.deepEqual([...migrationStepFrom('failed')], ['starting', 'copying']);
  t.deepEqual(Object.keys(MIGRATION_STEPS).sort(), ['copied', 'exporting', 'failed']);
});

const base = { volumeId: 'v1', from: { host: 'a', pool: 'p' }, to: { host: 'b', pool: 'q' }, reason: 'disk full' };

test('the failure message says what failed, where, why, that the volume is unchanged, and what to do', (t) => {
  const m = migrationFailureMessage({ ...base, stage: 'import' });
  t.is(
    m,
    'Migrating volume v1 from a@p to b@q failed while the destination copied the image: disk full. The volume is AVAILABLE on its old pool with its data unchanged, ' +
      'and nothing was left on the destination. Check the destination pool (free space, directory, agent log) and migrate again, or choose another pool.',
  );
  t.regex(migrationFailureMessage({ ...base, stage: 'export' }), /while the source exported the image: disk full\..*source agent's log/);
  t.regex(migrationFailureMessage({ ...base, stage: 'deadline' }), /because no agent finished it in time: disk full\..*flint service list/);
});

test('a retype\'s failed migration says it was for the retype', (t) => {
  t.regex(migrationFailureMessage({ ...base, stage: 'import', retype: 'gold' }), /^Retyping volume v1 to type gold needed a migration from a@p to b@q, which failed while/);
});

test('an agent refuses a migration command past its deadline, not before', (t) => {
  const at = '2026-01-01T00:00:00.000Z';
  t.false(pastDeadline(at, new Date('2025-12-31T23:59:59Z')));
  t.false(pastDeadline(at, new Date(at)));
  t.true(pastDeadline(at, new Date('2026-01-01T00:00:01Z')));
  t.false(pastDeadline('not a date', new Date()), 'an unreadable deadline does not refuse');
});

test('the NBD export name is derived from the volume id', (t) => {
  t.is(exportName('abc'), 'migrate-abc');
});
