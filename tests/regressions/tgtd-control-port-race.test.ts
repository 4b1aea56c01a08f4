/**
 * Issue 18: tgtds started at the same moment on the same first control port. A control port
 * answers for whichever tgtd holds it, so a tgtd that lost the port could be taken for the one
 * that won: its agent then drove (and at its stop deleted) the other agent's tgtd, and a tgtd
 * was left that nobody stopped. Each start must end up owning the tgtd it reports.
 */
import test from 'ava';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../src/net/free-port.js';
import { ProcessGroup } from '../../src/lifecycle/index.js';
import { holderIn, lockHolder, startTgtd, TGTD_RUN_DIR, type Tgtd } from '../../src/node-agent/targets/tgtd-process.js';
import { parsePortals } from '../../src/node-agent/targets/tgtadm.js';
import { leftoverProcesses, noProcessesLeft } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

test('tgtds started at once on one first control port each own the control port and portal they report', async (t) => {
  const processes = new ProcessGroup('tgtd race');
  t.teardown(() => processes.close());
  // tgtd takes control ports up to 32767 (its default pick is 1000 + portal port % 30000).
  const firstControlPort = 1000 + ((await freePort()) % 30_000);
  for (let round = 0; round < 4; round++) {
    const portals = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    const started: Tgtd[] = await Promise.all(portals.map((port) => startTgtd({ address: '127.0.0.1', port, processes, firstControlPort })));
    t.is(new Set(started.map((d) => d.controlPort)).size, started.length, 'each tgtd has a control port of its own');
    for (const [i, d] of started.entries()) {
      t.true(d.alive, `round ${round}: tgtd ${i} is alive`);
      t.is(await lockHolder(`${TGTD_RUN_DIR}/socket.${d.controlPort}.lock`), d.pid, `round ${round}: the control port of tgtd ${i} is held by that tgtd`);
      t.deepEqual(parsePortals(await d.adm(['--op', 'show', '--mode', 'portal'])), [`127.0.0.1:${portals[i]}`], `round ${round}: tgtd ${i} answers with its own portal`);
    }
    await Promise.all(started.map((d) => d.stop()));
    t.deepEqual((await leftoverProcesses()).filter((p) => p.command.startsWith('tgtd')), [], `round ${round}: every tgtd stopped`);
  }
});

test('a tgtd that loses its control port slowly is not taken for the one that holds it, whose socket stays', async (t) => {
  const processes = new ProcessGroup('slow loser');
  t.teardown(() => processes.close());
  const dir = await tempDir('flint-tgtd-loser-');
  t.teardown(dir.cleanup);
  const first = 1000 + ((await freePort()) % 30_000);
  const holder = await startTgtd({ address: '127.0.0.1', port: await freePort(), processes, firstControlPort: first });
  t.is(holder.controlPort, first);
  // On the taken port, this "tgtd" answers nothing for half a second, then exits as tgtd does
  // when it loses the lock; meanwhile the control port answers with the holder's state.
  const loser = join(dir.path, 'tgtd');
  await writeFile(
    loser,
    `#!/bin/bash\nif [ "$3" = "${first}" ]; then sleep 0.5; echo "(null): ipc_init(787) another tgtd is using ${TGTD_RUN_DIR}/socket.${first}.lock" >&2; exit 1; fi\nexec tgtd "$@"\n`,
    { mode: 0o755 },
  );
  const port = await freePort();
  const other = await startTgtd({ address: '127.0.0.1', port, processes, firstControlPort: first, binary: loser });
  t.not(other.controlPort, first, 'the second tgtd moved to another control port');
  t.deepEqual(parsePortals(await other.adm(['--op', 'show', '--mode', 'portal'])), [`127.0.0.1:${port}`]);
  await other.stop();
  t.true(await stat(`${TGTD_RUN_DIR}/socket.${first}`).then(() => true, () => false), "the holder's control socket is still there");
  t.deepEqual(parsePortals(await holder.adm(['--op', 'show', '--mode', 'portal'])).length, 1, 'and the holder still answers on it');
  await holder.stop();
  t.false(holder.alive);
});

test('the lock holder of a control port is read from /proc/locks, matching device and inode', (t) => {
  // dev 0xfe00 is major 0xfe, minor 0.
  const locks = ['1: POSIX  ADVISORY  WRITE 9418 fe:00:16638943 0 0', '2: -> POSIX  ADVISORY  WRITE 77 fe:00:16638943 0 0', '3: POSIX  ADVISORY  WRITE 3822 fe:01:16638943 0 EOF'].join('\n');
  t.is(holderIn(locks, 0xfe00, 16638943), 9418);
  t.is(holderIn(locks, 0xfe01, 16638943), 3822);
  t.is(holderIn(locks, 0xfe00, 1), undefined);
});

test.after.always('no process is left behind', noProcessesLeft);
