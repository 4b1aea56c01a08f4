/** `flint gateway` and `flint agent` with a named key file that is missing: a configuration error naming it, exit 2, nothing started. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft, processMarker } from '../helpers/processes.js';

const FLINT = join(resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..'), 'bin', 'flint.js');

for (const role of ['gateway', 'agent']) {
  test(`flint ${role} with a missing FLINT_SECRET_KEY_FILE says which file and exits 2`, async (t) => {
    const dir = await tempDir('flint-key-cli-');
    t.teardown(() => dir.cleanup());
    const file = join(dir.path, 'shared', 'secret.key');
    const r = spawnSync(process.execPath, [FLINT, role], {
      env: { PATH: process.env.PATH, ...processMarker(), FLINT_DATA_DIR: dir.path, FLINT_NATS_URL: 'nats://127.0.0.1:1', FLINT_NATS_INSECURE: 'true', FLINT_SECRET_KEY_FILE: file },
      encoding: 'utf8',
      timeout: 30_000,
    });
    t.is(r.status, 2, r.stderr);
    t.true(r.stderr.includes(`FLINT_SECRET_KEY_FILE ${file}: no such file`), r.stderr);
    t.regex(r.stderr, /Nothing was started/);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
