/**
 * The live dashboard against a real cluster: first the GraphQL it lives on (operations,
 * messages, pools and services as subscriptions, authorised like everything else), then
 * the page itself in a real Chromium — it shows what the API changes without a reload,
 * loads nothing from elsewhere, polls nothing, and comes back after a gateway restart.
 */
import anyTest, { type TestFn } from 'ava';
import type { Browser, Page } from 'playwright-core';
import {
  CreateVolumeDocument,
  DeleteVolumeDocument,
  MessageAddedDocument,
  MessagesDocument,
  OperationEventsDocument,
  OperationsDocument,
  PoolsChangedDocument,
  ServicesChangedDocument,
  UpdateQuotaSetDocument,
  ViewerDocument,
  type CreateVolumeInput,
  type FlintApiError,
} from '../../src/client/index.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { EventLog } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Opened {
  page: Page;
  /** Every URL the page requested over HTTP, and every WebSocket it opened. */
  requests: string[];
  sockets: string[];
  /** Page errors and Content-Security-Policy refusals. */
  problems: string[];
}

interface Ctx {
  cluster: Cluster;
  browser: Browser;
  memberA: string;
  memberB: string;
}

/** The dashboard page, shared by the serial browser tests (each test gets its own copy of `t.context`). */
let shared: Opened | undefined;

const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [{ host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 100 }] }],
  });
  t.context = { cluster } as unknown as Ctx;
  t.context.browser = await launchBrowser();
  t.context.memberA = await cluster.token('alpha', 'member');
  t.context.memberB = await cluster.token('beta', 'member');
});

