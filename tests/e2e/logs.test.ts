/**
 * Structured logs, end to end: a request id sent as `x-request-id` follows a create
 * through the gateway, the scheduler and the agent, and no token ever reaches a log.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { Kind, print, type OperationDefinitionNode } from 'graphql';
import { CreateVolumeDocument, VolumesDocument } from '../../src/client/index.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { noProcessesLeft } from '../helpers/processes.js';

const test = anyTest as TestFn<{ cluster: Cluster }>;

test.before(async (t) => {
  const cluster = await startCluster({ database: 'sqlite', env: { FLINT_LOG_LEVEL: 'debug' }, agents: [{ host: 'l1', pools: [{ name: 'p', imageFormat: 'raw' }] }] });
  t.context = { cluster };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

/** Every process's whole log (the cluster writes `<name>.log` in its data dir), by process name. */
function readLogs(cluster: Cluster): Map<string, string> {
  const files = readdirSync(cluster.dataDir).filter((f) => f.endsWith('.log'));
  return new Map(files.map((f) => [f.replace(/\.log$/, ''), readFileSync(join(cluster.dataDir, f), 'utf8')]));
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Sends one of the SDK's documents by hand: these tests are about HTTP headers the SDK
 * does not let a caller set (`x-request-id`, a malformed `Authorization`) and the raw
 * status, so they use fetch, with the typed document's text, name and data type.
 */
async function post<D, V>(cluster: Cluster, headers: Record<string, string>, doc: TypedDocumentNode<D, V>, variables?: V): Promise<{ res: Response; data: D | null | undefined }> {
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const res = await fetch(cluster.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: print(doc), operationName: op?.name?.value, variables }),
  });
  const body = (await res.json()) as { data?: D | null };
  return { res, data: body.data };
}

test.serial('a request id follows a create through the gateway, the scheduler and the agent', async (t) => {
  const { cluster } = t.context;
  const requestId = `test-${randomUUID()}`;
  const sentinel = `sentinel-${randomUUID()}`;
  const { res, data } = await post(cluster, { authorization: `Bearer ${cluster.adminToken}`, 'x-request-id': requestId }, CreateVolumeDocument, {
    input: { name: 'logged', sizeGiB: 1, metadata: { note: sentinel } },
  });
  t.is(res.headers.get('x-request-id'), requestId);
  t.is(res.headers.get('cache-control'), 'no-store', 'an answer is never cached');
  const volumeId = data!.createVolume.volume.id;

  const withId = (name: string) => jsonLines(readLogs(cluster).get(name) ?? '').filter((l) => l.requestId === requestId);
  await waitFor(async () => withId('agent-l1').length > 0 && withId('gateway').some((l) => l.msg === 'volume changed'), 20_000, () => 'the request id did not reach every log');

  const op = withId('gateway').find((l) => l.msg === 'graphql operation');
  t.like(op, { role: 'gateway', operation: 'CreateVolume', type: 'mutation', errors: [] });
  t.is(typeof op?.ms, 'number');
  t.true(withId('gateway').some((l) => l.msg === 'volume changed' && l.volumeId === volumeId), 'the recorder logs the outcome with the request id');
  const scheduler = withId('scheduler-0');
  t.true(scheduler.some((l) => l.msg === 'placing volume' && typeof l.operationId === 'string'), JSON.stringify(scheduler));
  const agent = withId('agent-l1');
  t.true(agent.some((l) => l.msg === 'volume created' && l.volumeId === volumeId), 'the agent core logs through the command scope');
  t.true(agent.some((l) => l.msg === 'command handled' && l.command === 'create_volume'));
  for (const text of readLogs(cluster).values()) t.false(text.includes(sentinel), 'variables are never logged');
});

test.serial('a request without x-request-id gets one, echoed in the response', async (t) => {
  const { res } = await post(t.context.cluster, { authorization: `Bearer ${t.context.cluster.adminToken}`, 'x-request-id': 'bad id with spaces' }, VolumesDocument, { first: 1 });
  t.regex(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});

test.serial('no token reaches any log, whether good, unknown or malformed', async (t) => {
  const { cluster } = t.context;
  const member = await cluster.token('logs-team', 'member');
  const unknown = `flint_${randomUUID().replace(/-/g, '')}`;
  const requestId = `test-${randomUUID()}`;
  t.is((await post(cluster, { authorization: `Bearer ${unknown}`, 'x-request-id': requestId }, VolumesDocument, { first: 1 })).res.status, 401);
  t.is((await post(cluster, { authorization: `Token ${unknown}x` }, VolumesDocument, { first: 1 })).res.status, 401);
  const ok = await cluster.client(member).raw(VolumesDocument, { first: 1 });
  t.falsy(ok.errors);
  await waitFor(async () => (readLogs(cluster).get('gateway') ?? '').includes(requestId), 10_000, () => 'the refused request was not logged');

  const logs = readLogs(cluster);
  t.true(logs.size >= 3, [...logs.keys()].join(', '));
  const refused = jsonLines(logs.get('gateway')!).find((l) => l.requestId === requestId);
  t.like(refused, { status: 401, errors: ['UNAUTHENTICATED'] });
  for (const [name, text] of logs) {
    for (const secret of [cluster.adminToken, member, unknown]) t.false(text.includes(secret), `${name} logged a token`);
    t.notRegex(text, /flint_[A-Za-z0-9_-]{16,}/, `${name} logged something shaped like a token`);
    t.notRegex(text, /Bearer /i, `${name} logged an Authorization value`);
  }
});

test.after.always('no process is left behind', noProcessesLeft);
