/**
 * The live catch-up (src/gateway/live/catch-up.ts) with the real hubs over a real nats-server,
 * on SQLite and PostgreSQL: a change committed without its notice (a gateway that died between
 * the commit and the announcement) reaches this gateway's subscribers from the change log, of
 * every kind in the feed; a change that was announced is not read or sent again; a volume that
 * moved to another project is DELETED for the project it left.
 */
import 'reflect-metadata';
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { type Bus, type LiveAttachment, type LiveBackup, type LiveSnapshot, type LiveVolume } from '../../src/bus/index.js';
import { Attachment, Backup, findVolume, Snapshot, Volume, type Db } from '../../src/db/index.js';
import { BackupLive } from '../../src/gateway/live/backup.js';
import { startLiveCatchUp, type CatchUp } from '../../src/gateway/live/catch-up.js';
import { LiveHub } from '../../src/gateway/live/hub.js';
import { BACKENDS, insertProject, type Backend, type Databases } from '../helpers/databases.js';
import { withBusAndDatabases, type BusAndDatabases } from '../helpers/bus-and-databases.js';
import { noProcessesLeft } from '../helpers/processes.js';

let dbs: Databases;
let bus: Bus;
let env: BusAndDatabases | undefined;

test.before(async () => {
  env = await withBusAndDatabases('catch-up-test');
  ({ bus, dbs } = env);
});

test.after.always(() => env?.close());

const GRACE = 2_000;

function setup(kind: Backend): { db: Db; hub: LiveHub; backups: BackupLive; catchUp: CatchUp; stop(): void } {
  const db = dbs.get(kind);
  const hub = new LiveHub(bus, db);
  const backups = new BackupLive(bus, db);
  const fail = (err: unknown) => {
    throw err;
  };
  hub.start(fail);
  backups.start(fail);
  // A timer far off: the test looks with its own clock.
  const catchUp = startLiveCatchUp(db, [hub.catchUp, backups.catchUp], fail, { everyMs: 3_600_000, graceMs: GRACE });
  return {
    db,
    hub,
    backups,
    catchUp,
    stop: () => {
      catchUp.stop();
      hub.stop();
      backups.stop();
    },
  };
}

const pending = new WeakMap<AsyncIterableIterator<unknown>, Promise<IteratorResult<unknown>>>();

/** The next event, or undefined after `ms` (a read that timed out is kept for the next call, so no event is lost to it). */
async function next<T>(it: AsyncIterableIterator<T>, ms = 1_000): Promise<T | undefined> {
  const read = (pending.get(it) ?? it.next()) as Promise<IteratorResult<T>>;
  pending.set(it, read);
  const r = await Promise.race([read, new Promise<'none'>((res) => setTimeout(() => res('none'), ms))]);
  if (r === 'none') return undefined;
  pending.delete(it);
  return r.done ? undefined : r.value;
}

/** Looks twice, `grace` apart on its clock: the first sees the seqs move, the second reads the stretch. */
async function lookAfterGrace(catchUp: CatchUp): Promise<number> {
  const now = Date.now();
  await catchUp.tick(now);
  return catchUp.tick(now + GRACE);
}

/** A volume row written as a store writes it (the triggers give it its seq), and no notice. */
async function silentVolume(db: Db, projectId: string, name: string): Promise<Volume> {
  const em = db.fork();
  const v = em.create(Volume, { id: randomUUID(), projectId, name, sizeGiB: 1, status: 'creating', availabilityZone: 'nova' });
  await em.insert(Volume, v);
  return (await findVolume(db.fork(), v.id))!;
}

async function silentUpdate<T extends typeof Volume | typeof Snapshot | typeof Backup | typeof Attachment>(db: Db, entity: T, id: string, changes: Record<string, unknown>, versions = 1): Promise<void> {
  const em = db.fork();
  const before = (await em.findOneOrFail(entity as typeof Volume, { id }, { disableIdentityMap: true })) as { version: number };
  await em.nativeUpdate(entity as typeof Volume, { id }, { ...changes, version: before.version + versions });
}

