/**
 * The change feed's triggers and reads (src/db/change-feed-sql.ts, src/db/change-feed.ts)
 * against a real SQLite file and a real PostgreSQL database: every insert and update of a
 * volume, snapshot, backup or attachment takes its project's next seq and leaves it on the
 * row, projects count apart, a transfer logs DELETED in the project left, the ORM's inserts
 * read their seq back, and the retention sweep deletes old events and remembers how far.
 */
import 'reflect-metadata';
import test from 'ava';
import { randomUUID } from 'node:crypto';
import {
  Attachment,
  Backup,
  ChangeEvent,
  changedSince,
  feedPosition,
  latestSeqOf,
  pruneChangeEvents,
  Snapshot,
  Volume,
  type Db,
} from '../../src/db/index.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { BACKENDS, insertProject, openDatabases, type Backend, type Databases } from '../helpers/databases.js';

let databases: Databases | undefined;
test.before(async () => {
  databases = await openDatabases('flint-db-feed-');
});
test.after.always(async () => {
  await databases?.close();
});
const db = (kind: Backend): Db => databases!.get(kind);

const newProject = insertProject;

async function seqOf(d: Db, entity: typeof Volume | typeof Snapshot | typeof Backup | typeof Attachment, id: string): Promise<number> {
  const row = (await d.fork().findOne(entity as typeof Volume, { id }, { disableIdentityMap: true })) as { changeSeq: number } | null;
  return Number(row?.changeSeq);
}

async function events(d: Db, projectId: string) {
  const rows = await d.fork().find(ChangeEvent, { projectId }, { orderBy: { seq: 'asc' }, disableIdentityMap: true });
  return rows.map((e) => ({ seq: Number(e.seq), resourceType: e.resourceType, resourceId: e.resourceId, type: e.type, version: e.version }));
}