test.after.always(async (t) => {
  await t.context.browser?.close();
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

async function createVolume(cluster: Cluster, token: string, input: CreateVolumeInput): Promise<{ volumeId: string; operationId: string }> {
  const d = (await cluster.client(token).request(CreateVolumeDocument, { input })).createVolume;
  return { volumeId: d.volume.id, operationId: d.operation.id };
}

const settle = () => new Promise((r) => setTimeout(r, 300));

test.serial('operationEvents follows a create from PENDING to SUCCEEDED, only for its project, and operations lists it newest first', async (t) => {
  const { cluster, memberA, memberB } = t.context;
  const eventsA = EventLog.of(cluster.client(memberA).subscribe(OperationEventsDocument, { filter: { kind: 'create_volume' } }), 'operationEvents of alpha', (e) => e.operationEvents);
  const eventsB = EventLog.of(cluster.client(memberB).subscribe(OperationEventsDocument, {}), 'operationEvents of beta', (e) => e.operationEvents);
  await settle();
  const { volumeId, operationId } = await createVolume(cluster, memberA, { name: 'watched-op', sizeGiB: 1 });
  const done = await eventsA.waitFor((o) => o.id === operationId && o.status === 'SUCCEEDED');
  t.is(done.resourceId, volumeId);
  const stages = eventsA.values.filter((o) => o.id === operationId).map((o) => o.status);
  t.is(stages[0], 'PENDING');
  t.deepEqual([...stages].sort((x, y) => rank(x) - rank(y)), stages, `stages arrive in order: ${stages.join(', ')}`);
  t.is(eventsB.values.length, 0);

  const a = cluster.client(memberA);
  const list = await a.request(OperationsDocument, { first: 1 });
  t.like(list.operations.edges[0]!.node, { id: operationId, status: 'SUCCEEDED' });
  const running = await a.request(OperationsDocument, { filter: { status: ['PENDING', 'RUNNING'] } });
  t.is(running.operations.totalCount, 0);
  const other = await cluster.client(memberB).request(OperationsDocument, {});
  t.is(other.operations.totalCount, 0);
  eventsA.close();
  eventsB.close();
});

function rank(status: string): number {
  return { PENDING: 0, RUNNING: 1, SUCCEEDED: 2, FAILED: 2 }[status] ?? 9;
}

test.serial('a failed create leaves a message that messageAdded delivers to its project and messages lists', async (t) => {
  const { cluster, memberA, memberB } = t.context;
  const addedA = EventLog.of(cluster.client(memberA).subscribe(MessageAddedDocument, {}), 'messageAdded of alpha', (e) => e.messageAdded);
  const addedB = EventLog.of(cluster.client(memberB).subscribe(MessageAddedDocument, {}), 'messageAdded of beta', (e) => e.messageAdded);
  await settle();
  const { volumeId } = await createVolume(cluster, memberA, { name: 'too-big', sizeGiB: 60_000 });
  const m = await addedA.waitFor((x) => x.resourceId === volumeId);
  t.is(m.event, 'create_volume');
  t.is(m.level, 'ERROR');
  t.regex(m.message, /CapacityFilter/);
  const listed = await cluster.client(memberA).request(MessagesDocument, { filter: { resourceType: 'volume', resourceId: volumeId } });
  t.is(listed.messages.totalCount, 1);
  t.is(listed.messages.edges[0]!.node.id, m.id);
  t.is((await cluster.client(memberB).request(MessagesDocument, {})).messages.totalCount, 0);
  t.is(addedB.values.length, 0);
  addedA.close();
  addedB.close();
  await cluster.client(memberA).request(DeleteVolumeDocument, { input: { id: volumeId } });
});

test.serial('poolsChanged and servicesChanged send the lists at once and again on heartbeats, to admins only', async (t) => {
  const { cluster, memberA } = t.context;
  const admin = cluster.client();
  const pools = EventLog.of(admin.subscribe(PoolsChangedDocument), 'poolsChanged', (e) => e.poolsChanged);
  const services = EventLog.of(admin.subscribe(ServicesChangedDocument), 'servicesChanged', (e) => e.servicesChanged);
  const first = await pools.waitFor(() => true);
  t.deepEqual(first.map((p) => [p.id, p.state]), [['host-a@fast', 'UP']]);
  // The agent beats every second: the whole list comes again, newer.
  await pools.waitFor((list) => list[0]!.updatedAt > first[0]!.updatedAt, 10_000);
  const svc = await services.waitFor((list) => list.length >= 3);
  t.deepEqual(svc.filter((s) => s.state === 'UP').map((s) => s.role).sort(), ['agent', 'gateway', 'scheduler']);
  pools.close();
  services.close();

  const forbidden = EventLog.of(cluster.client(memberA).subscribe(PoolsChangedDocument), 'poolsChanged of a member');
  const err = (await forbidden.waitError()) as FlintApiError;
  t.is(err.code, 'FORBIDDEN');
});

/** Opens /dashboard and connects with the admin token pasted into the form. */
async function openDashboard(t: { context: Ctx }): Promise<Opened> {
  const { cluster, browser } = t.context;
  const page = await browser.newPage();
  const opened: Opened = { page, requests: [], sockets: [], problems: [] };
  page.on('request', (r) => opened.requests.push(r.url()));
  page.on('websocket', (s) => opened.sockets.push(s.url()));
  page.on('pageerror', (e) => opened.problems.push(e.message));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) opened.problems.push(m.text());
  });
  await page.goto(`${base(cluster)}/dashboard`);
  await page.locator('#token').fill(cluster.adminToken);
  await page.locator('#token-form button[type=submit]').click();
  await page.locator('#connection[data-phase="live"]').waitFor({ timeout: 20_000 });
  return opened;
}

function base(cluster: Cluster): string {
  return cluster.url.replace(/\/graphql$/, '');
}

/** Creates a volume through the HTTP API and waits for the page to show it AVAILABLE, then deletes it and waits for its row to go. */
async function roundTrip(t: { context: Ctx; is(a: unknown, b: unknown, m?: string): void }, page: Page, name: string, shot?: string): Promise<void> {
  const { cluster } = t.context;
  const { volumeId } = await createVolume(cluster, cluster.adminToken, { name, sizeGiB: 2 });
  const row = page.locator(`#volumes [data-volume-id="${volumeId}"]`);
  await row.waitFor({ timeout: 20_000 });
  t.is(await row.locator('td').first().innerText(), name);
  await row.locator('[data-status="AVAILABLE"]').waitFor({ timeout: 20_000 });
  if (shot) t.is(typeof (await screenshot(page, shot)), 'string');
  const r = await cluster.client().raw(DeleteVolumeDocument, { input: { id: volumeId } });
  t.is(r.errors, undefined);
  await row.waitFor({ state: 'detached', timeout: 20_000 });
}

