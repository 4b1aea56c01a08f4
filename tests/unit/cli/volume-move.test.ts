import test from 'ava';
import { InvalidArgumentError } from 'commander';
import { parseMigrationPolicy } from '../../../src/cli/commands/volume-move.js';

test('--migration-policy accepts never and on-demand in any spelling', (t) => {
  t.is(parseMigrationPolicy('never'), 'NEVER');
  t.is(parseMigrationPolicy('NEVER'), 'NEVER');
  t.is(parseMigrationPolicy('on-demand'), 'ON_DEMAND');
  t.is(parseMigrationPolicy('ON_DEMAND'), 'ON_DEMAND');
  t.throws(() => parseMigrationPolicy('sometimes'), { instanceOf: InvalidArgumentError, message: 'must be never or on-demand' });
});