for (const kind of BACKENDS) {
  test(`${kind}: every insert and update of a volume, snapshot, backup and attachment takes the project's next seq and leaves it on the row`, async (t) => {
    const d = db(kind);
    const p = await newProject(d);
    t.deepEqual(await feedPosition(d.fork(), p), { seq: 0, prunedSeq: 0 });
    const em = d.fork();
    const v = randomUUID();
    await em.insert(Volume, em.create(Volume, { id: v, projectId: p, name: 'v', sizeGiB: 1, status: 'creating', availabilityZone: 'nova' }));
    t.is(await seqOf(d, Volume, v), 1);
    await em.nativeUpdate(Volume, { id: v }, { status: 'available', version: 2 });
    t.is(await seqOf(d, Volume, v), 2);
    const s = randomUUID();
    await em.insert(Snapshot, em.create(Snapshot, { id: s, projectId: p, volumeId: v, name: 's', sizeGiB: 1, status: 'creating' }));
    await em.nativeUpdate(Snapshot, { id: s }, { status: 'available', version: 2 });
    t.is(await seqOf(d, Snapshot, s), 4);
    const b = randomUUID();
    await em.insert(Backup, em.create(Backup, { id: b, projectId: p, volumeId: v, name: 'b', sizeGiB: 1, status: 'creating', repository: 'dir:/x' }));
    await em.nativeUpdate(Backup, { id: b }, { status: 'available', version: 2 });
    t.is(await seqOf(d, Backup, b), 6);
    const a = randomUUID();
    await em.insert(Attachment, em.create(Attachment, { id: a, projectId: p, volumeId: v, instanceId: 'vm', status: 'reserved', mode: 'rw', targetKind: 'iscsi' }));
    await em.nativeUpdate(Attachment, { id: a }, { status: 'attached', version: 2 });
    t.is(await seqOf(d, Attachment, a), 8);
    await em.nativeUpdate(Volume, { id: v }, { status: 'deleted', version: 3 });
    t.is(await seqOf(d, Volume, v), 9);
    t.deepEqual(await feedPosition(d.fork(), p), { seq: 9, prunedSeq: 0 });
    t.deepEqual(
      (await events(d, p)).map((e) => `${e.seq} ${e.resourceType} ${e.type} v${e.version}`),
      [
        '1 volume CREATED v1',
        '2 volume UPDATED v2',
        '3 snapshot CREATED v1',
        '4 snapshot UPDATED v2',
        '5 backup CREATED v1',
        '6 backup UPDATED v2',
        '7 attachment CREATED v1',
        '8 attachment UPDATED v2',
        '9 volume DELETED v3',
      ],
    );
    // The replay's read: each resource once, at its latest change, in the order of those changes.
    t.deepEqual(await changedSince(d.fork(), p, 'volume', 0, 10), [{ resourceId: v, seq: 9, created: true }]);
    t.deepEqual(await changedSince(d.fork(), p, 'snapshot', 3, 10), [{ resourceId: s, seq: 4, created: false }]);
    t.deepEqual(await changedSince(d.fork(), p, 'snapshot', 4, 10), []);
  });

  test(`${kind}: two projects count apart and never see each other's events`, async (t) => {
    const d = db(kind);
    const [p1, p2] = [await newProject(d), await newProject(d)];
    const em = d.fork();
    for (const [p, n] of [[p1, 3], [p2, 2]] as const) {
      for (let i = 0; i < n; i++) await em.insert(Volume, em.create(Volume, { id: randomUUID(), projectId: p, name: `v${i}`, sizeGiB: 1, status: 'available', availabilityZone: 'nova' }));
    }
    t.is((await feedPosition(d.fork(), p1)).seq, 3);
    t.is((await feedPosition(d.fork(), p2)).seq, 2);
    t.is((await changedSince(d.fork(), p1, 'volume', 0, 10)).length, 3);
    t.is((await changedSince(d.fork(), p2, 'volume', 0, 10)).length, 2);
  });

  test(`${kind}: a volume moved to another project is DELETED in the one it left and CREATED in the one it joined`, async (t) => {
    const d = db(kind);
    const [from, to] = [await newProject(d), await newProject(d)];
    const em = d.fork();
    const v = randomUUID();
    await em.insert(Volume, em.create(Volume, { id: v, projectId: from, name: 'v', sizeGiB: 1, status: 'available', availabilityZone: 'nova' }));
    await em.nativeUpdate(Volume, { id: v }, { projectId: to, version: 3 });
    t.deepEqual((await events(d, from)).map((e) => `${e.seq} ${e.type}`), ['1 CREATED', '2 DELETED']);
    t.deepEqual((await events(d, to)).map((e) => `${e.seq} ${e.type}`), ['1 CREATED']);
    t.is(await seqOf(d, Volume, v), 1);
    t.is(await latestSeqOf(d.fork(), from, v), 2);
  });

  test(`${kind}: an update that changes nothing but the row's seq is not a change, and the ORM's insert reads its seq back`, async (t) => {
    const d = db(kind);
    const p = await newProject(d);
    const em = d.fork();
    const v = em.create(Volume, { id: randomUUID(), projectId: p, name: 'v', sizeGiB: 1, status: 'available', availabilityZone: 'nova' });
    await em.flush();
    t.is(v.changeSeq, 1, 'the entity has the seq its insert took');
    v.name = 'renamed';
    await em.flush();
    t.is(await seqOf(d, Volume, v.id), 2, 'one change, one seq: the ORM did not write change_seq back');
    t.is(v.changeSeq, 2, 'and an ORM update reads its seq back too');
    t.is((await feedPosition(d.fork(), p)).seq, 2);
  });

  test(`${kind}: the retention sweep deletes events older than the cutoff and records the latest seq it deleted`, async (t) => {
    const d = db(kind);
    const p = await newProject(d);
    const em = d.fork();
    const v = randomUUID();
    await em.insert(Volume, em.create(Volume, { id: v, projectId: p, name: 'v', sizeGiB: 1, status: 'available', availabilityZone: 'nova' }));
    await em.nativeUpdate(Volume, { id: v }, { name: 'w', version: 2 });
    // The first two events are an hour old; a third is new.
    await em.nativeUpdate(ChangeEvent, { projectId: p }, { at: Date.now() - 3_600_000 });
    await em.nativeUpdate(Volume, { id: v }, { name: 'x', version: 3 });
    const deleted = await pruneChangeEvents(d.fork(), new Date(Date.now() - 60_000));
    t.true(deleted >= 2);
    t.deepEqual(await feedPosition(d.fork(), p), { seq: 3, prunedSeq: 2 });
    t.deepEqual((await events(d, p)).map((e) => e.seq), [3]);
    // Nothing older left: another sweep changes nothing for this project.
    await pruneChangeEvents(d.fork(), new Date(Date.now() - 60_000));
    t.deepEqual(await feedPosition(d.fork(), p), { seq: 3, prunedSeq: 2 });
  });
}

test.after.always('no process is left behind', noProcessesLeft);
