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
import {
  CreateVolumeDocument,
  CreateVolumeTypeDocument,
  DeleteVolumeDocument,
  ExtendVolumeDocument,
  NodeDocument,
  OperationChangedDocument,
  OperationDocument,
  OperationsDocument,
  OperationWaitDocument,
  PoolsDocument,
  ServicesDocument,
  UpdateVolumeDocument,
  VolumeChangedDocument,
  VolumeDocument,
  VolumeEventsDocument,
  VolumesDocument,
  type CreateVolumeInput,
  type FlintApiError,
  type VolumesQuery,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { EventLog, waitForOperation, waitForVolume, type VolumeState } from '../helpers/wait.js';
import { collect, wsClient } from '../helpers/ws.js';

interface Ctx {
  cluster: Cluster;
  ws: Client[];
  memberA: string;
  memberB: string;
  readerA: string;
}

type Vol = VolumeState;

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
    await cluster.client().request(CreateVolumeTypeDocument, { input: { name: 'bronze', extraSpecs: { 'capabilities:tier': 'bronze' } } });
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
  const flint = (t: { context: Ctx }, token: string | null) => t.context.cluster.client(token);
  const create = (t: { context: Ctx }, token: string, input: CreateVolumeInput) => flint(t, token).raw(CreateVolumeDocument, { input });
  const get = async (t: { context: Ctx }, token: string, id: string): Promise<Vol | null> => (await flint(t, token).request(VolumeDocument, { id })).volume;
  const changes = (t: { context: Ctx }, token: string, id: string) => EventLog.of(flint(t, token).subscribe(VolumeChangedDocument, { id }), `volumeChanged of ${id}`, (e) => e.volumeChanged);
  const imagePath = (t: { context: Ctx }, v: Pick<Vol, 'id' | 'host' | 'pool'>): string => {
    const fmt = v.pool === 'fast' ? 'qcow2' : 'raw';
    return join(t.context.cluster.poolDir(v.host!, v.pool!), `volume-${v.id}.${fmt}`);
  };

  test.serial('a created volume turns AVAILABLE on the subscription and its image has the right virtual size', async (t) => {
    const r = await create(t, t.context.cluster.adminToken, { name: 'first', sizeGiB: 3, metadata: { purpose: 'e2e' } });
    t.falsy(r.errors);
    const { volume, operation } = r.data!.createVolume;
    t.is(volume.status, 'CREATING');
    t.is(operation.kind, 'create_volume');
    const sub = changes(t, t.context.cluster.adminToken, volume.id);
    const available = await sub.waitFor((v) => v.status === 'AVAILABLE');
    sub.close();
    t.truthy(available.host);
    t.truthy(available.pool);
    t.true(available.version > volume.version);
    t.deepEqual(available.metadata, { purpose: 'e2e' });
    t.is(virtualSize(imagePath(t, available)), 3 * GiB);
    const op = { operation: (await flint(t, t.context.cluster.adminToken).request(OperationDocument, { id: operation.id })).operation! };
    t.is(op.operation.status, 'SUCCEEDED');
    t.truthy(op.operation.finishedAt);
  });

  test.serial('extend grows the image and the volume comes back AVAILABLE at the new size', async (t) => {
    const token = t.context.memberA;
    const { volume } = (await create(t, token, { name: 'grow-me', sizeGiB: 1 })).data!.createVolume;
    await waitForVolume(flint(t, token), volume.id, 'AVAILABLE');
    const sub = changes(t, token, volume.id);
    const r = await flint(t, token).raw(ExtendVolumeDocument, { input: { id: volume.id, newSizeGiB: 4 } });
    t.falsy(r.errors);
    const extending = r.data!.extendVolume.volume;
    t.deepEqual({ status: extending.status, sizeGiB: extending.sizeGiB }, { status: 'EXTENDING', sizeGiB: 1 });
    const done = await sub.waitFor((v) => v.status === 'AVAILABLE' && v.sizeGiB === 4);
    sub.close();
    t.truthy(sub.values.find((v) => v.status === 'EXTENDING'));
    const admin = await get(t, t.context.cluster.adminToken, done.id);
    t.is(virtualSize(imagePath(t, admin!)), 4 * GiB);
    const shrink = await flint(t, token).raw(ExtendVolumeDocument, { input: { id: volume.id, newSizeGiB: 2 } });
    t.is(shrink.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.regex(shrink.errors![0]!.message, /only grow/);
    // The same extend again (a client that timed out): done already, no new operation, no version bump.
    const again = await flint(t, token).raw(ExtendVolumeDocument, { input: { id: volume.id, newSizeGiB: 4 } });
    t.falsy(again.errors, JSON.stringify(again.errors));
    t.is(again.data!.extendVolume.operation, null);
    t.deepEqual({ status: again.data!.extendVolume.volume.status, sizeGiB: again.data!.extendVolume.volume.sizeGiB, version: again.data!.extendVolume.volume.version }, { status: 'AVAILABLE', sizeGiB: 4, version: done.version });
    // A rename to the name it has: the same.
    const rename = await flint(t, token).raw(UpdateVolumeDocument, { input: { id: volume.id, name: 'grow-me' } });
    t.falsy(rename.errors, JSON.stringify(rename.errors));
    t.is(rename.data!.updateVolume.operation, null);
    t.is(rename.data!.updateVolume.volume.version, done.version);
    // With an idempotencyKey, the same extend retried after it succeeded answers with its operation; other parameters are CONFLICT naming it.
    const keyed = { id: volume.id, newSizeGiB: 5, idempotencyKey: 'grow-me-5' };
    const first = (await flint(t, token).request(ExtendVolumeDocument, { input: keyed })).extendVolume.operation!;
    await waitForOperation(flint(t, token), first.id);
    const retried = (await flint(t, token).request(ExtendVolumeDocument, { input: keyed })).extendVolume;
    t.deepEqual({ id: retried.operation?.id, status: retried.operation?.status, sizeGiB: retried.volume.sizeGiB }, { id: first.id, status: 'SUCCEEDED', sizeGiB: 5 });
    const other = await flint(t, token).raw(ExtendVolumeDocument, { input: { ...keyed, newSizeGiB: 6 } });
    t.deepEqual([other.errors?.[0]?.extensions?.code, other.errors?.[0]?.extensions?.operationId, other.errors?.[0]?.extensions?.retryable], ['CONFLICT', first.id, false]);
  });

  test.serial('delete ends with DELETED on the subscription, which then completes, and the image is gone', async (t) => {
    const admin = t.context.cluster.adminToken;
    const { volume } = (await create(t, admin, { name: 'short-lived', sizeGiB: 1 })).data!.createVolume;
    const available = await waitForVolume(flint(t, admin), volume.id, 'AVAILABLE');
    const file = imagePath(t, available);
    t.true(existsSync(file));
    const sub = changes(t, admin, volume.id);
    await sub.waitFor((v) => v.status === 'AVAILABLE');
    const r = await flint(t, admin).raw(DeleteVolumeDocument, { input: { id: volume.id } });
    t.falsy(r.errors);
    t.is(r.data!.deleteVolume.volume.status, 'DELETING');
    t.false(r.data!.deleteVolume.alreadyDeleted);
    const operationId = r.data!.deleteVolume.operation!.id;
    await sub.waitFor((v) => v.status === 'DELETED');
    await sub.waitEnd();
    t.false(existsSync(file));
    t.is(await get(t, admin, volume.id), null);
    // Deleting it again succeeds and says it was gone, with the operation that deleted it.
    const again = await flint(t, admin).raw(DeleteVolumeDocument, { input: { id: volume.id } });
    t.falsy(again.errors, JSON.stringify(again.errors));
    t.true(again.data!.deleteVolume.alreadyDeleted);
    t.is(again.data!.deleteVolume.volume.status, 'DELETED');
    t.deepEqual({ id: again.data!.deleteVolume.operation?.id, status: again.data!.deleteVolume.operation?.status }, { id: operationId, status: 'SUCCEEDED' });
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
    const list = await flint(t, token).request(VolumesDocument, { filter: { name: 'idem' } });
    t.is(list.volumes.totalCount, 1);
    const other = await create(t, token, { ...input, sizeGiB: 2 });
    t.is(other.errors?.[0]?.extensions?.code, 'CONFLICT');
  });

  test.serial('a volume shows its key and a generation that counts a rename and an extension, not status moves; its key after the delete is a CONFLICT', async (t) => {
    const token = t.context.memberA;
    const key = `gen-${database}`;
    const input = { name: 'gen', sizeGiB: 1, idempotencyKey: key };
    const made = (await create(t, token, input)).data!.createVolume.volume;
    t.deepEqual([made.idempotencyKey, made.generation, made.version], [key, 1, 1]);
    const available = await waitForVolume(flint(t, token), made.id, 'AVAILABLE');
    t.is(available.generation, 1, 'being created and placed is not a change of the user');
    t.true(available.version > 1);
    const listed = await flint(t, token).request(VolumesDocument, { filter: { name: 'gen' } });
    t.deepEqual(
      listed.volumes.edges.map((e) => [e.node.id, e.node.idempotencyKey]),
      [[made.id, key]],
    );
    const renamed = (await flint(t, token).request(UpdateVolumeDocument, { input: { id: made.id, name: 'gen-2' } })).updateVolume.volume;
    t.deepEqual([renamed.generation, renamed.version], [2, available.version + 1]);
    const sub = changes(t, token, made.id);
    await flint(t, token).request(ExtendVolumeDocument, { input: { id: made.id, newSizeGiB: 2 } });
    const extended = await sub.waitFor((v) => v.status === 'AVAILABLE' && v.sizeGiB === 2);
    t.is(sub.values.find((v) => v.status === 'EXTENDING')?.generation, 2, 'asking to extend moved the version only');
    t.is(extended.generation, 3);
    t.true(extended.version >= renamed.version + 2, 'the request and the outcome each moved the version');
    await flint(t, token).request(DeleteVolumeDocument, { input: { id: made.id } });
    await sub.waitFor((v) => v.status === 'DELETED');
    sub.close();
    const again = await create(t, token, input);
    t.is(again.errors?.[0]?.extensions?.code, 'CONFLICT');
    t.is(again.errors?.[0]?.extensions?.volumeId, made.id);
    t.regex(again.errors![0]!.message, /which has been deleted; use a new key to create another/);
  });

  test.serial('a volume no pool can hold ends in ERROR with NO_VALID_BACKEND naming each pool and filter', async (t) => {
    const token = t.context.memberA;
    const { volume, operation } = (await create(t, token, { name: 'too-big', sizeGiB: 60_000 })).data!.createVolume;
    await waitForVolume(flint(t, token), volume.id, 'ERROR');
    const op = { operation: (await flint(t, token).request(OperationDocument, { id: operation.id })).operation! };
    t.is(op.operation.status, 'FAILED');
    t.is(op.operation.error!.code, 'NO_VALID_BACKEND');
    t.regex(op.operation.error!.message, /host-a@fast.*CapacityFilter/s);
    t.regex(op.operation.error!.message, /host-b@bulk.*CapacityFilter/s);
    const v = await get(t, token, volume.id);
    t.is(v!.messages![0]!.event, 'create_volume');
    t.is(v!.messages![0]!.message, op.operation.error!.message);
    const del = await flint(t, token).raw(DeleteVolumeDocument, { input: { id: volume.id } });
    t.falsy(del.errors);
    t.is(del.data!.deleteVolume.volume.status, 'DELETED');
  });

  test.serial('a volume type places the volume on the matching pool', async (t) => {
    const admin = t.context.cluster.adminToken;
    const { volume } = (await create(t, admin, { name: 'typed', sizeGiB: 1, volumeType: 'bronze' })).data!.createVolume;
    const v = await waitForVolume(flint(t, admin), volume.id, 'AVAILABLE');
    t.is(v.host, 'host-b');
    t.is(v.pool, 'bulk');
    // An unknown type answers as a private one would (NOT_FOUND): nobody can probe which types exist.
    const bad = await create(t, admin, { name: 'typed', sizeGiB: 1, volumeType: 'platinum' });
    t.is(bad.errors?.[0]?.extensions?.code, 'NOT_FOUND');
  });

  test.serial('a command waits for a stopped agent; a delete of the CREATING volume is queued and runs once the agent has created it', async (t) => {
    const token = t.context.memberA;
    await t.context.cluster.stopAgent('host-b');
    const { volume } = (await create(t, token, { name: 'patient', sizeGiB: 1, volumeType: 'bronze' })).data!.createVolume;
    const sub = changes(t, token, volume.id);
    const del = await flint(t, token).raw(DeleteVolumeDocument, { input: { id: volume.id } });
    t.falsy(del.errors, JSON.stringify(del.errors));
    t.false(del.data!.deleteVolume.alreadyDeleted);
    t.is(del.data!.deleteVolume.volume.status, 'CREATING');
    const queued = del.data!.deleteVolume.operation!;
    t.deepEqual({ kind: queued.kind, status: queued.status }, { kind: 'delete_volume', status: 'PENDING' });
    // Asked again (a client that timed out): the same queued delete, not a second one.
    const again = await flint(t, token).raw(DeleteVolumeDocument, { input: { id: volume.id } });
    t.falsy(again.errors, JSON.stringify(again.errors));
    t.is(again.data!.deleteVolume.operation!.id, queued.id);
    t.is((await get(t, token, volume.id))!.status, 'CREATING');
    t.context.cluster.startAgent('host-b');
    await sub.waitFor((v) => v.status === 'DELETED');
    sub.close();
    const seen = sub.values.map((v) => v.status);
    t.true(seen.indexOf('AVAILABLE') < seen.indexOf('DELETING'), seen.join(' → '));
    t.is((await waitForOperation(flint(t, token), queued.id)).status, 'SUCCEEDED');
    t.is(await get(t, token, volume.id), null);
  });

  test.serial('an operation is the one handle to wait on: operationChanged sends its state first and completes when it ends; operation(id, waitSeconds) long-polls; operations filter by resource', async (t) => {
    const token = t.context.memberA;
    const c = flint(t, token);
    const { volume, operation } = (await create(t, token, { name: 'handle', sizeGiB: 1 })).data!.createVolume;
    // The subscription: every stage once, in order, then it completes.
    const stages = EventLog.of(c.subscribe(OperationChangedDocument, { id: operation.id }), `operationChanged of ${operation.id}`, (e) => e.operationChanged);
    await stages.waitFor((o) => o.status === 'SUCCEEDED');
    await stages.waitEnd();
    const seen = stages.values.map((o) => o.status);
    t.deepEqual(seen, [...new Set(seen)], 'no stage twice');
    t.is(seen.at(-1), 'SUCCEEDED');
    t.truthy(stages.values[0]!.deadlineAt, 'an operation with a command has a deadline');
    // Subscribed after it ended: the final state, then the end.
    const late = EventLog.of(c.subscribe(OperationChangedDocument, { id: operation.id }), 'late operationChanged', (e) => e.operationChanged);
    await late.waitEnd();
    t.deepEqual(late.values.map((o) => o.status), ['SUCCEEDED']);
    // The SDK's wait is this subscription.
    t.is((await c.waitForOperation(operation.id, 30_000)).status, 'SUCCEEDED');
    // The long-poll answers when the operation ends, within the seconds asked.
    const del = (await c.request(DeleteVolumeDocument, { input: { id: volume.id } })).deleteVolume.operation!;
    const polled = (await c.request(OperationWaitDocument, { id: del.id, waitSeconds: 10 })).operation!;
    t.is(polled.status, 'SUCCEEDED');
    t.deepEqual({ typename: polled.resource?.__typename ?? null }, { typename: null }, 'the deleted volume is no longer visible as its resource');
    const created = (await c.request(OperationWaitDocument, { id: operation.id })).operation!;
    t.deepEqual({ typename: created.resource?.__typename ?? null, resourceId: created.resourceId }, { typename: null, resourceId: volume.id });
    const bad = await c.raw(OperationWaitDocument, { id: operation.id, waitSeconds: 61 });
    t.is(errorCode(bad), 'BAD_USER_INPUT');
    // Its history: both operations on it, newest first.
    const history = (await c.request(OperationsDocument, { filter: { resourceId: volume.id } })).operations.edges.map((e) => e.node.kind);
    t.deepEqual(history, ['delete_volume', 'create_volume']);
    // Another project cannot follow it.
    const foreign = await flint(t, t.context.memberB).raw(OperationWaitDocument, { id: operation.id });
    t.is(foreign.data?.operation ?? null, null);
  });

  test.serial('Operation.resource is the resource as it is now', async (t) => {
    const token = t.context.memberA;
    const { volume, operation } = (await create(t, token, { name: 'resourceful', sizeGiB: 1 })).data!.createVolume;
    await waitForVolume(flint(t, token), volume.id, 'AVAILABLE');
    const op = (await flint(t, token).request(OperationWaitDocument, { id: operation.id, waitSeconds: 5 })).operation!;
    t.deepEqual({ typename: op.resource?.__typename, id: op.resource?.id }, { typename: 'Volume', id: volume.id });
  });

  test.serial('bad input is refused with BAD_USER_INPUT listing every problem, and nothing is written', async (t) => {
    const token = t.context.memberA;
    const count = async () => (await flint(t, token).request(VolumesDocument, {})).volumes.totalCount;
    const before = await count();
    const metadata = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const r = await create(t, token, { name: '', sizeGiB: 0, metadata });
    t.is(r.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.regex(r.errors![0]!.message, /name must not be empty/);
    t.regex(r.errors![0]!.message, /sizeGiB must be a whole number/);
    t.regex(r.errors![0]!.message, /at most 64 keys/);
    const long = await create(t, token, { name: 'x'.repeat(256), sizeGiB: 1 });
    t.is(long.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    // Invalid on purpose (a string for an Int): raw text, which no typed document can send.
    const typeErr = await flint(t, token).raw(`mutation { createVolume(input: {name: "x", sizeGiB: "big"}) { volume { id } } }`);
    t.is(typeErr.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.is(await count(), before);
  });

  test.serial('update with a stale expectedVersion is a CONFLICT; with the current one it applies and bumps the version', async (t) => {
    const token = t.context.memberA;
    const { volume } = (await create(t, token, { name: 'to-rename', sizeGiB: 1 })).data!.createVolume;
    const v = await waitForVolume(flint(t, token), volume.id, 'AVAILABLE');
    const stale = await flint(t, token).raw(UpdateVolumeDocument, { input: { id: v.id, name: 'renamed', expectedVersion: v.version - 1 } });
    t.is(stale.errors?.[0]?.extensions?.code, 'CONFLICT');
    const ok = await flint(t, token).raw(UpdateVolumeDocument, { input: { id: v.id, name: 'renamed', metadata: { a: 'b' }, expectedVersion: v.version } });
    t.falsy(ok.errors);
    const updated = ok.data!.updateVolume.volume;
    t.deepEqual({ name: updated.name, version: updated.version, metadata: updated.metadata }, { name: 'renamed', version: v.version + 1, metadata: { a: 'b' } });
    const del = await flint(t, token).raw(DeleteVolumeDocument, { input: { id: v.id, expectedVersion: v.version } });
    t.is(del.errors?.[0]?.extensions?.code, 'CONFLICT');
  });

  test.serial('subscribers of one volume share its events by audience: the admin sees its host, members do not, and each gets every change', async (t) => {
    // The gateway executes each event once per query, variables, role and project (src/gateway/http/shared-subscribe.ts).
    const { memberA, readerA } = t.context;
    const admin = t.context.cluster.adminToken;
    const { volume } = (await create(t, memberA, { name: 'shared', sizeGiB: 1 })).data!.createVolume;
    await waitForVolume(flint(t, memberA), volume.id, 'AVAILABLE');
    const logs = { member1: changes(t, memberA, volume.id), member2: changes(t, memberA, volume.id), reader: changes(t, readerA, volume.id), admin: changes(t, admin, volume.id) };
    for (const log of Object.values(logs)) await log.waitFor((v) => v.status === 'AVAILABLE');
    for (const name of ['shared-1', 'shared-2']) t.falsy((await flint(t, memberA).raw(UpdateVolumeDocument, { input: { id: volume.id, name } })).errors);
    const seen = Object.fromEntries(await Promise.all(Object.entries(logs).map(async ([who, log]) => [who, await log.waitFor((v) => v.name === 'shared-2')] as const)));
    for (const log of Object.values(logs)) log.close();
    t.truthy(seen.admin!.host, 'the admin is shown the host');
    t.truthy(seen.admin!.pool);
    for (const who of ['member1', 'member2', 'reader'] as const) {
      t.is(seen[who]!.host, null, `${who} is not shown the host`);
      t.is(seen[who]!.pool, null);
    }
    t.deepEqual(seen.member1, seen.member2, 'two subscribers of one project and role get the same event');
    t.deepEqual({ ...seen.admin, host: null, pool: null }, seen.member1, 'the rest is the same for everyone');
  });

  test.serial('another project can neither see, change nor subscribe to a volume, and readers cannot mutate', async (t) => {
    const { memberA, memberB, readerA } = t.context;
    const events = (token: string) => EventLog.of(flint(t, token).subscribe(VolumeEventsDocument, {}), 'volumeEvents', (e) => e.volumeEvents);
    const eventsB = events(memberB);
    const eventsA = events(memberA);
    await new Promise((r) => setTimeout(r, 300));
    const { volume } = (await create(t, memberA, { name: 'private', sizeGiB: 1 })).data!.createVolume;
    await waitForVolume(flint(t, memberA), volume.id, 'AVAILABLE');
    await eventsA.waitFor((e) => e.volume.id === volume.id && e.volume.status === 'AVAILABLE');
    t.is(eventsB.values.length, 0);
    t.is(await get(t, memberB, volume.id), null);
    const listB = await flint(t, memberB).request(VolumesDocument, {});
    t.false(listB.volumes.edges.some((e) => e.node.id === volume.id));
    const node = await flint(t, memberB).request(NodeDocument, { id: volume.id });
    t.is(node.node, null);
    const asB = flint(t, memberB);
    for (const m of [
      () => asB.raw(UpdateVolumeDocument, { input: { id: volume.id, name: 'mine' } }),
      () => asB.raw(DeleteVolumeDocument, { input: { id: volume.id } }),
      () => asB.raw(ExtendVolumeDocument, { input: { id: volume.id, newSizeGiB: 9 } }),
    ]) {
      t.is((await m()).errors?.[0]?.extensions?.code, 'NOT_FOUND');
    }
    const subB = changes(t, memberB, volume.id);
    const err = ((await subB.waitError()) as FlintApiError).errors;
    t.is(err[0]?.extensions?.code, 'NOT_FOUND');
    t.is(subB.values.length, 0);
    const readerSees = await get(t, readerA, volume.id);
    t.is(readerSees?.id, volume.id);
    t.is(readerSees?.host, null, 'host is for admins only');
    t.is((await create(t, readerA, { name: 'nope', sizeGiB: 1 })).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    t.is(errorCode(await flint(t, memberA).raw(PoolsDocument)), 'FORBIDDEN');
    eventsA.close();
    eventsB.close();
  });

  test.serial('requests without a valid token are UNAUTHENTICATED, on HTTP and on WebSocket', async (t) => {
    t.is(errorCode(await flint(t, null).raw(VolumesDocument, {})), 'UNAUTHENTICATED');
    t.is(errorCode(await flint(t, 'flint_not-a-token').raw(VolumesDocument, {})), 'UNAUTHENTICATED');
    // The close code itself (4403) is what is checked: a bare graphql-ws client, not the SDK (which turns it into UNAUTHENTICATED).
    const sub = collect(ws(t, 'flint_not-a-token'), 'subscription { volumeEvents { type } }', {}, (d) => d);
    const err = (await sub.waitError()) as { code?: number };
    t.is(err.code, 4403);
  });

  test.serial('pools and services report both agents, the gateway and the scheduler as UP', async (t) => {
    const admin = flint(t, t.context.cluster.adminToken);
    const r = { ...(await admin.request(PoolsDocument)), ...(await admin.request(ServicesDocument)) };
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

  test.serial('volumes pages by cursor through every volume exactly once, forwards and backwards', async (t) => {
    const token = await t.context.cluster.token(`pager-${database}`, 'member');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create(t, token, { name: `p${i}`, sizeGiB: 1 })).data!.createVolume.volume.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const r: VolumesQuery = await flint(t, token).request(VolumesDocument, { first: 2, after });
      t.is(r.volumes.totalCount, 5);
      seen.push(...r.volumes.edges.map((e) => e.node.id));
      if (!r.volumes.pageInfo.hasNextPage) break;
      after = r.volumes.pageInfo.endCursor;
    }
    t.deepEqual(seen, ids);
    // Backwards with the SDK's document: last/before from the end meet the same volumes.
    const back: string[][] = [];
    let before: string | null = null;
    for (let page = 0; page < 5; page++) {
      const r: VolumesQuery = await flint(t, token).request(VolumesDocument, { last: 2, before });
      back.unshift(r.volumes.edges.map((e) => e.node.id));
      if (!r.volumes.pageInfo.hasPreviousPage) break;
      before = r.volumes.pageInfo.startCursor;
    }
    t.deepEqual(back, [ids.slice(0, 1), ids.slice(1, 3), ids.slice(3)]);
  });

  test.serial('list, then watch from the list\'s changeSeq: a change made while no one listened is replayed, then live ones follow; a seq the feed does not have is RESYNC_REQUIRED', async (t) => {
    const token = await t.context.cluster.token(`feed-${database}`, 'member');
    const c = flint(t, token);
    const { volume } = (await create(t, token, { name: 'feed-1', sizeGiB: 1 })).data!.createVolume;
    await waitForVolume(c, volume.id, 'AVAILABLE');
    const listed = (await c.request(VolumesDocument, {})).volumes;
    const seq = listed.changeSeq!;
    t.true(Number.isInteger(seq) && seq > 0, `the list's changeSeq (${seq})`);
    // No subscription is open: only the feed knows about this change.
    await c.request(UpdateVolumeDocument, { input: { id: volume.id, name: 'feed-renamed' } });
    const events = EventLog.of(c.subscribe(VolumeEventsDocument, { sinceSeq: seq }), 'volumeEvents from the list', (e) => e.volumeEvents);
    const replayed = await events.waitFor((e) => e.volume.id === volume.id);
    t.deepEqual({ type: replayed.type, name: replayed.volume.name }, { type: 'UPDATED', name: 'feed-renamed' });
    t.true(replayed.volume.changeSeq > seq);
    const { volume: second } = (await create(t, token, { name: 'feed-2', sizeGiB: 1 })).data!.createVolume;
    const live = await events.waitFor((e) => e.volume.id === second.id);
    t.is(live.type, 'CREATED');
    t.true(live.volume.changeSeq > replayed.volume.changeSeq);
    t.is(events.values.filter((e) => e.volume.id === volume.id).length, 1, 'the renamed volume once: its replayed state');
    events.close();
    const ahead = EventLog.of(c.subscribe(VolumeEventsDocument, { sinceSeq: seq + 1_000_000 }), 'volumeEvents ahead of the feed', (e) => e.volumeEvents);
    const err = ((await ahead.waitError()) as FlintApiError).errors;
    t.is(err[0]?.extensions?.code, 'RESYNC_REQUIRED');
    t.regex(err[0]?.message ?? '', /list again/);
    await waitForVolume(c, second.id, 'AVAILABLE');
  });
}