function assertSameOriginAndNoPolling(t: { true(v: boolean, m?: string): void; deepEqual(a: unknown, b: unknown, m?: string): void }, cluster: Cluster, o: Opened): void {
  const origin = new URL(cluster.url).origin;
  for (const url of [...o.requests, ...o.sockets]) {
    const u = new URL(url);
    t.true(u.protocol === 'data:' || u.host === new URL(origin).host, `request to another origin: ${url}`);
  }
  // The page, its script and its stylesheet, once each: every later byte came over the socket.
  const http = o.requests.filter((u) => !u.startsWith('data:')).map((u) => new URL(u).pathname);
  t.deepEqual([...http].sort(), ['/dashboard', '/dashboard/dashboard.css', '/dashboard/dashboard.js']);
  t.deepEqual(o.problems, []);
}

test.serial('the dashboard shows pools and services, and a volume made and deleted through the API appears, turns AVAILABLE and goes without a reload', async (t) => {
  const { cluster } = t.context;
  const o = await openDashboard(t);
  shared = o;
  const { page } = o;
  await page.locator('#pools [data-pool-id="host-a@fast"] [data-status="UP"]').waitFor({ timeout: 20_000 });
  t.is(await page.locator('#pools [data-pool-id="host-a@fast"] [data-field="total"]').innerText(), '100');
  for (const role of ['agent host-a', 'gateway', 'scheduler']) {
    await page.locator(`#services [data-service^="${role}"] [data-status="UP"]`).first().waitFor({ timeout: 20_000 });
  }
  t.is(await page.evaluate("localStorage.getItem('flint.dashboard.token')"), cluster.adminToken);
  // A reload would drop this mark.
  await page.evaluate('window.notReloaded = true');

  await roundTrip(t, page, 'seen-live', 'dashboard');

  t.true((await page.evaluate('window.notReloaded')) === true, 'the page was not reloaded');
  t.deepEqual(o.sockets, [cluster.url.replace(/^http/, 'ws')]);
  assertSameOriginAndNoPolling(t, cluster, o);
});

test.serial('after the gateway restarts the page reconnects by itself and keeps updating', async (t) => {
  const { cluster } = t.context;
  const o = shared;
  if (!o) return t.fail('the previous test did not open the page');
  const { page } = o;
  await page.evaluate('window.notReloaded = true');
  const wentAway = page.locator('#connection:not([data-phase="live"])').waitFor({ timeout: 30_000 });
  await cluster.restartGateway();
  await wentAway;
  await page.locator('#connection[data-phase="live"]').waitFor({ timeout: 30_000 });

  await roundTrip(t, page, 'after-restart');

  // Pools and services resumed too: the new gateway's feed says UP.
  await page.locator('#pools [data-pool-id="host-a@fast"] [data-status="UP"]').waitFor();
  t.true((await page.evaluate('window.notReloaded')) === true, 'the page was not reloaded');
  t.true(o.sockets.length >= 2, `reconnected over a new socket (${o.sockets.length})`);
  assertSameOriginAndNoPolling(t, cluster, o);
});

test.serial('a stopped agent turns DOWN on the page, its pending work shows as running, and both recover when it returns', async (t) => {
  const { cluster } = t.context;
  const o = shared;
  if (!o) return t.fail('the previous test did not open the page');
  const { page } = o;
  await cluster.stopAgent('host-a');
  // Placed on the pool before it goes stale: the command waits for the agent.
  const { volumeId, operationId } = await createVolume(cluster, cluster.adminToken, { name: 'waits-for-agent', sizeGiB: 1 });
  const op = page.locator(`#operations [data-operation-id="${operationId}"]`);
  await op.locator('[data-status="RUNNING"]').waitFor({ timeout: 20_000 });
  t.is(await op.locator('progress').count(), 1);
  await page.locator(`#volumes [data-volume-id="${volumeId}"] [data-status="CREATING"]`).waitFor();
  // No heartbeat means no change to watch: the gateway's timer says DOWN after three missed beats.
  await page.locator('#services [data-service="agent host-a"] [data-status="DOWN"]').waitFor({ timeout: 20_000 });
  await page.locator('#pools [data-pool-id="host-a@fast"] [data-status="DOWN"]').waitFor({ timeout: 20_000 });
  t.is(typeof (await screenshot(page, 'dashboard-agent-down')), 'string');
  cluster.startAgent('host-a');
  await page.locator('#services [data-service="agent host-a"] [data-status="UP"]').waitFor({ timeout: 30_000 });
  await page.locator('#pools [data-pool-id="host-a@fast"] [data-status="UP"]').waitFor({ timeout: 30_000 });
  await page.locator(`#volumes [data-volume-id="${volumeId}"] [data-status="AVAILABLE"]`).waitFor({ timeout: 30_000 });
  await op.waitFor({ state: 'detached' });
  assertSameOriginAndNoPolling(t, cluster, o);
});

