/**
 * The test suite's own rules, checked on its sources so that a new test file cannot forget
 * them: a file that starts processes (itself or through the local helpers and suites it
 * imports) ends with the leftover-process check, so a leak fails that file instead of hanging
 * the whole run (issue 18).
 */
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultsIn, portsIn } from '../helpers/processes.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const TESTS = join(ROOT, 'tests');

/** What starts a process, directly or through Flint's roles, targets and drivers. */
const STARTS_PROCESSES =
  /\b(spawn|spawnSync|execFile|execFileSync|exec|startAgent|startCluster|withNats|startNatsServer|serveNbd|serveQcow2Nbd|createTargets|startTgtd|startFuseExport|startGateway|createDriver|FileDriver|runFlint|launchBrowser|chromium)\b/;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** The local (tests/) modules a source imports, resolved to their .ts paths. */
function localImports(file: string, source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/from\s+'(\.{1,2}\/[^']+)\.js'/g)) {
    const path = resolve(dirname(file), `${m[1]}.ts`);
    if (path.startsWith(TESTS)) out.push(path);
  }
  return out;
}

function startsProcesses(file: string, seen = new Set<string>()): boolean {
  if (seen.has(file)) return false;
  seen.add(file);
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  // The hygiene helpers themselves only look at processes.
  if (file.endsWith('/helpers/processes.ts') || file.endsWith('/helpers/worker-setup.ts')) return false;
  return STARTS_PROCESSES.test(source) || localImports(file, source).some((f) => startsProcesses(f, seen));
}

test('every test file that starts processes ends with the leftover-process check', (t) => {
  const files = walk(TESTS).filter((f) => f.endsWith('.test.ts'));
  const starting = files.filter((f) => startsProcesses(f));
  // The check works only if it finds the files that start processes at all.
  t.true(starting.length >= 40, `only ${starting.length} test files seem to start processes; the pattern is broken`);
  const missing = starting.filter((f) => !/test\.after\.always\([^)]*noProcessesLeft\)/.test(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f));
  t.deepEqual(missing, [], `add \`test.after.always('no process is left behind', noProcessesLeft);\` (tests/helpers/processes.ts) at the end of:\n${missing.join('\n')}`);
});

test('the ports a daemon was given are read from its arguments, so one on a default port is caught', (t) => {
  t.deepEqual(portsIn(['-f', '-C', '4260', '--iscsi', 'portal=127.0.0.1:3260']), [3260]);
  // tgtd's -C names a unix socket: a free iSCSI port 39859 derives 10859, which is not an NBD port.
  t.deepEqual(portsIn(['-f', '-C', '10859', '--iscsi', 'portal=127.0.0.1:39859']), [39859]);
  t.deepEqual(portsIn(['--iscsi', 'portal=[::1]:3261']), [3261]);
  t.deepEqual(portsIn(['--bind', '127.0.0.1', '--port', '10809', '/img']), [10809]);
  t.deepEqual(portsIn(['--nbd-server', '{"addr":{"type":"inet","host":"127.0.0.1","port":"41234"}}']), [41234]);
  t.deepEqual(portsIn(['-a', '127.0.0.1', '-p', '4222']), [4222]);
});

test('a daemon on a default port or on the default tgtd control socket is caught, one on free ports is not', (t) => {
  t.deepEqual(defaultsIn(['-f', '-C', '4260', '--iscsi', 'portal=127.0.0.1:3260']), ['port 3260', 'tgtd control socket 4260']);
  t.deepEqual(defaultsIn(['-f', '-C', '4260', '--iscsi', 'portal=127.0.0.1:40001']), ['tgtd control socket 4260']);
  t.deepEqual(defaultsIn(['-f', '-C', '10859', '--iscsi', 'portal=127.0.0.1:39859']), []);
  t.deepEqual(defaultsIn(['--bind', '127.0.0.1', '--port', '10809', '/img']), ['port 10809']);
});
