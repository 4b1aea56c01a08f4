/**
 * Subscriptions across gateways (issue 14, "Many hosts"): two gateway processes on one
 * PostgreSQL and one nats-server. A subscriber of `volumeEvents(sinceSeq:)` on gateway A
 * follows changes made through gateway B; A is then killed (SIGKILL) while B keeps changing
 * volumes, and the subscriber resumes from the last `changeSeq` it saw, on the restarted A
 * and on B. What it saw is compared with what the database lists at the end: per volume, in
 * seq order, no seq twice, and ending on the volume's latest state.
 */
import anyTest, { type TestFn } from 'ava';
import { CreateVolumeDocument, DeleteVolumeDocument, ExtendVolumeDocument, FlintClient, UpdateVolumeDocument, VolumeEventsDocument } from '../../src/client/index.js';
import { gql, startCluster, type Cluster } from '../helpers/cluster.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { EventLog, waitForVolume, waitUntil } from '../helpers/wait.js';

interface Ctx {
  cluster: Cluster;
}
const test = anyTest as TestFn<Ctx>;

/** What a subscriber keeps of an event, and what the database lists of a volume. */
interface Seen {
  id: string;
  changeSeq: number;
  version: number;
  status: string;
  name: string;
}

/** `volume(id)` shows no DELETED volume: deleted is gone. */
const gone = (v: { status: string } | null): boolean => v === null || v.status === 'DELETED';

const ALL_STATUSES = 'ATTACHING AVAILABLE AWAITING_TRANSFER BACKING_UP CREATING DELETED DELETING DETACHING ERROR ERROR_DELETING ERROR_EXTENDING ERROR_RESTORING EXTENDING IN_USE MAINTENANCE RESERVED RESTORING_BACKUP RETYPING REVERTING'.split(' ');

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'postgresql',
    gateways: 2,
    agents: [
      { host: 'xg-1', pools: [{ name: 'p', imageFormat: 'raw', capacityGiB: 100 }] },
      { host: 'xg-2', pools: [{ name: 'p', imageFormat: 'raw', capacityGiB: 100 }] },
    ],
  });
  t.context = { cluster };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

/** Every volume of the token's project as gateway `gw` lists it (DELETED too), and the project's seq. */
async function listAll(cluster: Cluster, token: string, gw: number): Promise<{ seq: number; volumes: Map<string, Seen> }> {
  const r = await gql(cluster.urls[gw]!, token, `query($s: [VolumeStatus!]) { volumes(first: 500, filter: { status: $s }) { changeSeq edges { node { id name status version changeSeq } } } }`, { s: ALL_STATUSES });
  if (r.errors) throw new Error(`volumes: ${JSON.stringify(r.errors)}`);
  const conn = (r.data as { volumes: { changeSeq: number; edges: Array<{ node: Seen }> } }).volumes;
  return { seq: conn.changeSeq, volumes: new Map(conn.edges.map((e) => [e.node.id, e.node])) };
}

function follow(c: FlintClient, sinceSeq: number, what: string): EventLog<Seen> {
  return EventLog.of(c.subscribe(VolumeEventsDocument, { sinceSeq }), what, (e) => {
    const v = e.volumeEvents.volume;
    return { id: v.id, changeSeq: v.changeSeq, version: v.version, status: v.status, name: v.name };
  });
}

/** Waits until the last event seen of every listed volume changed after `since` is its listed state. */
async function converged(log: EventLog<Seen>, listed: () => Promise<Map<string, Seen>>, since: number): Promise<Map<string, Seen>> {
  return waitUntil(
    `${log.what} to reach every volume's listed state`,
    async () => {
      const want = await listed();
      const last = new Map(log.values.map((v) => [v.id, v]));
      return { want, behind: [...want.values()].filter((w) => w.changeSeq > since && last.get(w.id)?.changeSeq !== w.changeSeq) };
    },
    (r) => r.behind.length === 0,
    90_000,
  ).then((r) => r.want);
}

