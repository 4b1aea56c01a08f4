/**
 * `/metrics` behind FLINT_METRICS_TOKEN_FILE: a real gateway and a real role metrics
 * server refuse it without the token and serve it with it; health and readiness stay open.
 */
import test from 'ava';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../src/config/index.js';
import { startMetricsServer } from '../../src/metrics/index.js';
import { runFlint } from '../helpers/flint-cli.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

const TOKEN = 'scrape-me-0123456789abcdef';
let dir: TempDir;
let gw: TestGateway;
let open: TestGateway;

test.before(async () => {
  dir = await tempDir();
  const file = join(dir.path, 'metrics.token');
  writeFileSync(file, `${TOKEN}\n`);
  chmodSync(file, 0o600);
  gw = await startTestGateway({ backend: 'sqlite', env: { FLINT_METRICS_TOKEN_FILE: file } });
  open = await startTestGateway({ backend: 'sqlite' });
});

test.after.always(async () => {
  await gw?.stop();
  await open?.stop();
  await dir?.cleanup();
});

const get = (url: string, authorization?: string) => fetch(url, authorization ? { headers: { authorization } } : {});

test('the gateway\'s /metrics needs the metrics token when one is configured', async (t) => {
  const none = await get(`${gw.base}/metrics`);
  t.is(none.status, 401);
  t.regex(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  t.notRegex(await none.text(), new RegExp(TOKEN));
  t.is((await get(`${gw.base}/metrics`, 'Bearer wrong-token-0123456789')).status, 401);
  // An API token is not the metrics token.
  t.is((await get(`${gw.base}/metrics`, `Bearer ${(await gw.token('ops', 'admin')).token}`)).status, 401);
  const ok = await get(`${gw.base}/metrics`, `Bearer ${TOKEN}`);
  t.is(ok.status, 200);
  t.regex(await ok.text(), /^flint_build_info/m);
});

test('health and readiness need no token even when /metrics does', async (t) => {
  t.is((await get(`${gw.base}/healthz`)).status, 200);
  t.is((await get(`${gw.base}/readyz`)).status, 200);
});

test('without a metrics token /metrics stays open, as before', async (t) => {
  t.is((await get(`${open.base}/metrics`)).status, 200);
});

test('a scheduler\'s or agent\'s metrics server needs the token too', async (t) => {
  const server = await startMetricsServer({ listen: { host: '127.0.0.1', port: 0 }, checks: {}, log: createLogger('m', 'silent'), metricsToken: TOKEN });
  t.teardown(() => server.stop());
  t.is((await get(`${server.url}/metrics`)).status, 401);
  t.is((await get(`${server.url}/metrics`, `Bearer ${TOKEN}`)).status, 200);
  t.is((await get(`${server.url}/readyz`)).status, 200);
});

test('a role whose metrics token file is missing stops at start with exit 2 and names the variable', async (t) => {
  const cwd = await tempDir();
  t.teardown(() => cwd.cleanup());
  const r = await runFlint({ cwd: cwd.path, url: '', token: '' }, ['scheduler'], {
    FLINT_NATS_URL: 'nats://127.0.0.1:1',
    FLINT_DATABASE_URL: `sqlite:${join(cwd.path, 'x.sqlite')}`,
    FLINT_METRICS_TOKEN_FILE: join(cwd.path, 'missing.token'),
  });
  t.is(r.status, 2);
  t.regex(r.stderr, /FLINT_METRICS_TOKEN_FILE .*missing\.token: cannot be read/);
});

test.after.always('no process is left behind', noProcessesLeft);
