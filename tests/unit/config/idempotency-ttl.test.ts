/** FLINT_IDEMPOTENCY_TTL_SECONDS: how long a create's idempotencyKey answers; one day by default, from the environment or the config file. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError, DEFAULT_IDEMPOTENCY_TTL_SECONDS, ENV, loadConfig } from '../../../src/config/config.js';

test('defaults to one day and is documented', (t) => {
  t.is(DEFAULT_IDEMPOTENCY_TTL_SECONDS, 86_400);
  t.is(loadConfig({}, '/srv').idempotencyTtlSeconds, 86_400);
  t.is(loadConfig({ FLINT_IDEMPOTENCY_TTL_SECONDS: '' }, '/srv').idempotencyTtlSeconds, 86_400);
  t.regex(ENV.FLINT_IDEMPOTENCY_TTL_SECONDS, /default 86400/);
});

test('read from the config file, the environment wins', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'flint-cfg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'flint.json'), JSON.stringify({ idempotencyTtlSeconds: 3600 }));
  t.is(loadConfig({ FLINT_CONFIG_FILE: 'flint.json' }, dir).idempotencyTtlSeconds, 3600);
  t.is(loadConfig({ FLINT_CONFIG_FILE: 'flint.json', FLINT_IDEMPOTENCY_TTL_SECONDS: '5' }, dir).idempotencyTtlSeconds, 5);
});

test('rejects what is not a whole number of seconds from 1 to a year', (t) => {
  for (const bad of ['0', '-5', '1.5', 'forever', String(365 * 24 * 3600 + 1)]) {
    const err = t.throws(() => loadConfig({ FLINT_IDEMPOTENCY_TTL_SECONDS: bad }, '/srv'), { instanceOf: ConfigError });
    t.regex(err!.message, /FLINT_IDEMPOTENCY_TTL_SECONDS: must be an integer from 1 to 31536000/);
  }
});
