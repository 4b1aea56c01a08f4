#!/usr/bin/env node
/**
 * Runs a test command and stops it when it stalls, instead of letting CI hang until its limit.
 *
 *   node scripts/test-watchdog.mjs [--stall-minutes N | --stall-seconds N] -- npm test
 *
 * The command's output passes through unchanged. When it prints nothing for the stall time
 * (default 5 minutes: ava reports every test, and its own timeout is 2 minutes without a
 * result), the watchdog prints the process tree under the command and the test files whose
 * workers are still running (each worker leaves `<pid>.json` in FLINT_TEST_PROGRESS_DIR,
 * see tests/helpers/worker-setup.ts), kills the tree and exits 124 with a message that says
 * so. Otherwise it exits with the command's own code. SIGINT and SIGTERM are passed on.
 * At the end it prints the slowest test files (each worker appends its wall time to
 * `timings.jsonl` in the same folder), so a suite that grows slower says where.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const EXIT_STALLED = 124;
const DEFAULT_STALL_MINUTES = 5;

function usage(message) {
  process.stderr.write(`test-watchdog: ${message}\nusage: node scripts/test-watchdog.mjs [--stall-minutes N | --stall-seconds N] -- COMMAND [ARGS…]\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
if (dash < 0 || dash === argv.length - 1) usage('no command given');
let stallMs = DEFAULT_STALL_MINUTES * 60_000;
for (let i = 0; i < dash; i += 2) {
  const value = Number(argv[i + 1]);
  if (!(value > 0)) usage(`${argv[i]} needs a positive number`);
  if (argv[i] === '--stall-minutes') stallMs = value * 60_000;
  else if (argv[i] === '--stall-seconds') stallMs = value * 1000;
  else usage(`unknown option ${argv[i]}`);
}
const [command, ...args] = argv.slice(dash + 1);

const progressDir = mkdtempSync(join(tmpdir(), 'flint-test-progress-'));
// Its own process group, so the whole tree can be signalled at once.
const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLINT_TEST_PROGRESS_DIR: progressDir } });
let lastOutput = Date.now();
child.stdout.on('data', (chunk) => {
  lastOutput = Date.now();
  process.stdout.write(chunk);
});
child.stderr.on('data', (chunk) => {
  lastOutput = Date.now();
  process.stderr.write(chunk);
});

/** Every process, from /proc: pid, parent, state, start (clock ticks since boot) and command line. */
function processes() {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() || stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out.push({ pid: Number(name), ppid: Number(rest[1]), state: rest[0], cmd });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** The tree under `root` as indented lines, and the pids in it. */
function tree(root) {
  const all = processes();
  const byParent = new Map();
  for (const p of all) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const lines = [];
  const pids = [];
  const walk = (p, depth) => {
    lines.push(`${'  '.repeat(depth)}${p.pid} [${p.state}] ${p.cmd.slice(0, 200)}`);
    pids.push(p.pid);
    for (const c of byParent.get(p.pid) ?? []) walk(c, depth + 1);
  };
  const top = all.find((p) => p.pid === root);
  if (top) walk(top, 0);
  return { lines, pids };
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runningFiles() {
  const out = [];
  for (const name of readdirSync(progressDir)) {
    if (!name.endsWith('.json')) continue;
    try {
      const m = JSON.parse(readFileSync(join(progressDir, name), 'utf8'));
      if (alive(m.pid)) out.push(`  ${m.file} (worker pid ${m.pid}, started ${m.started})`);
    } catch {
      // A marker being written or removed.
    }
  }
  return out;
}

let stalled = false;
const timer = setInterval(() => {
  const quietMs = Date.now() - lastOutput;
  if (stalled || quietMs < stallMs) return;
  stalled = true;
  const quiet = quietMs >= 60_000 ? `${(quietMs / 60_000).toFixed(1)} minutes` : `${Math.round(quietMs / 1000)} s`;
  const { lines, pids } = tree(child.pid);
  const files = runningFiles();
  process.stderr.write(
    [
      '',
      `test-watchdog: "${[command, ...args].join(' ')}" printed nothing for ${quiet}: the run is stuck.`,
      'Processes under it:',
      ...lines.map((l) => `  ${l}`),
      files.length ? 'Test files still running:' : 'No test file is running (the workers are gone).',
      ...files,
      'Stopping them.',
      '',
    ].join('\n'),
  );
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // Group gone.
  }
  setTimeout(() => {
    // Whatever ignored SIGTERM (tgtd does) or left the group.
    for (const pid of [...pids, ...tree(child.pid).pids]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
  }, 10_000).unref();
}, Math.min(15_000, Math.max(500, stallMs / 4)));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Gone.
    }
  });
}

const SLOWEST_SHOWN = 12;

/** The slowest test files of this run, from the workers' `timings.jsonl`. */
function slowestFiles() {
  let entries;
  try {
    entries = readFileSync(join(progressDir, 'timings.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
  const cwd = `${process.cwd()}/`;
  const total = entries.reduce((sum, e) => sum + e.ms, 0);
  return [
    `test-watchdog: ${entries.length} test files, ${(total / 1000).toFixed(0)} s of worker time; the slowest:`,
    ...entries
      .sort((a, b) => b.ms - a.ms)
      .slice(0, SLOWEST_SHOWN)
      .map((e) => `  ${(e.ms / 1000).toFixed(1).padStart(7)} s  ${e.file.startsWith(cwd) ? e.file.slice(cwd.length) : e.file}`),
  ];
}

child.once('close', (code, signal) => {
  clearInterval(timer);
  const slowest = slowestFiles();
  if (slowest.length) process.stderr.write(`${slowest.join('\n')}\n`);
  rmSync(progressDir, { recursive: true, force: true });
  if (stalled) {
    const limit = stallMs % 60_000 === 0 ? `${stallMs / 60_000} minutes` : `${stallMs / 1000} s`;
    process.stderr.write(`test-watchdog: stopped a stalled test run (no output for ${limit}); the process tree and the files still running are listed above.\n`);
    process.exit(EXIT_STALLED);
  }
  process.exit(code ?? (signal ? 128 : 1));
});
