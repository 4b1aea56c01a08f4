/**
 * Loaded by ava into every test worker before its test file (package.json, `ava.require`).
 * It may not declare hooks (ava refuses hooks from a required module); it prepares what
 * `noProcessesLeft` and the CI watchdog read:
 * - marks the worker's children (`FLINT_TEST_WORKER`), so leftovers are found even after
 *   their parent was killed;
 * - records daemons started on a default port;
 * - with FLINT_TEST_PROGRESS_DIR set (by scripts/test-watchdog.mjs), leaves `<pid>.json`
 *   naming the test file while the worker lives, so a stalled run can say which files are
 *   still running, and on exit appends the file's wall time to `timings.jsonl`, from which
 *   the watchdog prints the slowest files at the end of the run.
 */
import test from 'ava';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MARKER, watchDaemonPorts } from './processes.js';

process.env[MARKER] = String(process.pid);
watchDaemonPorts();

const progressDir = process.env.FLINT_TEST_PROGRESS_DIR;
if (progressDir) {
  const marker = join(progressDir, `${process.pid}.json`);
  mkdirSync(progressDir, { recursive: true });
  const file = fileURLToPath(test.meta.file);
  const started = Date.now();
  writeFileSync(marker, JSON.stringify({ pid: process.pid, file, started: new Date(started).toISOString() }));
  process.once('exit', () => {
    rmSync(marker, { force: true });
    appendFileSync(join(progressDir, 'timings.jsonl'), `${JSON.stringify({ file, ms: Date.now() - started })}\n`);
  });
}
