import test, { type ExecutionContext } from 'ava';
import { collectColumn } from '../../../src/cli/commands/context.js';
import { CliError } from '../../../src/cli/commands/exit-codes.js';
import { checkSetOptions } from '../../../src/cli/commands/volume.js';
import { checkDeleteOptions, DEFAULT_REASON, deleteReportTable } from '../../../src/cli/commands/volume-admin.js';
import { createSource } from '../../../src/cli/commands/volume-create.js';

/** `fn` is refused before any request: a CliError BAD_USER_INPUT (exit 2) whose message matches. */
function refused(t: ExecutionContext, fn: () => unknown, message: RegExp): void {
  const err = t.throws(fn, { instanceOf: CliError, message });
  t.is(err?.code, 'BAD_USER_INPUT');
  t.is(err?.exitCode, 2);
}

test('create: a blank volume needs --size, a source does not', (t) => {
  t.deepEqual(createSource({ size: 5 }), { kind: 'blank' });
  t.deepEqual(createSource({ snapshot: 'snap-1' }), { kind: 'snapshot', ref: 'snap-1' });
  t.deepEqual(createSource({ source: 'db', size: 40 }), { kind: 'source', ref: 'db' });
  t.deepEqual(createSource({ backup: 'b-1' }), { kind: 'backup', id: 'b-1' });
  const err = t.throws(() => createSource({}), { instanceOf: CliError });
  t.is(err?.code, 'BAD_USER_INPUT');
  t.is(err?.exitCode, 2);
  t.regex(err?.message ?? '', /--size is required for a blank volume/);
});

test('create: two sources are refused, naming both', (t) => {
  refused(t, () => createSource({ snapshot: 's', source: 'v', size: 1 }), /^--snapshot and --source are exclusive/);
  refused(t, () => createSource({ snapshot: 's', source: 'v', backup: 'b' }), /^--snapshot and --source and --backup are exclusive/);
  refused(t, () => createSource({ source: 'v', backup: 'b' }), /^--source and --backup are exclusive/);
});

test('create: a restore of a backup refuses what it cannot honour', (t) => {
  refused(t, () => createSource({ backup: 'b', size: 3, type: 'gold' }), /^--size, --type cannot be used with --backup/);
  refused(t, () => createSource({ backup: 'b', multiattach: true }), /^--multiattach cannot be used with --backup/);
});

test('delete: --expected-version is for one volume without --force; --reason only with --force', (t) => {
  t.notThrows(() => checkDeleteOptions(['a', 'b'], { waitTimeout: 1 }));
  t.notThrows(() => checkDeleteOptions(['a'], { waitTimeout: 1, expectedVersion: 3 }));
  t.notThrows(() => checkDeleteOptions(['a', 'b'], { waitTimeout: 1, force: true, reason: 'ticket 7' }));
  refused(t, () => checkDeleteOptions(['a', 'b'], { waitTimeout: 1, expectedVersion: 3 }), /applies to one volume/);
  refused(t, () => checkDeleteOptions(['a'], { waitTimeout: 1, expectedVersion: 3, force: true }), /cannot be used with --force/);
  refused(t, () => checkDeleteOptions(['a'], { waitTimeout: 1, reason: 'why' }), /--reason is recorded only by --force/);
  t.truthy(DEFAULT_REASON.length > 0 && DEFAULT_REASON.length <= 1024, 'the default reason fits the API\'s 1 to 1024 characters');
});

test('delete: the report of several volumes has one row per volume, failures with their code', (t) => {
  const text = deleteReportTable([
    { volume: 'a', id: 'id-a', status: 'DELETING', operation: 'op-a', error: null },
    { volume: 'b', id: null, status: null, operation: null, error: 'NOT_FOUND: No volume has the id or name "b".' },
  ]);
  t.regex(text, /^VOLUME\s+ID\s+STATUS\s+OPERATION\s+ERROR$/m);
  t.regex(text, /^a\s+id-a\s+DELETING\s+op-a\s+-$/m);
  t.regex(text, /^b\s+-\s+-\s+-\s+NOT_FOUND: No volume/m);
});

test('set: --state stands alone, --reason needs it, and something must change', (t) => {
  t.notThrows(() => checkSetOptions({ state: 'error' }));
  t.notThrows(() => checkSetOptions({ state: 'available', reason: 'checked the host' }));
  t.notThrows(() => checkSetOptions({ name: 'x', expectedVersion: 2 }));
  refused(t, () => checkSetOptions({ state: 'error', name: 'x' }), /--state is a reset of the status alone/);
  refused(t, () => checkSetOptions({ reason: 'why', name: 'x' }), /--reason is recorded only with --state/);
  refused(t, () => checkSetOptions({}), /Nothing to change/);
});

test('-c takes repeated and comma-separated column names', (t) => {
  t.deepEqual(collectColumn('id', undefined), ['id']);
  t.deepEqual(collectColumn('name, status', ['id']), ['id', 'name', 'status']);
});
