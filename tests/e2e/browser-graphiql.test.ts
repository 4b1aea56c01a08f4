/**
 * GraphiQL in a real Chromium against a real cluster: the page and every asset come
 * from the gateway (no request leaves for another host), the token typed into the
 * Headers pane authorises queries, the schema (Docs) and subscriptions over graphql-ws.
 */
import anyTest, { type TestFn } from 'ava';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { CreateVolumeDocument } from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  browser: Browser;
}

const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const [cluster, browser] = await Promise.all([
    startCluster({ database: 'sqlite', agents: [{ host: 'host-a', pools: [{ name: 'p1', capacityGiB: 20 }] }] }),
    launchBrowser(),
  ]);
  t.context = { cluster, browser };
});

test.after.always(async (t) => {
  await t.context.browser?.close();
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

/** Replaces the text of a GraphiQL editor as a user pasting would: click, select all, paste. */
async function fill(page: Page, editor: string, text: string): Promise<void> {
  await page.locator(`${editor} .CodeMirror`).first().click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
  await page.keyboard.press('Escape'); // closes an autocompletion popup, if any
}

/** Types a query and waits until GraphiQL has parsed it (the tab is named after its operation). */
async function fillQuery(page: Page, query: string, tabTitle = '<untitled>'): Promise<void> {
  await fill(page, '.graphiql-query-editor', query);
  await page.locator('.graphiql-tab-button', { hasText: tabTitle }).waitFor({ timeout: 10_000 });
}

/** Waits until the response pane shows `text`, and returns what it shows. */
async function response(page: Page, text: string): Promise<string> {
  const pane = page.locator('.graphiql-response');
  const until = Date.now() + 20_000;
  let shown = '';
  while (Date.now() < until) {
    shown = await pane.innerText();
    if (shown.includes(text)) return shown;
    await page.waitForTimeout(100);
  }
  throw new Error(`the response pane never showed ${text}; it shows:\n${shown}`);
}

/** Opens GraphiQL with the admin token pasted in the Headers pane; lists every URL the page requests. */
async function openIde(t: { context: Ctx }): Promise<{ page: Page; requests: string[]; problems: string[] }> {
  const { cluster, browser } = t.context;
  const page = await browser.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  await page.goto(cluster.url);
  await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });
  // Prefilled and visible: the placeholder the user replaces.
  const headers = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)');
  await headers.locator('text=<paste your token>').waitFor();
  await fill(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)', JSON.stringify({ Authorization: `Bearer ${cluster.adminToken}` }, null, 2));
  return { page, requests, problems };
}

function assertSameOrigin(t: { true(v: boolean, m?: string): void }, base: string, requests: string[]): void {
  const origin = new URL(base).origin;
  for (const url of requests) t.true(url.startsWith('data:') || new URL(url).origin === origin, `request to another origin: ${url}`);
}

test('GraphiQL runs a query with the token from the Headers pane, loading nothing from elsewhere', async (t) => {
  const { cluster } = t.context;
  const { page, requests, problems } = await openIde(t);
  await fillQuery(page, '{ viewer { role projectName } }');
  await page.locator('.graphiql-execute-button').click();
  const shown = await response(page, '"role": "ADMIN"');
  t.true(shown.includes('"projectName": "admin"'));

  // The token also fetched the schema: the Docs pane reads as a manual.
  await page.locator('[aria-label="Show Documentation Explorer"]').click();
  const docs = page.locator('.graphiql-doc-explorer');
  await docs.getByText('Query', { exact: true }).first().click({ timeout: 20_000 });
  await docs.getByText('The project and role of your token', { exact: false }).waitFor();
  t.log(await screenshot(page, 'graphiql'));

  assertSameOrigin(t, cluster.url, requests);
  t.true(requests.some((u) => u.includes('/graphql/assets/graphiql.js')));
  t.deepEqual(problems, []);
  await page.close();
});

test('a subscription in GraphiQL runs over graphql-ws with the token from the Headers pane', async (t) => {
  const { cluster } = t.context;
  const { page, requests } = await openIde(t);
  const sockets: string[] = [];
  let subscribed = false;
  page.on('websocket', (ws) => {
    sockets.push(ws.url());
    ws.on('framesent', (f) => {
      if (String(f.payload).includes('"subscribe"')) subscribed = true;
    });
  });
  await fillQuery(page, 'subscription { volumeEvents { type volume { name status } } }');
  await page.locator('.graphiql-execute-button').click();
  const until = Date.now() + 10_000;
  while (!subscribed && Date.now() < until) await page.waitForTimeout(100);
  t.true(subscribed, 'GraphiQL sent the subscription over a WebSocket');
  t.deepEqual(sockets, [cluster.url.replace(/^http/, 'ws')]);
  // CREATED may race the subscription's start; UPDATED (AVAILABLE) follows when the agent is done.
  const r = await cluster.client().raw(CreateVolumeDocument, { input: { name: 'ide-watched', sizeGiB: 1 } });
  t.falsy(r.errors);
  const shown = await response(page, '"name": "ide-watched"');
  t.regex(shown, /"volumeEvents"/);
  assertSameOrigin(t, cluster.url, requests);
  await page.close();
});

test('the page and its assets are served with content types and cache headers', async (t) => {
  const { cluster } = t.context;
  const html = await fetch(cluster.url, { headers: { accept: 'text/html' } });
  t.is(html.status, 200);
  t.regex(html.headers.get('content-type') ?? '', /^text\/html/);
  t.is(html.headers.get('cache-control'), 'no-cache');
  const body = await html.text();
  const src = /src="(graphql\/assets\/graphiql\.js\?v=[0-9a-f]+)"/.exec(body)?.[1];
  t.truthy(src);
  t.false(/https?:\/\//.test(body.replace(/<!doctype[^>]*>/i, '')), 'the page names no absolute URL');

  const asset = await fetch(new URL(src!, cluster.url));
  t.is(asset.status, 200);
  t.is(asset.headers.get('content-type'), 'text/javascript; charset=utf-8');
  t.is(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const etag = asset.headers.get('etag')!;
  const again = await fetch(new URL('graphql/assets/graphiql.css', cluster.url));
  t.is(again.headers.get('content-type'), 'text/css; charset=utf-8');
  t.is(again.headers.get('cache-control'), 'no-cache');
  t.is((await fetch(new URL(src!, cluster.url), { headers: { 'if-none-match': etag } })).status, 304);
  t.is((await fetch(new URL('graphql/assets/package.json', cluster.url))).status, 404);

  // Not a browser, or a GET query: still the API.
  const api = await fetch(`${cluster.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'text/html', 'apollo-require-preflight': 'true' } });
  t.regex(api.headers.get('content-type') ?? '', /json/);
});

test.after.always('no process is left behind', noProcessesLeft);
