import test from 'ava';
import { stackFileArgs } from '../../../src/cli/commands/stack-args.js';
import { importAssignments } from '../../../src/cli/commands/stack.js';
import { CliError } from '../../../src/cli/commands/exit-codes.js';

const argv = (...args: string[]) => ['node', 'flint', ...args];

test('-f after plan, apply or import names the stack file', (t) => {
  t.deepEqual(stackFileArgs(argv('plan', '-f', 's.yaml')), argv('plan', '--file', 's.yaml'));
  t.deepEqual(stackFileArgs(argv('--url', 'http://x', 'apply', '-fs.yaml', '--auto-approve')), argv('--url', 'http://x', 'apply', '--file=s.yaml', '--auto-approve'));
  t.deepEqual(stackFileArgs(argv('-o', 'json', 'import', '-f=s.yaml', 'db=1')), argv('-o', 'json', 'import', '--file=s.yaml', 'db=1'));
});

test('-f elsewhere stays the output format', (t) => {
  t.deepEqual(stackFileArgs(argv('volume', 'list', '-f', 'json')), argv('volume', 'list', '-f', 'json'));
  t.deepEqual(stackFileArgs(argv('volume', 'create', 'plan', '-f', 'value')), argv('volume', 'create', 'plan', '-f', 'value'));
  t.deepEqual(stackFileArgs(argv('-f', 'json', 'volume', 'show', 'apply')), argv('-f', 'json', 'volume', 'show', 'apply'));
});

test('import takes name=id pairs of volumes the stack file declares', (t) => {
  const stack = { stack: 'web', volumes: { db: { sizeGiB: 1 }, logs: { sizeGiB: 1 } } };
  t.deepEqual(importAssignments(stack, ['db=abc', 'logs=def']), [
    { name: 'db', id: 'abc' },
    { name: 'logs', id: 'def' },
  ]);
  for (const [args, message] of [
    [['db'], /Expected name=VOLUME_ID/],
    [['cache=abc'], /declares no volume "cache" \(it has: db, logs\)/],
    [['db=a', 'db=b'], /volume\.db is given twice/],
  ] as const) {
    const err = t.throws(() => importAssignments(stack, args), { instanceOf: CliError, message });
    t.is(err?.exitCode, 2);
  }
});