/** Per volume: seqs and versions strictly rising (in order, none twice), last one the listed state. */
function checkSequence(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void; true: (v: boolean, m?: string) => void }, events: Seen[], listed: Map<string, Seen>, since: number, what: string): void {
  const byVolume = new Map<string, Seen[]>();
  for (const e of events) byVolume.set(e.id, [...(byVolume.get(e.id) ?? []), e]);
  for (const [id, seen] of byVolume) {
    for (let i = 1; i < seen.length; i++) {
      t.true(seen[i]!.changeSeq > seen[i - 1]!.changeSeq && seen[i]!.version > seen[i - 1]!.version, `${what}: volume ${id} went ${JSON.stringify(seen[i - 1])} then ${JSON.stringify(seen[i])}`);
    }
    t.true(seen[0]!.changeSeq > since, `${what}: volume ${id}'s first event (seq ${seen[0]!.changeSeq}) is after the resume point ${since}`);
  }
  const changed = [...listed.values()].filter((v) => v.changeSeq > since);
  t.deepEqual([...byVolume.keys()].sort(), changed.map((v) => v.id).sort(), `${what}: exactly the volumes changed after seq ${since}`);
  for (const v of changed) t.deepEqual(byVolume.get(v.id)?.at(-1), v, `${what}: volume ${v.id} ends on its listed state`);
}

test.serial('a subscriber on one gateway sees every change made through the other, and resumes after its gateway is killed with nothing missed or repeated', async (t) => {
  const { cluster } = t.context;
  const token = await cluster.token('xgw', 'member');
  // No reconnects of its own: the SDK would subscribe again with the first sinceSeq; this subscriber resumes by hand.
  const onA = new FlintClient({ url: cluster.urls[0]!, token, wsRetries: 0 });
  t.teardown(() => onA.close());
  const onB = cluster.client(token, 1);
  const start = (await listAll(cluster, token, 0)).seq;
  const first = follow(onA, start, 'volumeEvents on gateway A');

  // Changes through B: creates (the agents' events are recorded by either gateway), renames, an extend, a delete.
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await onB.request(CreateVolumeDocument, { input: { name: `xg-${i}`, sizeGiB: 1 } })).createVolume.volume.id);
  for (const id of ids) await waitForVolume(onB, id, 'AVAILABLE');
  for (const id of ids) await onB.request(UpdateVolumeDocument, { input: { id, name: `${id.slice(0, 6)}-r1` } });
  await onB.request(ExtendVolumeDocument, { input: { id: ids[0]!, newSizeGiB: 2 } });
  await onB.request(DeleteVolumeDocument, { input: { id: ids[1]! } });
  await waitForVolume(onB, ids[0]!, 'AVAILABLE');
  await waitForVolume(onB, ids[1]!, gone);
  const listed1 = await converged(first, async () => (await listAll(cluster, token, 1)).volumes, start);
  checkSequence(t, first.values, listed1, start, 'gateway A, live');
  t.true(first.values.length >= ids.length * 2, `more than one event per volume (${first.values.length})`);

  // A dies without a word; B keeps changing volumes, before and while A comes back.
  const resumeAt = Math.max(...first.values.map((v) => v.changeSeq));
  await cluster.killGateway(0);
  await first.waitError(10_000).catch(() => first.waitEnd(10_000));
  let stop = false;
  let renames = 0;
  const mutator = (async () => {
    while (!stop) {
      const id = ids[2 + (renames % 2)]!;
      await onB.request(UpdateVolumeDocument, { input: { id, name: `${id.slice(0, 6)}-m${renames++}` } });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const late = (await onB.request(CreateVolumeDocument, { input: { name: 'xg-late', sizeGiB: 1 } })).createVolume.volume.id;
  await onB.request(DeleteVolumeDocument, { input: { id: ids[0]! } });
  await cluster.startGateway(0);
  const resumedA = follow(cluster.client(token, 0), resumeAt, 'volumeEvents resumed on gateway A');
  const resumedB = follow(onB, resumeAt, 'volumeEvents resumed on gateway B');
  // Let the renames run across both subscriptions' replay/live seam.
  await resumedA.waitFor((v) => v.id === late, 60_000);
  await resumedB.waitFor((v) => v.id === late, 60_000);
  await new Promise((r) => setTimeout(r, 500));
  stop = true;
  await mutator;
  await waitForVolume(onB, late, 'AVAILABLE');
  await waitForVolume(onB, ids[0]!, gone);
  t.true(renames > 5, `renames ran while the subscriptions resumed (${renames})`);

  for (const log of [resumedA, resumedB]) {
    const listed = await converged(log, async () => (await listAll(cluster, token, 1)).volumes, resumeAt);
    checkSequence(t, log.values, listed, resumeAt, log.what);
    // Across the kill: what the subscriber saw before and after is one rising sequence per volume.
    checkSequence(t, [...first.values, ...log.values], listed, start, `${log.what}, with what A sent before its death`);
    t.is(log.error, undefined);
    log.close();
  }
  t.deepEqual([...(await listAll(cluster, token, 0)).volumes.keys()].sort(), [...ids, late].sort(), 'both gateways list the same volumes');
});

test.after.always('no process is left behind', noProcessesLeft);
