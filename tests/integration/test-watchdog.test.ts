/**
 * scripts/test-watchdog.mjs, which .ci/run puts around `npm test`: a run that stops printing
 * is stopped with the process tree and the test files still running, and exit code 124; a
 * run that ends on its own keeps its exit code and output.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { leftoverProcesses, noProcessesLeft } from '../helpers/processes.js';

const WATCHDOG = join(resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..'), 'scripts', 'test-watchdog.mjs');

function watch(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [WATCHDOG, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((done) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, out });
    }),
  );
}

test('a run that prints nothing for the stall time is stopped with its process tree, its running files and exit code 124', async (t) => {
  // A "worker" that registers its file the way tests/helpers/worker-setup.ts does, then hangs.
  const script = 'echo started; echo "{\\"pid\\":$$,\\"file\\":\\"/suite/stuck.test.js\\",\\"started\\":\\"x\\"}" > "$FLINT_TEST_PROGRESS_DIR/$$.json"; sleep 613; echo woke';
  const r = await watch(['--stall-seconds', '2', '--', 'bash', '-c', script]);
  t.is(r.code, 124, r.out);
  t.regex(r.out, /^started$/m, 'the output passes through');
  t.regex(r.out, /printed nothing for \d+ s: the run is stuck/);
  t.regex(r.out, /Processes under it:\n\s+\d+ \[S\] bash -c .*\n\s+\d+ \[S\] sleep 613/);
  t.regex(r.out, /Test files still running:\n\s+\/suite\/stuck\.test\.js \(worker pid \d+/);
  t.regex(r.out, /stopped a stalled test run \(no output for 2 s\)/);
  t.deepEqual((await leftoverProcesses()).filter((p) => p.command.includes('613')), [], 'the stuck tree was killed');
});

test('a run that ends on its own keeps its exit code and output', async (t) => {
  const r = await watch(['--stall-seconds', '30', '--', 'bash', '-c', 'echo "3 passed, 1 failed"; exit 3']);
  t.is(r.code, 3);
  t.is(r.out, '3 passed, 1 failed\n');
});

test('at the end it lists the slowest test files from the workers\' timings, slowest first', async (t) => {
  // Two "workers" record their wall time the way tests/helpers/worker-setup.ts does on exit.
  const script = [
    'echo \'{"file":"/suite/quick.test.js","ms":1200}\' >> "$FLINT_TEST_PROGRESS_DIR/timings.jsonl"',
    'echo \'{"file":"/suite/slow.test.js","ms":95400}\' >> "$FLINT_TEST_PROGRESS_DIR/timings.jsonl"',
    'echo "2 passed"',
  ].join('; ');
  const r = await watch(['--stall-seconds', '30', '--', 'bash', '-c', script]);
  t.is(r.code, 0, r.out);
  t.regex(r.out, /2 test files, 97 s of worker time; the slowest:\n\s+95\.4 s {2}\/suite\/slow\.test\.js\n\s+1\.2 s {2}\/suite\/quick\.test\.js\n/);
});

test('a call without a command is a usage error', async (t) => {
  const r = await watch(['--stall-minutes', '5']);
  t.is(r.code, 2);
  t.regex(r.out, /usage: node scripts\/test-watchdog\.mjs/);
});

test.after.always('no process is left behind', noProcessesLeft);
