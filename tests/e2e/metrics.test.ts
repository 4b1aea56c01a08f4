/**
 * Metrics, end to end: the gateway's `/metrics` and the scheduler's and an agent's
 * metrics servers (FLINT_METRICS_LISTEN) move as a volume is created and a bad query
 * fails; pool gauges show the cluster's pool.
 */
import anyTest, { type TestFn } from 'ava';
import { CreateVolumeDocument, VolumeEventsDocument, VolumesDocument } from '../../src/client/index.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { EventLog, waitForVolume } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

const test = anyTest as TestFn<{ cluster: Cluster }>;

test.before(async (t) => {
  const cluster = await startCluster({ database: 'sqlite', metrics: true, agents: [{ host: 'm1', pools: [{ name: 'p', imageFormat: 'raw' }] }] });
  t.context = { cluster };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

/** The value of one sample in a Prometheus text exposition; 0 when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
}

const gatewayMetrics = (c: Cluster) => scrape(c.url.replace(/\/graphql$/, '/metrics'));
/** Creates a volume (the SDK's operation is named CreateVolume) and waits until it is AVAILABLE. */
async function createVolume(c: Cluster, name: string): Promise<string> {
  const r = await c.client().request(CreateVolumeDocument, { input: { name, sizeGiB: 1 } });
  const id = r.createVolume.volume.id;
  await waitForVolume(c.client(), id, 'AVAILABLE', { timeoutMs: 20_000 });
  return id;
}

test.serial('gateway counters move with a create and a failing query', async (t) => {
  const { cluster } = t.context;
  const before = await gatewayMetrics(cluster);
  await createVolume(cluster, 'metrics-1');
  // Invalid on purpose, so raw text: the counters label it with its operation name.
  const bad = await cluster.client().raw('query Broken { noSuchField }');
  t.is(errorCode(bad), 'BAD_USER_INPUT');

  let after = '';
  await waitFor(
    async () => {
      after = await gatewayMetrics(cluster);
      return sample(after, 'flint_operations_total', { kind: 'create_volume', outcome: 'succeeded' }) > sample(before, 'flint_operations_total', { kind: 'create_volume', outcome: 'succeeded' });
    },
    10_000,
    () => `operations_total did not move:\n${after}`,
  );
  const moved = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
  t.is(moved('flint_graphql_requests_total', { operation: 'CreateVolume', type: 'mutation' }), 1);
  t.is(moved('flint_graphql_request_duration_seconds_count', { operation: 'CreateVolume', type: 'mutation' }), 1);
  t.true(moved('flint_graphql_requests_total', { operation: 'Broken', type: 'query' }) >= 1);
  t.true(moved('flint_graphql_errors_total', { code: 'BAD_USER_INPUT' }) >= 1);
  t.true(moved('flint_nats_publish_duration_seconds_count', { outcome: 'ok' }) >= 1, 'the command was published through JetStream');
  t.regex(after, /^flint_build_info\{version="[^"]+"\} 1$/m);
  t.regex(after, /^process_resident_memory_bytes /m);
});

test.serial('pool gauges show the pool, its capacity and what Flint allocated on it', async (t) => {
  const { cluster } = t.context;
  await createVolume(cluster, 'metrics-2');
  const text = await gatewayMetrics(cluster);
  const pool = { pool: 'm1@p' };
  t.true(sample(text, 'flint_pool_capacity_gib', { ...pool, kind: 'total' }) > 0);
  t.true(sample(text, 'flint_pool_capacity_gib', { ...pool, kind: 'free' }) > 0);
  t.regex(text, /^flint_pool_capacity_gib\{pool="m1@p",kind="provisioned"\} \d/m);
  t.true(sample(text, 'flint_pool_capacity_gib', { ...pool, kind: 'allocated' }) >= 1);
});

test.serial('a bad token counts as UNAUTHENTICATED', async (t) => {
  const { cluster } = t.context;
  const before = await gatewayMetrics(cluster);
  const r = await cluster.client('flint_not-a-real-token').raw(VolumesDocument, { first: 1 });
  t.is(errorCode(r), 'UNAUTHENTICATED');
  const after = await gatewayMetrics(cluster);
  t.is(sample(after, 'flint_graphql_errors_total', { code: 'UNAUTHENTICATED' }) - sample(before, 'flint_graphql_errors_total', { code: 'UNAUTHENTICATED' }), 1);
});

test.serial('the open-subscriptions gauge follows a WebSocket subscription', async (t) => {
  const { cluster } = t.context;
  const open = async () => sample(await gatewayMetrics(cluster), 'flint_graphql_subscriptions_open');
  const base = await open();
  const sub = EventLog.of(cluster.client().subscribe(VolumeEventsDocument, {}), 'volumeEvents');
  t.teardown(() => sub.close());
  await waitFor(async () => (await open()) === base + 1, 10_000, () => 'the gauge did not go up');
  sub.close();
  await waitFor(async () => (await open()) === base, 10_000, () => 'the gauge did not come back down');
  t.pass();
});

test.serial('the scheduler and the agent serve their own metrics, health and readiness', async (t) => {
  const { cluster } = t.context;
  const sched = cluster.metricsUrl('scheduler-0');
  const agent = cluster.metricsUrl('agent-m1');
  const [s0, a0] = await Promise.all([scrape(`${sched}/metrics`), scrape(`${agent}/metrics`)]);
  await createVolume(cluster, 'metrics-3');
  const [s1, a1] = await Promise.all([scrape(`${sched}/metrics`), scrape(`${agent}/metrics`)]);
  t.is(sample(s1, 'flint_scheduler_placements_total', { outcome: 'placed' }) - sample(s0, 'flint_scheduler_placements_total', { outcome: 'placed' }), 1);
  const created = { command: 'create_volume', outcome: 'succeeded' };
  t.is(sample(a1, 'flint_agent_commands_total', created) - sample(a0, 'flint_agent_commands_total', created), 1);
  t.is(sample(a1, 'flint_agent_command_duration_seconds_count', { command: 'create_volume' }) - sample(a0, 'flint_agent_command_duration_seconds_count', { command: 'create_volume' }), 1);
  t.true(sample(s1, 'flint_nats_publish_duration_seconds_count', { outcome: 'ok' }) > 0);
  t.notRegex(s1, /flint_graphql_requests_total/, 'a scheduler has no GraphQL metrics');

  for (const base of [sched, agent]) {
    t.is((await fetch(`${base}/healthz`)).status, 200);
    const ready = await fetch(`${base}/readyz`);
    t.is(ready.status, 200);
    t.deepEqual(await ready.json(), { status: 'ok', down: [] });
  }
});

test.after.always('no process is left behind', noProcessesLeft);
