/** FLINT_OPERATION_TIMEOUT_SECONDS: optional, 900 by default, from the environment or the config file. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError, DEFAULT_OPERATION_TIMEOUT_SECONDS, ENV, loadConfig } from '../../../src/config/config.js';

test('defaults to 900 s and is documented', (t) => {
  t.is(DEFAULT_OPERATION_TIMEOUT_SECONDS, 900);
  t.is(loadConfig({}, '/srv').operationTimeoutSeconds, 900);
  t.is(loadConfig({ FLINT_OPERATION_TIMEOUT_SECONDS: '' }, '/srv').operationTimeoutSeconds, 900);
  t.regex(ENV.FLINT_OPERATION_TIMEOUT_SECONDS, /default 900/);
});

test('read from the environment', (t) => {
  t.is(loadConfig({ FLINT_OPERATION_TIMEOUT_SECONDS: '3' }, '/srv').operationTimeoutSeconds, 3);
});

test('read from the config file, the environment wins', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'flint-cfg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'flint.json'), JSON.stringify({ operationTimeoutSeconds: 60 }));
  t.is(loadConfig({ FLINT_CONFIG_FILE: 'flint.json' }, dir).operationTimeoutSeconds, 60);
  t.is(loadConfig({ FLINT_CONFIG_FILE: 'flint.json', FLINT_OPERATION_TIMEOUT_SECONDS: '120' }, dir).operationTimeoutSeconds, 120);
});

test('rejects what is not a whole number of seconds from 1 to a week', (t) => {
  for (const bad of ['0', '-5', '1.5', 'soon', String(7 * 24 * 3600 + 1)]) {
    const err = t.throws(() => loadConfig({ FLINT_OPERATION_TIMEOUT_SECONDS: bad }, '/srv'), { instanceOf: ConfigError });
    t.regex(err!.message, /FLINT_OPERATION_TIMEOUT_SECONDS: must be an integer from 1 to 604800/);
  }
});
