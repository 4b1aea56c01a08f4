/**
 * The SDK against a real Flint: its own nats-server, a SQLite file, and an agent
 * (file pool), a scheduler and a gateway in this process, started as `flint dev` does.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateVolumeDocument,
  DeleteVolumeDocument,
  FlintApiError,
  FlintClient,
  FlintWaitError,
  NodeDocument,
  PoolsDocument,
  VolumeChangedDocument,
  VolumeDocument,
  VolumesDocument,
  ViewerDocument,
  type VolumeFields,
} from '../../src/client/index.js';
import { createLogger } from '../../src/config/index.js';
import { createToken } from '../../src/db/index.js';
import { startInProcessFlint } from '../helpers/in-process.js';
import { noProcessesLeft } from '../helpers/processes.js';

const log = createLogger('client-test', 'silent');
const stoppers: Array<[string, () => Promise<unknown>]> = [];
const clients: FlintClient[] = [];
let url = '';
let admin: FlintClient;
let member: FlintClient;

function client(token?: string, retries?: number): FlintClient {
  const c = new FlintClient({ url, ...(token ? { token } : {}), ...(retries !== undefined ? { retries } : {}) });
  clients.push(c);
  return c;
}

test.before(async () => {
  const flint = await startInProcessFlint('client-test', { FLINT_POOLS: JSON.stringify([{ name: 'p1', imageFormat: 'raw', capacityGiB: 20 }]) }, log);
  stoppers.unshift(['flint', () => flint.stop()]);
  const { db } = flint;
  url = flint.gateway.url;

  admin = client((await createToken(db.fork(), 'admin', 'admin', 'client test admin')).token);
  member = client((await createToken(db.fork(), 'team-a', 'member', 'client test member')).token);
  // Creates fail with NO_VALID_BACKEND until the agent's first pool heartbeat is in.
  for (let i = 0; i < 100; i++) {
    const { pools } = await admin.request(PoolsDocument);
    if (pools.some((p) => p.state === 'UP')) return;
    await sleep(100);
  }
  throw new Error('the agent pool never came up');
});

test.after.always(async (t) => {
  // Cleanup goes on past a failure so every process stops; failures are logged.
  const attempt = (what: string, fn: () => Promise<unknown>) => Promise.resolve().then(fn).catch((err: unknown) => t.log(`stopping ${what} failed:`, err));
  for (const c of clients) await attempt('a client', () => c.close());
  for (const [name, stop] of stoppers) await attempt(name, stop);
});

async function createVolume(c: FlintClient, name: string, sizeGiB = 1): Promise<VolumeFields> {
  const { createVolume: created } = await c.request(CreateVolumeDocument, { input: { name, sizeGiB } });
  return created.volume;
}

test('request() returns typed data', async (t) => {
  const { viewer } = await member.request(ViewerDocument);
  t.is(viewer.role, 'MEMBER');
  t.is(viewer.projectName, 'team-a');
  const { createVolume: created } = await member.request(CreateVolumeDocument, { input: { name: 'typed', sizeGiB: 1, metadata: { team: 'a' } } });
  t.is(created.volume.name, 'typed');
  t.is(created.volume.status, 'CREATING');
  t.deepEqual(created.volume.metadata, { team: 'a' });
  t.is(created.operation.kind, 'create_volume');
  t.is(typeof created.operation.createdAt, 'string');
  const { volume } = await member.request(VolumeDocument, { id: created.volume.id });
  t.is(volume?.id, created.volume.id);
  t.true(Array.isArray(volume?.messages));
});

test('request() throws a FlintApiError with the code of the error', async (t) => {
  const err = await t.throwsAsync(member.request(CreateVolumeDocument, { input: { name: 'zero', sizeGiB: 0 } }), { instanceOf: FlintApiError });
  t.is(err.code, 'BAD_USER_INPUT');
});

test('raw() returns BAD_USER_INPUT for sizeGiB 0 without throwing', async (t) => {
  const res = await member.raw(CreateVolumeDocument, { input: { name: 'zero', sizeGiB: 0 } });
  t.is(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  t.falsy(res.data);
});

test('raw() without a token returns UNAUTHENTICATED', async (t) => {
  const res = await client().raw(ViewerDocument);
  t.is(res.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
});

test('raw() with an unknown token returns UNAUTHENTICATED and status 401', async (t) => {
  const res = await client('flint_not-a-real-token').raw(ViewerDocument);
  t.is(res.status, 401);
  t.is(res.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
});

test('raw() accepts GraphQL text and reports an invalid query as BAD_USER_INPUT', async (t) => {
  const res = await member.raw('query { volumes { nope } }');
  t.is(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
});

test('a member cannot list pools: FORBIDDEN', async (t) => {
  const res = await member.raw(PoolsDocument);
  t.is(res.errors?.[0]?.extensions?.code, 'FORBIDDEN');
});

test('subscribe() gets volumeChanged events through AVAILABLE', async (t) => {
  const created = await createVolume(member, 'watched');
  const sub = member.subscribe(VolumeChangedDocument, { id: created.id });
  const statuses: string[] = [];
  for await (const { volumeChanged } of sub) {
    t.is(volumeChanged.id, created.id);
    statuses.push(volumeChanged.status);
    if (volumeChanged.status === 'AVAILABLE') break; // break calls return(), which closes it
  }
  t.is(statuses.at(-1), 'AVAILABLE');
  t.true(statuses.every((s) => s === 'CREATING' || s === 'AVAILABLE'), statuses.join(','));
});

test('subscribe() to a missing volume rejects with NOT_FOUND', async (t) => {
  const sub = member.subscribe(VolumeChangedDocument, { id: '00000000-0000-4000-8000-000000000000' });
  const err = await t.throwsAsync(sub.next(), { instanceOf: FlintApiError });
  t.is(err.code, 'NOT_FOUND');
  t.deepEqual(await sub.next(), { value: undefined, done: true });
});

test('subscribe() with an unknown token rejects with UNAUTHENTICATED at once', async (t) => {
  const sub = client('flint_not-a-real-token').subscribe(VolumeChangedDocument, { id: '00000000-0000-4000-8000-000000000000' });
  const err = await t.throwsAsync(sub.next(), { instanceOf: FlintApiError });
  t.is(err.code, 'UNAUTHENTICATED');
});

test('waitForVolume resolves with the volume once it is AVAILABLE', async (t) => {
  const created = await createVolume(member, 'awaited');
  const v = await member.waitForVolume(created.id, (x) => x.status === 'AVAILABLE', 30_000);
  t.is(v.id, created.id);
  t.is(v.status, 'AVAILABLE');
  // The first event is the current state, so a condition that holds returns at once.
  const again = await member.waitForVolume(created.id, (x) => x.status === 'AVAILABLE', 2_000);
  t.is(again.version, v.version);
});

test('waitForVolume times out with a clear error', async (t) => {
  const created = await createVolume(member, 'never-big');
  await member.waitForVolume(created.id, (x) => x.status === 'AVAILABLE', 30_000);
  const started = Date.now();
  const err = await t.throwsAsync(member.waitForVolume(created.id, (x) => x.sizeGiB === 999, 500), { instanceOf: FlintWaitError });
  t.is(err.code, 'TIMEOUT', err.message);
  t.true(Date.now() - started < 5_000);
  t.true(err.message.includes(created.id), err.message);
  t.regex(err.message, /within 500 ms; it is AVAILABLE/);
  t.is((err.last as VolumeFields | undefined)?.status, 'AVAILABLE');
});

test('waitForVolume ends with ENDED when the volume is deleted first', async (t) => {
  const created = await createVolume(member, 'doomed');
  await member.waitForVolume(created.id, (x) => x.status === 'AVAILABLE', 30_000);
  const waiting = member.waitForVolume(created.id, (x) => x.sizeGiB === 999, 30_000);
  await member.request(DeleteVolumeDocument, { input: { id: created.id } });
  const err = await t.throwsAsync(waiting, { instanceOf: FlintWaitError });
  t.is(err.code, 'ENDED');
});

test('Volumes pages with cursors and a filter; Node finds a volume', async (t) => {
  for (const name of ['page-1', 'page-2', 'page-3']) await createVolume(admin, name);
  const first = await admin.request(VolumesDocument, { first: 2, filter: { name: 'page-1' } });
  t.is(first.volumes.totalCount, 1);
  const all = await admin.request(VolumesDocument, { first: 1 });
  t.true(all.volumes.pageInfo.hasNextPage);
  const next = await admin.request(VolumesDocument, { first: 1, after: all.volumes.pageInfo.endCursor });
  t.not(next.volumes.edges[0]?.node.id, all.volumes.edges[0]?.node.id);
  const id = first.volumes.edges[0]!.node.id;
  const { node } = await admin.request(NodeDocument, { id });
  t.is(node?.__typename, 'Volume');
  t.is(node?.id, id);
});

test('a gateway that is not there is a NETWORK error after the retries', async (t) => {
  const c = new FlintClient({ url: 'http://127.0.0.1:1/graphql', retries: 1 });
  const err = await t.throwsAsync(c.request(ViewerDocument), { instanceOf: FlintApiError });
  t.is(err.code, 'NETWORK');
  t.regex(err.message, /Could not reach the Flint gateway at http:\/\/127\.0\.0\.1:1\/graphql/);
});

test.after.always('no process is left behind', noProcessesLeft);
