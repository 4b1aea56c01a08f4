/**
 * A database outage is not a bad token: a real gateway on a real PostgreSQL database that
 * stops accepting connections (its open ones terminated) answers authentication with 503
 * SERVICE_UNAVAILABLE over HTTP and a retryable close over WebSocket, its `/readyz` names
 * the database without the error's text, and the same token works once the database is back.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { codeOf, post, rawSocket, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { noProcessesLeft } from '../helpers/processes.js';

let gw: TestGateway;
let unused: string;

const VIEWER = '{ viewer { projectName } }';

test.before(async () => {
  gw = await startTestGateway({ backend: 'postgresql' });
  // Never used before the outage, so the gateway must ask the database for it.
  unused = (await gw.token('team-a', 'member')).token;
});

test.after.always(async () => {
  await gw?.pg?.setAvailable(true).catch(() => undefined);
  await gw?.stop();
});

test.serial('during a database outage a good token gets 503 SERVICE_UNAVAILABLE with retry-after, not 401', async (t) => {
  await gw.pg!.setAvailable(false);
  const r = await post(gw.url, unused, VIEWER);
  t.is(r.status, 503);
  t.is(codeOf(r), 'SERVICE_UNAVAILABLE');
  t.is(r.headers.get('retry-after'), '5');
  t.regex(r.body.errors![0]!.message, /not refused: retry/);
  t.notRegex(JSON.stringify(r.body), /accepting connections|terminat|flint_test_|5432/i);
  t.true(gw.logs.some((l) => l.includes('authentication could not reach the database')), 'the cause is in the log');
});

test.serial('during a database outage a WebSocket connection_init is closed with 1013 (try again later), not 4403', async (t) => {
  const s = await rawSocket(gw.url, unused);
  await t.throwsAsync(s.acked);
  const closed = await s.closed;
  t.is(closed.code, 1013);
  t.regex(closed.reason, /Service unavailable/);
});

test.serial('during a database outage /readyz is 503 and names the database, without any error text', async (t) => {
  const res = await fetch(`${gw.base}/readyz`);
  t.is(res.status, 503);
  const text = await res.text();
  t.deepEqual(JSON.parse(text), { status: 'unavailable', down: ['database'] });
  t.true(gw.logs.some((l) => l.includes('readiness: dependency is down') && l.includes('"check":"database"')), 'the reason is in the log');
});

test.serial('once the database is back the same token works and /readyz is ready', async (t) => {
  await gw.pg!.setAvailable(true);
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) {
    status = (await post(gw.url, unused, VIEWER)).status;
    if (status !== 200) await sleep(200);
  }
  t.is(status, 200);
  const ready = await fetch(`${gw.base}/readyz`);
  t.is(ready.status, 200);
  t.deepEqual(await ready.json(), { status: 'ok', down: [] });
});

test.after.always('no process is left behind', noProcessesLeft);
