import test from 'ava';
import { FlintApiError, FlintWaitError } from '../../../src/client/index.js';
import { CliError, describeFailure, EXIT, exitCodeFor, formatFailure } from '../../../src/cli/commands/exit-codes.js';

const cases: Array<[string, number]> = [
  ['BAD_USER_INPUT', 2],
  ['USAGE', 2],
  ['UNAUTHENTICATED', 3],
  ['FORBIDDEN', 3],
  ['NOT_FOUND', 4],
  ['NETWORK', 5],
  ['INVALID_STATE', 1],
  ['CONFLICT', 1],
  ['QUOTA_EXCEEDED', 1],
  ['NO_VALID_BACKEND', 1],
  ['SERVICE_UNAVAILABLE', 1],
  ['INTERNAL', 1],
  ['SOMETHING_NEW', 1],
];
for (const [code, exit] of cases) test(`${code} exits ${exit}`, (t) => t.is(exitCodeFor(code), exit));

test('an API error prints its message and code and exits by its code', (t) => {
  const f = describeFailure(new FlintApiError([{ message: 'Volume x was not found.', extensions: { code: 'NOT_FOUND' } }]));
  t.deepEqual(f, { message: 'Volume x was not found.', code: 'NOT_FOUND', exitCode: EXIT.NOT_FOUND });
  t.is(formatFailure(f), 'flint: Volume x was not found. (NOT_FOUND)');
});

test('an unreachable gateway exits 5', (t) => {
  t.is(describeFailure(FlintApiError.network('Could not reach the Flint gateway at http://x: ECONNREFUSED.')).exitCode, 5);
});

test('a failed operation exits 1 whatever its error code', (t) => {
  const f = describeFailure(new CliError('NO_VALID_BACKEND', 'No pool can hold it.', EXIT.ERROR));
  t.is(f.exitCode, 1);
  t.is(formatFailure(f), 'flint: No pool can hold it. (NO_VALID_BACKEND)');
  t.is(new CliError('NOT_FOUND', 'gone').exitCode, 4, 'without an override the code decides');
});

test('a wait that times out exits 1 with TIMEOUT', (t) => {
  const f = describeFailure(new FlintWaitError('TIMEOUT', 'Volume v did not reach the awaited state.', undefined));
  t.deepEqual(f, { message: 'Volume v did not reach the awaited state.', code: 'TIMEOUT', exitCode: 1 });
});

test('an unexpected error prints without a code and exits 1', (t) => {
  const f = describeFailure(new TypeError('boom'));
  t.is(f.exitCode, 1);
  t.is(formatFailure(f), 'flint: boom');
  t.is(describeFailure('plain').message, 'plain');
});
