/** The daemons an owner starts (src/lifecycle): stopped with their own signal, killed when they ignore it, and none started once the owner stops. */
import test from 'ava';
import { observeDaemonSpawns, ProcessGroup, ProcessGroupClosedError, spawnDaemon } from '../../src/lifecycle/index.js';
import { noProcessesLeft } from '../helpers/processes.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('close() stops every member and resolves once all have exited; a later spawn is refused before any process exists', async (t) => {
  const group = new ProcessGroup('agent test-1');
  const a = group.spawn({ binary: 'sleep', args: ['300'] });
  const b = group.spawn({ binary: 'sleep', args: ['300'], stopSignal: 'SIGINT' });
  t.deepEqual(group.pids.sort(), [a.pid, b.pid].sort());
  await group.close();
  t.false(a.alive);
  t.false(b.alive);
  t.false(alive(a.pid));
  t.is(await a.exited, 'SIGTERM');
  t.is(await b.exited, 'SIGINT');
  const seen: string[] = [];
  const stop = observeDaemonSpawns((d) => seen.push(d.binary));
  t.teardown(stop);
  const err = t.throws(() => group.spawn({ binary: 'sleep', args: ['300'] }), { instanceOf: ProcessGroupClosedError });
  t.is(err.message, 'agent test-1 is stopping: sleep was not started');
  t.deepEqual(seen, []);
});

test('a member started while close() is under way is stopped by it too', async (t) => {
  const group = new ProcessGroup('racing');
  const first = group.spawn({ binary: 'sleep', args: ['300'] });
  const closing = group.close();
  t.throws(() => group.spawn({ binary: 'sleep', args: ['300'] }), { instanceOf: ProcessGroupClosedError });
  await closing;
  t.false(first.alive);
});

test('a daemon that ignores its stop signal is killed after the grace', async (t) => {
  // A process ignoring SIGTERM, as tgtd does.
  const d = spawnDaemon({ binary: process.execPath, args: ['-e', "process.on('SIGTERM', () => {}); process.stderr.write('ready'); setInterval(() => {}, 1000)"], killAfterMs: 300 });
  // Only once it ignores SIGTERM: a slow start (a loaded machine) would otherwise die of the SIGTERM itself.
  while (!d.stderr().includes('ready')) await new Promise((r) => setTimeout(r, 20));
  const started = Date.now();
  await d.stop();
  t.is(await d.exited, 'SIGKILL');
  t.true(Date.now() - started >= 250);
});

test('a missing binary is an exit with ENOENT, not a throw, and its stderr is kept up to the limit', async (t) => {
  const missing = spawnDaemon({ binary: 'flint-no-such-daemon', args: [] });
  t.regex(await missing.exited, /^error spawn flint-no-such-daemon ENOENT/);
  t.false(missing.alive);
  await missing.stop();
  const chatty = spawnDaemon({ binary: 'bash', args: ['-c', 'printf "%0100d" 0 >&2; exit 3'], stderrLimit: 10 });
  t.is(await chatty.exited, 'exit 3');
  t.is(chatty.stderr(), '0000000000');
});

test.after.always('no process is left behind', noProcessesLeft);