for (const kind of BACKENDS) {
  test.serial(`${kind}: a change committed with no notice reaches the subscribers from the change log, once`, async (t) => {
    const { db, hub, catchUp, stop } = setup(kind);
    t.teardown(stop);
    const project = await insertProject(db);
    const events = hub.listen((ev) => ev.volume.projectId === project);
    t.is(await catchUp.tick(), 0, 'the first look only sets where the log stands');

    const v = await silentVolume(db, project, 'silent');
    t.is(await next(events, 300), undefined, 'no notice, nothing live yet');
    t.is(await catchUp.tick(Date.now()), 0, 'a change younger than the grace is left to its notice');
    t.is(await catchUp.tick(Date.now() + GRACE), 1, 'once older than the grace, the catch-up hands it on');
    const ev = (await next(events)) as LiveVolume;
    t.is(ev?.type, 'CREATED');
    t.is(ev?.volume.id, v.id);
    t.is(ev?.volume.status, 'creating');

    await silentUpdate(db, Volume, v.id, { status: 'deleted' });
    t.is(await lookAfterGrace(catchUp), 1);
    const gone = (await next(events)) as LiveVolume;
    t.is(gone?.type, 'DELETED', 'a delete found in the log is a DELETED, and the row is not moved: no leftView');
    t.is(gone?.volume.projectId, project);
    t.is(gone?.volume.version, v.version + 1);

    t.is(await lookAfterGrace(catchUp), 0, 'nothing new: nothing read or sent again');
    t.is(await next(events, 300), undefined);
  });

  test.serial(`${kind}: a change that was announced is not read again by the catch-up`, async (t) => {
    const { db, hub, catchUp, stop } = setup(kind);
    t.teardown(stop);
    const project = await insertProject(db);
    const events = hub.listen((ev) => ev.volume.projectId === project);
    await catchUp.tick();
    const v = await silentVolume(db, project, 'announced');
    hub.publish('CREATED', v);
    t.is((await next(events))?.volume.id, v.id, 'the notice delivered it');
    t.is(await lookAfterGrace(catchUp), 0, 'the catch-up finds it delivered');
    t.is(await next(events, 300), undefined);
  });

  test.serial(`${kind}: after a notice it could not read, the next look takes the change at once, without the grace`, async (t) => {
    const { db, hub, catchUp, stop } = setup(kind);
    t.teardown(stop);
    const project = await insertProject(db);
    const events = hub.listen((ev) => ev.volume.projectId === project);
    await catchUp.tick();
    // As when the database was out of reach as the notice came: the gateway hurries the catch-up.
    const v = await silentVolume(db, project, 'unread');
    catchUp.hurry();
    t.is(await catchUp.tick(Date.now()), 1, 'no grace to wait');
    t.is((await next(events))?.volume.id, v.id);
  });

  test.serial(`${kind}: snapshots, backups and attachments changed with no notice are caught up too`, async (t) => {
    const { db, hub, backups, catchUp, stop } = setup(kind);
    t.teardown(stop);
    const project = await insertProject(db);
    const snaps = hub.listenSnapshots((ev: LiveSnapshot) => ev.snapshot.projectId === project);
    const atts = hub.listenAttachments((ev: LiveAttachment) => ev.attachment.projectId === project);
    const bks = backups.listenAll((ev: LiveBackup) => ev.backup.projectId === project);
    await catchUp.tick();
    const v = await silentVolume(db, project, 'parent');
    const em = db.fork();
    const s = em.create(Snapshot, { id: randomUUID(), projectId: project, volumeId: v.id, name: 's', sizeGiB: 1, status: 'creating' });
    const b = em.create(Backup, { id: randomUUID(), projectId: project, volumeId: v.id, name: 'b', status: 'creating', sizeGiB: 1, repository: 'dir:/tmp/flint-test' });
    const a = em.create(Attachment, { id: randomUUID(), projectId: project, volumeId: v.id, instanceId: 'i-1', status: 'reserved', mode: 'rw', targetKind: 'iscsi' });
    await em.insert(Snapshot, s);
    await em.insert(Backup, b);
    await em.insert(Attachment, a);
    await silentUpdate(db, Attachment, a.id, { status: 'detached' });
    t.is(await lookAfterGrace(catchUp), 3, 'one each: the attachment read once, at its latest change');
    t.like(await next(snaps), { type: 'CREATED', snapshot: { id: s.id } });
    t.like(await next(bks), { type: 'CREATED', backup: { id: b.id } });
    t.like(await next(atts), { type: 'DELETED', attachment: { id: a.id, status: 'detached' } }, 'a DETACHED attachment is its DELETED');
  });

  test.serial(`${kind}: a volume moved to another project with no notice is DELETED for the project it left`, async (t) => {
    const { db, hub, catchUp, stop } = setup(kind);
    t.teardown(stop);
    const from = await insertProject(db);
    const to = await insertProject(db);
    const left = hub.listen((ev) => ev.volume.projectId === from);
    const joined = hub.listen((ev) => ev.volume.projectId === to);
    await catchUp.tick();
    const v = await silentVolume(db, from, 'moving');
    t.is(await lookAfterGrace(catchUp), 1);
    t.is((await next(left))?.type, 'CREATED');
    // As an accepted transfer moves it: two versions up (src/gateway/mutations/transfer.ts).
    await silentUpdate(db, Volume, v.id, { projectId: to }, 2);
    await lookAfterGrace(catchUp);
    const gone = await next(left);
    t.is(gone?.type, 'DELETED');
    t.is(gone?.volume.projectId, from);
    const came = await next(joined);
    t.is(came?.type, 'CREATED');
    t.is(came?.volume.projectId, to);
  });

  test.serial(`${kind}: with nobody listening nothing is read, and a new subscriber starts from where the log stands`, async (t) => {
    const { db, hub, catchUp, stop } = setup(kind);
    t.teardown(stop);
    const project = await insertProject(db);
    await silentVolume(db, project, 'before anyone listened');
    t.is(await lookAfterGrace(catchUp), 0);
    const events = hub.listen((ev) => ev.volume.projectId === project);
    t.is(await lookAfterGrace(catchUp), 0, 'what was committed before the subscriber came is for its replay (sinceSeq), not the catch-up');
    t.is(await next(events, 300), undefined);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
