/**
 * Found by the chaos suite: an agent killed with -9 while it took a backup left the qemu-nbd
 * that served the volume to its backup engine running, for ever (its pid file is in a temporary
 * directory the next agent never looks in). That qemu-nbd now dies with the process that
 * opened the image.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noProcessesLeft } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';
import { pollUntil } from '../helpers/wait.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

test('the qemu-nbd a backup reads through dies when its agent is killed with -9', async (t) => {
  const dir = await tempDir('flint-reader-');
  t.teardown(() => dir.cleanup());
  const image = join(dir.path, 'volume-x.qcow2');
  t.is(spawnSync('qemu-img', ['create', '-f', 'qcow2', image, '64M']).status, 0);
  // A stand-in for the agent: opens the image as the backup engine does, says qemu-nbd's pid, waits.
  const agent = spawn(process.execPath, [join(HERE, 'fixtures', 'open-image-and-wait.js'), image], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void agent.kill('SIGKILL'));
  let out = '';
  agent.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const pid = await pollUntil(() => (/qemu-nbd (\d+)/.exec(out) ? Number(/qemu-nbd (\d+)/.exec(out)![1]) : undefined), 20_000, () => `no qemu-nbd pid from the stand-in: ${out}`);
  t.true(alive(pid), 'qemu-nbd serves while its agent lives');
  t.true(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.endsWith('qemu-nbd'), 'the pid is qemu-nbd itself');
  agent.kill('SIGKILL');
  await pollUntil(() => (alive(pid) ? undefined : true), 10_000, () => `qemu-nbd ${pid} outlived its agent`);
  t.false(alive(pid));
});

test.after.always('no process is left behind', noProcessesLeft);
