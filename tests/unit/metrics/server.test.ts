import test from 'ava';
import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { loadConfig } from '../../../src/config/config.js';
import { metricsRegistry } from '../../../src/metrics/registry.js';
import { serveRoleMetrics, startMetricsServer } from '../../../src/metrics/server.js';

const log = pino({ level: 'silent' });

test('the metrics server answers /metrics, /healthz and /readyz', async (t) => {
  const registry = new Registry();
  new Counter({ name: 'flint_test_total', help: 'test', registers: [registry] }).inc(3);
  const server = await startMetricsServer({ listen: { host: '127.0.0.1', port: 0 }, checks: { nats: async () => 'ok' }, log, registry });
  t.teardown(() => server.stop());
  const metrics = await fetch(`${server.url}/metrics`);
  t.is(metrics.status, 200);
  t.regex(metrics.headers.get('content-type') ?? '', /text\/plain/);
  t.regex(await metrics.text(), /^flint_test_total 3$/m);
  t.is((await fetch(`${server.url}/healthz`)).status, 200);
  const ready = await fetch(`${server.url}/readyz`);
  t.is(ready.status, 200);
  t.deepEqual(await ready.json(), { status: 'ok', down: [] });
  t.is((await fetch(`${server.url}/nope`)).status, 404);
});

test('readiness is 503 and names what is down, never the error text, when a check fails or throws', async (t) => {
  const server = await startMetricsServer({
    listen: { host: '127.0.0.1', port: 0 },
    checks: { nats: async () => 'connect ECONNREFUSED 10.0.0.7:4222', database: async () => { throw new Error('password authentication failed for user "flint"'); } },
    log,
  });
  t.teardown(() => server.stop());
  const ready = await fetch(`${server.url}/readyz`);
  t.is(ready.status, 503);
  const text = await ready.text();
  t.deepEqual(JSON.parse(text), { status: 'unavailable', down: ['database', 'nats'] });
  t.notRegex(text, /ECONNREFUSED|10\.0\.0\.7|password|flint"/);
});

test('the process registry has the default process metrics, build info and NATS publish timings', async (t) => {
  const text = await metricsRegistry().metrics();
  t.regex(text, /^process_cpu_user_seconds_total /m);
  t.regex(text, /^flint_build_info\{version="[^"]+"\} 1$/m);
  t.regex(text, /^# TYPE flint_nats_publish_duration_seconds histogram$/m);
});

test('no metrics server without FLINT_METRICS_LISTEN', async (t) => {
  t.is(await serveRoleMetrics(loadConfig({}), log, {}), undefined);
});

test('FLINT_METRICS_LISTEN is host:port, checked with the rest of the configuration', (t) => {
  t.deepEqual(loadConfig({ FLINT_METRICS_LISTEN: '0.0.0.0:9464' }).metricsListen, { host: '0.0.0.0', port: 9464 });
  t.is(loadConfig({}).metricsListen, undefined);
  const err = t.throws(() => loadConfig({ FLINT_METRICS_LISTEN: '9464' }));
  t.regex(err.message, /FLINT_METRICS_LISTEN: expected host:port/);
});
