/**
 * The leftover-process check itself: a test file that leaks a child and starts a daemon on a
 * default port (tests/fixtures/leaky.fixture.ts) makes ava fail naming both, and the run
 * ends instead of hanging on the child.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { leftoverProcesses, noProcessesLeft } from '../helpers/processes.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

test('a file that leaves a child running fails with its command line and ends instead of hanging', async (t) => {
  t.timeout(100_000);
  const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '--config', 'tests/fixtures/leaky.ava.config.mjs'], {
    cwd: ROOT,
    env: { ...process.env, FLINT_TEST_LEFTOVER_WAIT_MS: '1000', FLINT_TEST_PROGRESS_DIR: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const code = await new Promise<number | null>((done) => child.once('close', done));
  clearTimeout(timer);
  t.not(code, null, `ava hung and was killed:\n${out}`);
  t.not(code, 0, out);
  t.regex(out, /left running \(killed now\): pid \d+ \(parent \d+\): sleep 600/);
  t.regex(out, /started on a default port \(take a free one\): sleep 600 --port 10809/);
  t.regex(out, /1 hook failed/);
  t.deepEqual((await leftoverProcesses()).filter((p) => p.command.startsWith('sleep 600')), [], 'the leaked child was killed');
});

test.after.always('no process is left behind', noProcessesLeft);
