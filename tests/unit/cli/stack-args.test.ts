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

test('import takes [kind.]name=id pairs of volumes and snapshots the stack file declares', (t) => {
  const stack = { stack: 'web', volumes: { db: { sizeGiB: 1 }, logs: { sizeGiB: 1 } }, snapshots: { base: { volume: 'db' } } };
  t.deepEqual(importAssignments(stack, ['db=abc', 'volume.logs=def', 'snapshot.base=ghi']), [
    { kind: 'volume', name: 'db', id: 'abc' },
    { kind: 'volume', name: 'logs', id: 'def' },
    { kind: 'snapshot', name: 'base', id: 'ghi' },
  ]);
  for (const [args, message] of [
    [['db'], /Expected \[volume\.\|snapshot\.\]name=ID/],
    [['cache=abc'], /declares no volume "cache" \(it has: db, logs\)/],
    [['snapshot.db=abc'], /declares no snapshot "db" \(it has: base\)/],
    [['db=a', 'volume.db=b'], /volume\.db is given twice/],
  ] as const) {
    const err = t.throws(() => importAssignments(stack, args), { instanceOf: CliError, message });
    t.is(err?.exitCode, 2);
  }
});
