/** The API limits of `loadConfig` (src/config/api-limits.ts): defaults, environment, config file, and problems reported together. */
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { DEFAULT_API_MAX_COST, DEFAULT_API_RATE_PER_SECOND } from '../../../src/config/api-limits.js';
import { tempDir } from '../../helpers/tmp.js';

test('the limits are on by default, with the named defaults', (t) => {
  const c = loadConfig({}, '/srv').apiLimits;
  t.true(c.enabled);
  t.is(c.maxCost, DEFAULT_API_MAX_COST);
  t.is(c.ratePerSecond, DEFAULT_API_RATE_PER_SECOND);
  t.deepEqual(c.trustedProxies, []);
});

test('every limit is set from its environment variable', (t) => {
  const c = loadConfig(
    {
      FLINT_API_LIMITS: 'false',
      FLINT_API_MAX_TOKENS: '1000',
      FLINT_API_MAX_DEPTH: '6',
      FLINT_API_MAX_ALIASES: '5',
      FLINT_API_MAX_FIELDS: '200',
      FLINT_API_MAX_COST: '2000',
      FLINT_API_TIMEOUT_MS: '3000',
      FLINT_API_RATE_PER_SECOND: '7',
      FLINT_API_RATE_BURST: '9',
      FLINT_API_ANONYMOUS_RATE_PER_SECOND: '2',
      FLINT_API_ANONYMOUS_BURST: '4',
      FLINT_API_AUTH_FAILURES_PER_MINUTE: '3',
      FLINT_API_WS_MAX_SUBSCRIPTIONS: '8',
      FLINT_API_WS_MAX_CONNECTIONS_PER_TOKEN: '2',
      FLINT_API_WS_MAX_CONNECTIONS_PER_ADDRESS: '16',
      FLINT_API_TRUSTED_PROXIES: '10.0.0.5, fd00::1',
    },
    '/srv',
  ).apiLimits;
  t.deepEqual(c, {
    enabled: false,
    maxTokens: 1000,
    maxDepth: 6,
    maxAliases: 5,
    maxFields: 200,
    maxCost: 2000,
    timeoutMs: 3000,
    ratePerSecond: 7,
    rateBurst: 9,
    anonymousRatePerSecond: 2,
    anonymousBurst: 4,
    authFailuresPerMinute: 3,
    wsMaxSubscriptions: 8,
    wsMaxConnectionsPerToken: 2,
    wsMaxConnectionsPerAddress: 16,
    trustedProxies: ['10.0.0.5', 'fd00::1'],
  });
});

test('the config file sets the limits and the environment wins', async (t) => {
  const dir = await tempDir('flint-config-');
  t.teardown(dir.cleanup);
  const file = join(dir.path, 'flint.json');
  await writeFile(file, JSON.stringify({ apiMaxDepth: 7, apiRatePerSecond: 11, apiLimits: false }));
  const c = loadConfig({ FLINT_CONFIG_FILE: file, FLINT_API_RATE_PER_SECOND: '12' }, '/srv').apiLimits;
  t.is(c.maxDepth, 7);
  t.is(c.ratePerSecond, 12);
  t.false(c.enabled);
});

test('bad limits are reported together, each naming its variable', (t) => {
  const err = t.throws(
    () =>
      loadConfig(
        { FLINT_API_LIMITS: 'maybe', FLINT_API_MAX_DEPTH: '1', FLINT_API_RATE_PER_SECOND: '0', FLINT_API_TIMEOUT_MS: 'soon', FLINT_API_TRUSTED_PROXIES: 'proxy.example' },
        '/srv',
      ),
    { instanceOf: ConfigError },
  );
  const problems = err.problems.join('\n');
  for (const key of ['FLINT_API_LIMITS', 'FLINT_API_MAX_DEPTH', 'FLINT_API_RATE_PER_SECOND', 'FLINT_API_TIMEOUT_MS', 'FLINT_API_TRUSTED_PROXIES']) t.regex(problems, new RegExp(key));
});

test('the limits are frozen with the rest of the configuration', (t) => {
  const c = loadConfig({}, '/srv');
  t.true(Object.isFrozen(c.apiLimits));
  t.true(Object.isFrozen(c.apiLimits.trustedProxies));
});
