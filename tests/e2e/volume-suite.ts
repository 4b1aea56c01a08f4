/**
 * The spine end to end: gateway, scheduler and two agents (two hosts, two pools) as
 * separate processes over a real nats-server and database, driven through HTTP and a
 * real graphql-ws client. Registered once per database (volume-*.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import type { Client } from 'graphql-ws';
import { gql, startCluster, type Cluster } from '../helpers/cluster.js';
import { collect, wsClient } from '../helpers/ws.js';

interface Ctx {
  cluster: Cluster;
  ws: Client[];
  memberA: string;
  memberB: string;
  readerA: string;
}

interface Vol {
  id: string;
  name: string;
  status: string;
  sizeGiB: number;
  version: number;
  host: string | null;
  pool: string | null;
  metadata: Record<string, string>;
  messages?: Array<{ event: string; message: string }>;
}

type Err = { message: string; extensions?: { code?: string } };

const VOL = 'id name status sizeGiB version host pool metadata';
const CREATE = `mutation($input: CreateVolumeInput!) { createVolume(input: $input) { volume { ${VOL} } operation { id kind status } } }`;
const GET = `query($id: ID!) { volume(id: $id) { ${VOL} messages { event message } } }`;
const CHANGED = `subscription($id: ID!) { volumeChanged(id: $id) { ${VOL} } }`;
const EVENTS = `subscription($filter: VolumeFilter) { volumeEvents(filter: $filter) { type volume { ${VOL} } } }`;

function virtualSize(file: string): number {
  return (JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as { 'virtual-size': number })['virtual-size'];
}

const GiB = 1024 ** 3;

export function registerVolumeSuite(database: 'sqlite' | 'postgresql'): void {
  const test = anyTest as TestFn<Ctx>;

  test.before(async (t) => {
    const cluster = await startCluster({
      database,
      agents: [
        { host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 100, capabilities: { tier: 'gold' } }] },
        { host: 'host-b', pools: [{ name: 'bulk', imageFormat: 'raw', capacityGiB: 200, capabilities: { tier: 'bronze' } }] },
      ],
    });
    t.context = {
      cluster,
      ws: [],
      memberA: await cluster.token('alpha', 'member'),
      memberB: await cluster.token('beta', 'member'),
      readerA: await cluster.token('alpha', 'reader'),
    };
    const r = await gql(cluster.url, cluster.adminToken, 'mutation($input: CreateVolumeTypeInput!) { createVolumeType(input: $input) { id } }', {
      input: { name: 'bronze', extraSpecs: { 'capabilities:tier': 'bronze' } },
    });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
  });

  test.after.always(async (t) => {
    for (const c of t.context.ws ?? []) await c.dispose();
    await t.context.cluster?.stop();
  });

  test.afterEach.always((t) => {
    if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
  });

  const ws = (t: { context: Ctx }, token: string): Client => {
    const c = wsClient(t.context.cluster.url, token);
    t.context.ws.push(c);
    return c;
  };
  const create = async (t: { context: Ctx }, token: string, input: Record<string, unknown>) => {
    const r = await gql(t.context.cluster.url, token, CREATE, { input });
    return r as { data?: { createVolume: { volume: Vol; operation: { id: string; kind: string; status: string } } }; errors?: Err[] };
  };
  const get = async (t: { context: Ctx }, token: string, id: string): Promise<Vol | null> =>
    ((await gql(t.context.cluster.url, token, GET, { id })).data as { volume: Vol | null }).volume;
  const waitStatus = async (t: { context: Ctx }, token: string, id: string, status: string): Promise<Vol> => {
    const sub = collect(ws(t, token), CHANGED, { id }, (d) => d.volumeChanged as Vol);
    try {
      return await sub.waitFor((v) => v.status === status);
    } finally {
      sub.close();
    }
  };
  const imagePath = (t: { context: Ctx }, v: Vol): string => {
    const fmt = v.pool === 'fast' ? 'qcow2' : 'raw';
    return join(t.context.cluster.poolDir(v.host!, v.pool!), `volume-${v.id}.${fmt}`);
  };

  test.serial('a created volume turns AVAILABLE on the subscription and its image has the right virtual size', async (t) => {
    const r = await create(t, t.context.cluster.adminToken, { name: 'first', sizeGiB: 3, metadata: { purpose: 'e2e' } });
    t.falsy(r.errors);
    const { volume, operation } = r.data!.createVolume;
    t.is(volume.status, 'CREATING');
    t.is(operation.kind, 'create_volume');
    const sub = collect(ws(t, t.context.cluster.adminToken), CHANGED, { id: volume.id }, (d) => d.volumeChanged as Vol);
    const available = await sub.waitFor((v) => v.status === 'AVAILABLE');
    sub.close();
    t.truthy(available.host);
    t.truthy(available.pool);
    t.true(available.version > volume.version);
    t.deepEqual(available.metadata, { purpose: 'e2e' });
    t.is(virtualSize(imagePath(t, available)), 3 * GiB);
    const op = (await gql(t.context.cluster.url, t.context.cluster.adminToken, `query($id: ID!) { operation(id: $id) { status finishedAt } }`, { id: operation.id })).data as {
      operation: { status: string; finishedAt: string };
    };
    t.is(op.operation.status, 'SUCCEEDED');
    t.truthy(op.operation.finishedAt);
  });

  test.serial('extend grows the image and the volume comes back AVAILABLE at the new size', async (t) => {
    const token = t.context.memberA;
    const { volume } = (await create(t, token, { name: 'grow-me', sizeGiB: 1 })).data!.createVolume;
    await waitStatus(t, token, volume.id, 'AVAILABLE');
    const sub = collect(ws(t, token), CHANGED, { id: volume.id }, (d) => d.volumeChanged as Vol);
    const r = await gql(t.context.cluster.url, token, `mutation($input: ExtendVolumeInput!) { extendVolume(input: $input) { volume { status sizeGiB } operation { kind } } }`, {
      input: { id: volume.id, newSizeGiB: 4 },
    });
    t.falsy(r.errors);
    t.deepEqual((r.data as { extendVolume: { volume: unknown } }).extendVolume.volume, { status: 'EXTENDING', sizeGiB: 1 });
    const done = await sub.waitFor((v) => v.status === 'AVAILABLE' && v.sizeGiB === 4);
    sub.close();
    t.truthy(sub.values.find((v) => v.status === 'EXTENDING'));
    const admin = await get(t, t.context.cluster.adminToken, done.id);
    t.is(virtualSize(imagePath(t, admin!)), 4 * GiB);
    const shrink = await gql(t.context.cluster.url, token, `mutation { extendVolume(input: {id: "${volume.id}", newSizeGiB: 2}) { volume { id } } }`);
    t.is(shrink.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.regex(shrink.errors![0]!.message, /only grow/);
  });

  test.serial('delete ends with DELETED on the subscription, which then completes, and the image is gone', async (t) => {
    const admin = t.context.cluster.adminToken;
    const { volume } = (await create(t, admin, { name: 'short-lived', sizeGiB: 1 })).data!.createVolume;
    const available = await waitStatus(t, admin, volume.id, 'AVAILABLE');
    const file = imagePath(t, available);
    t.true(existsSync(file));
    const sub = collect(ws(t, admin), CHANGED, { id: volume.id }, (d) => d.volumeChanged as Vol);
    await sub.waitFor((v) => v.status === 'AVAILABLE');
    const r = await gql(t.context.cluster.url, admin, `mutation { deleteVolume(input: {id: "${volume.id}"}) { volume { status } operation { kind status } } }`);
    t.falsy(r.errors);
    t.is((r.data as { deleteVolume: { volume: { status: string } } }).deleteVolume.volume.status, 'DELETING');
    await sub.waitFor((v) => v.status === 'DELETED');
    await sub.waitComplete();
    t.false(existsSync(file));
    t.is(await get(t, admin, volume.id), null);
  });

  test.serial('the same idempotency key returns the same volume; other parameters with it are a CONFLICT', async (t) => {
    const token = t.context.memberA;
    const input = { name: 'idem', sizeGiB: 1, idempotencyKey: `key-${database}` };
    const [a, b] = await Promise.all([create(t, token, input), create(t, token, input)]);
    const c = await create(t, token, input);
    t.falsy(a.errors);
    t.falsy(b.errors);
    t.is(a.data!.createVolume.volume.id, b.data!.createVolume.volume.id);
    t.is(a.data!.createVolume.volume.id, c.data!.createVolume.volume.id);
    t.is(a.data!.createVolume.operation.id, c.data!.createVolume.operation.id);
    const list = (await gql(t.context.cluster.url, token, `{ volumes(filter: {name: "idem"}) { totalCount } }`)).data as { volumes: { totalCount: number } };
    t.is(list.volumes.totalCount, 1);
    const other = await create(t, token, { ...input, sizeGiB: 2 });
    t.is(other.errors?.[0]?.extensions?.code, 'CONFLICT');
  });

  test.serial('a volume no pool can hold ends in ERROR with NO_VALID_BACKEND naming each pool and filter', async (t) => {
    const token = t.context.memberA;
    const { volume, operation } = (await create(t, token, { name: 'too-big', sizeGiB: 60_000 })).data!.createVolume;
    await waitStatus(t, token, volume.id, 'ERROR');
    const op = (await gql(t.context.cluster.url, token, `query($id: ID!) { operation(id: $id) { status error { code message } } }`, { id: operation.id })).data as {
      operation: { status: string; error: { code: string; message: string } };
    };
    t.is(op.operation.status, 'FAILED');
    t.is(op.operation.error.code, 'NO_VALID_BACKEND');
    t.regex(op.operation.error.message, /host-a@fast.*CapacityFilter/s);
    t.regex(op.operation.error.message, /host-b@bulk.*CapacityFilter/s);
    const v = await get(t, token, volume.id);
    t.is(v!.messages![0]!.event, 'create_volume');
    t.is(v!.messages![0]!.message, op.operation.error.message);
    const del = await gql(t.context.cluster.url, token, `mutation { deleteVolume(input: {id: "${volume.id}"}) { volume { status } } }`);
    t.falsy(del.errors);
    t.is((del.data as { deleteVolume: { volume: { status: string } } }).deleteVolume.volume.status, 'DELETED');
  });

  test.serial('a volume type places the volume on the matching pool', async (t) => {
    const admin = t.context.cluster.adminToken;
    const { volume } = (await create(t, admin, { name: 'typed', sizeGiB: 1, volumeType: 'bronze' })).data!.createVolume;
    const v = await waitStatus(t, admin, volume.id, 'AVAILABLE');
    t.is(v.host, 'host-b');
    t.is(v.pool, 'bulk');
    // An unknown type answers as a private one would (NOT_FOUND): nobody can probe which types exist.
    const bad = await create(t, admin, { name: 'typed', sizeGiB: 1, volumeType: 'platinum' });
    t.is(bad.errors?.[0]?.extensions?.code, 'NOT_FOUND');
  });

  test.serial('a command waits for a stopped agent, delete of a CREATING volume is INVALID_STATE, and the volume is created when the agent returns', async (t) => {
    const token = t.context.memberA;
    await t.context.cluster.stopAgent('host-b');
    const { volume } = (await create(t, token, { name: 'patient', sizeGiB: 1, volumeType: 'bronze' })).data!.createVolume;
    const del = await gql(t.context.cluster.url, token, `mutation { deleteVolume(input: {id: "${volume.id}"}) { volume { status } } }`);
    t.is(del.errors?.[0]?.extensions?.code, 'INVALID_STATE');
    t.regex(del.errors![0]!.message, /is CREATING and cannot be deleted/);
    t.is((await get(t, token, volume.id))!.status, 'CREATING');
    t.context.cluster.startAgent('host-b');
    await waitStatus(t, token, volume.id, 'AVAILABLE');
  });

  test.serial('bad input is refused with BAD_USER_INPUT listing every problem, and nothing is written', async (t) => {
    const token = t.context.memberA;
    const count = async () => ((await gql(t.context.cluster.url, token, `{ volumes { totalCount } }`)).data as { volumes: { totalCount: number } }).volumes.totalCount;
    const before = await count();
    const metadata = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const r = await create(t, token, { name: '', sizeGiB: 0, metadata });
    t.is(r.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.regex(r.errors![0]!.message, /name must not be empty/);
    t.regex(r.errors![0]!.message, /sizeGiB must be a whole number/);
    t.regex(r.errors![0]!.message, /at most 64 keys/);
    const long = await create(t, token, { name: 'x'.repeat(256), sizeGiB: 1 });
    t.is(long.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    const typeErr = await gql(t.context.cluster.url, token, `mutation { createVolume(input: {name: "x", sizeGiB: "big"}) { volume { id } } }`);
    t.is(typeErr.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.is(await count(), before);
  });

  test.serial('update with a stale expectedVersion is a CONFLICT; with the current one it applies and bumps the version', async (t) => {
    const token = t.context.memberA;
    const { volume } = (await create(t, token, { name: 'to-rename', sizeGiB: 1 })).data!.createVolume;
    const v = await waitStatus(t, token, volume.id, 'AVAILABLE');
    const UPDATE = `mutation($input: UpdateVolumeInput!) { updateVolume(input: $input) { volume { name version metadata } operation { status } } }`;
    const stale = await gql(t.context.cluster.url, token, UPDATE, { input: { id: v.id, name: 'renamed', expectedVersion: v.version - 1 } });
    t.is(stale.errors?.[0]?.extensions?.code, 'CONFLICT');
    const ok = await gql(t.context.cluster.url, token, UPDATE, { input: { id: v.id, name: 'renamed', metadata: { a: 'b' }, expectedVersion: v.version } });
    t.falsy(ok.errors);
    t.deepEqual((ok.data as { updateVolume: { volume: unknown } }).updateVolume.volume, { name: 'renamed', version: v.version + 1, metadata: { a: 'b' } });
    const del = await gql(t.context.cluster.url, token, `mutation { deleteVolume(input: {id: "${v.id}", expectedVersion: ${v.version}}) { volume { status } } }`);
    t.is(del.errors?.[0]?.extensions?.code, 'CONFLICT');
  });

  test.serial('another project can neither see, change nor subscribe to a volume, and readers cannot mutate', async (t) => {
    const { memberA, memberB, readerA } = t.context;
    const url = t.context.cluster.url;
    const eventsB = collect(ws(t, memberB), EVENTS, {}, (d) => d.volumeEvents as { type: string; volume: Vol });
    const eventsA = collect(ws(t, memberA), EVENTS, {}, (d) => d.volumeEvents as { type: string; volume: Vol });
    await new Promise((r) => setTimeout(r, 300));
    const { volume } = (await create(t, memberA, { name: 'private', sizeGiB: 1 })).data!.createVolume;
    await waitStatus(t, memberA, volume.id, 'AVAILABLE');
    await eventsA.waitFor((e) => e.volume.id === volume.id && e.volume.status === 'AVAILABLE');
    t.is(eventsB.values.length, 0);
    t.is(await get(t, memberB, volume.id), null);
    const listB = (await gql(url, memberB, `{ volumes { edges { node { id } } } }`)).data as { volumes: { edges: Array<{ node: { id: string } }> } };
    t.false(listB.volumes.edges.some((e) => e.node.id === volume.id));
    const node = (await gql(url, memberB, `query($id: ID!) { node(id: $id) { id } }`, { id: volume.id })).data as { node: unknown };
    t.is(node.node, null);
    for (const m of [
      `mutation { updateVolume(input: {id: "${volume.id}", name: "mine"}) { volume { id } } }`,
      `mutation { deleteVolume(input: {id: "${volume.id}"}) { volume { id } } }`,
      `mutation { extendVolume(input: {id: "${volume.id}", newSizeGiB: 9}) { volume { id } } }`,
    ]) {
      t.is((await gql(url, memberB, m)).errors?.[0]?.extensions?.code, 'NOT_FOUND');
    }
    const subB = collect(ws(t, memberB), CHANGED, { id: volume.id }, (d) => d.volumeChanged as Vol);
    const err = (await subB.waitError()) as Err[];
    t.is(err[0]?.extensions?.code, 'NOT_FOUND');
    t.is(subB.values.length, 0);
    const readerSees = await get(t, readerA, volume.id);
    t.is(readerSees?.id, volume.id);
    t.is(readerSees?.host, null, 'host is for admins only');
    t.is((await create(t, readerA, { name: 'nope', sizeGiB: 1 })).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    t.is((await gql(url, memberA, `{ pools { id } }`)).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    eventsA.close();
    eventsB.close();
  });

  test.serial('requests without a valid token are UNAUTHENTICATED, on HTTP and on WebSocket', async (t) => {
    const url = t.context.cluster.url;
    t.is((await gql(url, undefined, `{ volumes { totalCount } }`)).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    t.is((await gql(url, 'flint_not-a-token', `{ volumes { totalCount } }`)).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    const sub = collect(ws(t, 'flint_not-a-token'), EVENTS, {}, (d) => d);
    const err = (await sub.waitError()) as { code?: number };
    t.is(err.code, 4403);
  });

  test.serial('pools and services report both agents, the gateway and the scheduler as UP', async (t) => {
    const r = (await gql(t.context.cluster.url, t.context.cluster.adminToken, `{ pools { id host name driver totalCapacityGiB freeCapacityGiB allocatedCapacityGiB capabilities state } services { role host state } }`)).data as {
      pools: Array<{ id: string; totalCapacityGiB: number; allocatedCapacityGiB: number; capabilities: Record<string, unknown>; state: string }>;
      services: Array<{ role: string; host: string; state: string }>;
    };
    t.deepEqual(r.pools.map((p) => p.id), ['host-a@fast', 'host-b@bulk']);
    t.is(r.pools[0]!.totalCapacityGiB, 100);
    t.is(r.pools[1]!.totalCapacityGiB, 200);
    t.is(r.pools[0]!.capabilities.tier, 'gold');
    t.true(r.pools.every((p) => p.state === 'UP' && p.allocatedCapacityGiB >= 0));
    const up = r.services.filter((s) => s.state === 'UP').map((s) => `${s.role} ${s.host}`).sort();
    t.is(up.length, 4, up.join(', '));
    t.deepEqual(up.slice(0, 2), ['agent host-a', 'agent host-b']);
    t.regex(up[2]!, /^gateway gw:\d+$/);
    t.regex(up[3]!, /^scheduler sched-0:\d+$/);
  });

  test.serial('volumes pages by cursor through every volume exactly once', async (t) => {
    const token = await t.context.cluster.token(`pager-${database}`, 'member');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create(t, token, { name: `p${i}`, sizeGiB: 1 })).data!.createVolume.volume.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const r = (await gql(t.context.cluster.url, token, `query($after: String) { volumes(first: 2, after: $after) { totalCount edges { node { id } cursor } pageInfo { hasNextPage endCursor } } }`, { after })).data as {
        volumes: { totalCount: number; edges: Array<{ node: { id: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
      };
      t.is(r.volumes.totalCount, 5);
      seen.push(...r.volumes.edges.map((e) => e.node.id));
      if (!r.volumes.pageInfo.hasNextPage) break;
      after = r.volumes.pageInfo.endCursor;
    }
    t.deepEqual(seen, ids);
  });
}
