import test from 'ava';
import { InvalidArgumentError } from 'commander';
import { parseMigrationPolicy } from '../../../src/cli/commands/volume-move.js';
import { isSettled } from '../../../src/cli/commands/wait.js';

test('--migration-policy accepts never and on-demand in any spelling', (t) => {
  t.is(parseMigrationPolicy('never'), 'NEVER');
  t.is(parseMigrationPolicy('NEVER'), 'NEVER');
  t.is(parseMigrationPolicy('on-demand'), 'ON_DEMAND');
  t.is(parseMigrationPolicy('ON_DEMAND'), 'ON_DEMAND');
  t.throws(() => parseMigrationPolicy('sometimes'), { instanceOf: InvalidArgumentError, message: 'must be never or on-demand' });
});

test('--wait of a migration ends when the volume leaves MAINTENANCE, of a retype when it leaves RETYPING', (t) => {
  t.false(isSettled('migrate', 'MAINTENANCE'));
  t.true(isSettled('migrate', 'AVAILABLE'));
  t.false(isSettled('retype', 'RETYPING'));
  t.true(isSettled('retype', 'AVAILABLE'));
});