test.serial('a member sees its project\'s volumes live with its quota, and no pools or services', async (t) => {
  const { cluster, browser, memberA, memberB } = t.context;
  const alpha = (await cluster.client(memberA).request(ViewerDocument)).viewer.projectId;
  await cluster.client().request(UpdateQuotaSetDocument, { input: { projectId: alpha, gigabytes: 50 } });
  const page = await browser.newPage();
  await page.goto(`${base(cluster)}/dashboard`);
  await page.locator('#token').fill(memberA);
  await page.locator('#token-form button[type=submit]').click();
  await page.locator('.viewer', { hasText: 'alpha · member' }).waitFor({ timeout: 20_000 });
  const other = await createVolume(cluster, memberB, { name: 'not-for-alpha', sizeGiB: 1 });
  const mine = await createVolume(cluster, memberA, { name: 'for-alpha', sizeGiB: 1 });
  await page.locator(`#volumes [data-volume-id="${mine.volumeId}"] [data-status="AVAILABLE"]`).waitFor({ timeout: 20_000 });
  t.is(await page.locator(`[data-volume-id="${other.volumeId}"]`).count(), 0);
  t.is(await page.locator('#pools, #services').count(), 0);
  // The quota panel follows the usage: the new volume's GiB against the project's limit.
  const gigabytes = page.locator('#quota [data-quota="Gigabytes"]');
  t.is(await gigabytes.locator('[data-field="limit"]').innerText(), '50 GiB');
  await gigabytes.locator('[data-field="in-use"]', { hasText: /^1$/ }).waitFor({ timeout: 20_000 });
  await page.close();
});

test.serial('"Forget token" clears the stored token and asks for one again', async (t) => {
  const o = shared;
  if (!o) return t.fail('the previous test did not open the page');
  const { page } = o;
  await page.locator('#forget-token').click();
  await page.locator('#token-form').waitFor();
  t.is(await page.evaluate("localStorage.getItem('flint.dashboard.token')"), null);
  await page.locator('#token').fill('flint_not-a-token');
  await page.locator('#token-form button[type=submit]').click();
  await page.locator('#token-form [role="alert"]').waitFor({ timeout: 20_000 });
  t.regex(await page.locator('#token-form [role="alert"]').innerText(), /refused/);
  await page.close();
});

test('GET /dashboard serves the page and its bundles with content types and a same-origin-only policy', async (t) => {
  const { cluster } = t.context;
  const page = await fetch(`${base(cluster)}/dashboard`);
  t.is(page.status, 200);
  t.is(page.headers.get('content-type'), 'text/html; charset=utf-8');
  t.regex(page.headers.get('content-security-policy') ?? '', /connect-src 'self'/);
  t.false(/https?:\/\//.test(await page.text()), 'the page names no absolute URL');
  const js = await fetch(`${base(cluster)}/dashboard/dashboard.js`);
  t.is(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  const css = await fetch(`${base(cluster)}/dashboard/dashboard.css`);
  t.is(css.headers.get('content-type'), 'text/css; charset=utf-8');
  t.is((await fetch(`${base(cluster)}/dashboard/package.json`)).status, 404);
  t.is((await fetch(`${base(cluster)}/dashboard`, { method: 'POST' })).status, 405);
});

test.after.always('no process is left behind', noProcessesLeft);
