import test from 'ava';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { loadMetricsToken, metricsAuthorized, metricsTokenProblems } from '../../../src/metrics/metrics-token.js';
import { tempDir } from '../../helpers/tmp.js';

const TOKEN = 'm3tr1cs-t0ken-0123456789';
const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } });

test('without a metrics token every request may read /metrics', (t) => {
  t.true(metricsAuthorized(req(), undefined));
});

test('with a metrics token only "Bearer <token>" may read /metrics', (t) => {
  t.true(metricsAuthorized(req(`Bearer ${TOKEN}`), TOKEN));
  t.true(metricsAuthorized(req(`bearer ${TOKEN}`), TOKEN));
  t.false(metricsAuthorized(req(), TOKEN));
  t.false(metricsAuthorized(req(`Bearer ${TOKEN}x`), TOKEN));
  t.false(metricsAuthorized(req(`Bearer ${TOKEN.slice(0, -1)}`), TOKEN));
  t.false(metricsAuthorized(req(TOKEN), TOKEN));
  t.false(metricsAuthorized(req('Bearer '), TOKEN));
});

test('FLINT_METRICS_TOKEN_FILE names a file; its token is read trimmed', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.cleanup());
  const file = join(dir.path, 'metrics.token');
  writeFileSync(file, `${TOKEN}\n`);
  chmodSync(file, 0o600);
  const config = loadConfig({ FLINT_METRICS_TOKEN_FILE: file });
  t.is(config.metricsTokenFile, file);
  t.is(loadMetricsToken(config), TOKEN);
  t.is(loadMetricsToken(loadConfig({})), undefined);
});

test('a missing file or a short token is a configuration problem that does not echo the value', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.cleanup());
  const short = join(dir.path, 'short');
  writeFileSync(short, 'abc\n');
  const problems = metricsTokenProblems({ metricsTokenFile: short });
  t.regex(problems[0]!, /at least 16 characters/);
  t.notRegex(problems[0]!, /abc/);
  const missing = t.throws(() => loadMetricsToken({ metricsTokenFile: join(dir.path, 'nope') }), { instanceOf: ConfigError });
  t.regex(missing.message, /cannot be read \(ENOENT\); it names a file holding the token/);
});
