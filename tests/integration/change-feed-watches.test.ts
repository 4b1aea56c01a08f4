/**
 * The change feed through the gateway (src/gateway/queries/reads.ts, watches.ts,
 * change-replay.ts, src/gateway/live/hub.ts) on both databases, with the real live hub over
 * an in-memory loopback instead of NATS: lists return the project's changeSeq;
 * `volumeEvents(sinceSeq:)`, `snapshotEvents`, `backupEvents` (through the real BackupLive) and
 * `attachmentEvents` replay what changed after it, then go live, with live events that come
 * during the replay held behind it; another project's changes never show; and a seq the feed
 * cannot replay is RESYNC_REQUIRED.
 */
import 'reflect-metadata';
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Bus, LiveAttachment, LiveBackup, LiveVolume } from '../../src/bus/index.js';
import {
  Attachment,
  Backup,
  ChangeEvent,
  feedPosition,
  findAttachment,
  findBackup,
  findVolume,
  Project,
  pruneChangeEvents,
  Snapshot,
  toVolumeView,
  type Db,
  type Principal,
} from '../../src/db/index.js';
import { BadInputError, FlintError, ResyncRequiredError } from '../../src/domain/index.js';
import { formatError } from '../../src/gateway/http/errors.js';
import { BackupLive } from '../../src/gateway/live/backup.js';
import { LiveHub } from '../../src/gateway/live/hub.js';
import { VolumeMutations } from '../../src/gateway/mutations/volume.js';
import { Reads } from '../../src/gateway/queries/reads.js';
import { Watches } from '../../src/gateway/queries/watches.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { BACKENDS, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { recordingDeps } from '../helpers/recording-deps.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-feed-watch-');
});
test.after.always(async () => {
  await dbs?.close();
});

/** Core NATS as the hub and BackupLive use it, in memory: what is published reaches every subscription (each checks the kind). */
function loopbackBus(): Bus {
  type Deliver = (err: Error | null, msg: { subject: string; data: Uint8Array }) => void;
  const subs = new Set<Deliver>();
  const nc = {
    subscribe: (_subject: string, opts: { callback: Deliver }) => {
      const deliver: Deliver = (err, msg) => opts.callback(err, msg);
      subs.add(deliver);
      return { unsubscribe: () => subs.delete(deliver) };
    },
    publish: (subject: string, data: Uint8Array) => queueMicrotask(() => subs.forEach((d) => d(null, { subject, data }))),
  };
  return { nc, js: { publish: async () => ({ seq: 1 }) } } as unknown as Bus;
}

async function member(db: Db): Promise<Principal> {
  const id = randomUUID();
  const em = db.fork();
  await em.insert(Project, em.create(Project, { id, name: `f-${id.slice(0, 8)}` }));
  return { tokenId: randomUUID(), projectId: id, projectName: `f-${id.slice(0, 8)}`, role: 'member' };
}

const admin: Principal = { tokenId: randomUUID(), projectId: randomUUID(), projectName: 'admin', role: 'admin' };

function setup(kind: Backend) {
  const db = dbs.get(kind);
  const bus = loopbackBus();
  const hub = new LiveHub(bus, db);
  const backupLive = new BackupLive(bus, db);
  const fail = (err: unknown) => {
    throw err;
  };
  hub.start(fail);
  backupLive.start(fail);
  const { deps } = recordingDeps(db);
  const volumes = new VolumeMutations({ ...deps, live: hub });
  const watches = new Watches({ db, live: hub, volumes: {} as never, snapshots: {} as never, attachments: {} as never, backups: { live: backupLive } as never });
  const stop = () => {
    hub.stop();
    backupLive.stop();
  };
  return { db, hub, backupLive, volumes, watches, reads: new Reads(db), stop };
}

/** The next `n` events, or a failure after `ms`. */
async function take<T>(it: AsyncIterableIterator<T>, n: number, ms = 5_000): Promise<T[]> {
  const out: T[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n) {
    const left = deadline - Date.now();
    const next = await Promise.race([it.next(), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(0, left)))]);
    if (next === 'timeout') throw new Error(`only ${out.length} of ${n} events came within ${ms} ms: ${JSON.stringify(out)}`);
    if (next.done) throw new Error(`the subscription ended after ${out.length} of ${n} events`);
    out.push(next.value);
  }
  return out;
}

/** Whether another event comes within `ms`. */
async function quiet<T>(it: AsyncIterableIterator<T>, ms = 300): Promise<boolean> {
  const next = await Promise.race([it.next(), new Promise<'quiet'>((r) => setTimeout(() => r('quiet'), ms))]);
  return next === 'quiet';
}

const brief = (ev: LiveVolume) => `${ev.type} ${ev.volume.name}`;
const backupBrief = (ev: LiveBackup) => `${ev.type} ${ev.backup.name} ${ev.backup.status}`;
const attachmentBrief = (ev: LiveAttachment) => `${ev.type} ${ev.attachment.instanceId} ${ev.attachment.status}`;

/**
 * Backup and attachment rows written as the gateway's stores write them (the triggers give
 * each write its seq), without announcing them: each test announces what it wants live.
 */
function rows(db: Db) {
  return {
    async backup(p: Principal, volumeId: string, name: string): Promise<Backup> {
      const em = db.fork();
      const b = em.create(Backup, { id: randomUUID(), projectId: p.projectId, volumeId, name, status: 'creating', sizeGiB: 1, repository: 'dir:/tmp/flint-test' });
      await em.insert(Backup, b);
      return (await findBackup(db.fork(), b.id))!;
    },
    async changeBackup(id: string, changes: Partial<Pick<Backup, 'status' | 'name'>>): Promise<Backup> {
      const before = (await findBackup(db.fork(), id))!;
      await db.fork().nativeUpdate(Backup, { id }, { ...changes, version: before.version + 1 });
      return (await findBackup(db.fork(), id))!;
    },
    async attachment(p: Principal, volumeId: string, instanceId: string): Promise<Attachment> {
      const em = db.fork();
      const a = em.create(Attachment, { id: randomUUID(), projectId: p.projectId, volumeId, instanceId, status: 'reserved', mode: 'rw', targetKind: 'iscsi' });
      await em.insert(Attachment, a);
      return (await findAttachment(db.fork(), a.id))!;
    },
    async changeAttachment(id: string, status: Attachment['status']): Promise<Attachment> {
      const before = (await findAttachment(db.fork(), id))!;
      await db.fork().nativeUpdate(Attachment, { id }, { status, version: before.version + 1 });
      return (await findAttachment(db.fork(), id))!;
    },
  };
}

/** Each event's changeSeq is set and above the one before it: the events come in the feed's order, none repeated. */
function inSeqOrder(t: { true(v: boolean, m?: string): void }, seqs: Array<number | undefined>, after: number): void {
  let last = after;
  for (const seq of seqs) {
    t.true(seq !== undefined && seq > last, `changeSeq ${seq} after ${last}`);
    last = seq ?? last;
  }
}

for (const kind of BACKENDS) {
  test(`${kind}: a list returns its project's changeSeq; an admin's over every project has none, one over a project has that project's`, async (t) => {
    const { volumes, reads, db } = setup(kind);
    const p = await member(db);
    const { volume } = await volumes.create(p, { name: 'a', sizeGiB: 1 });
    t.true(volume.changeSeq > 0, 'the mutation answers with the seq its insert took');
    const page = await reads.volumes(p, { first: 10 });
    t.is(page.changeSeq, (await feedPosition(db.fork(), p.projectId)).seq);
    t.is(page.changeSeq, volume.changeSeq);
    t.is((await reads.volumes(admin, { first: 10 })).changeSeq, null);
    t.is((await reads.volumes(admin, { first: 10, filter: { projectId: p.projectId } })).changeSeq, volume.changeSeq);
    t.is((await reads.snapshots(p, { first: 10 })).changeSeq, volume.changeSeq, 'one sequence per project, for every list');
    t.is((await reads.attachments(p, { first: 10 })).changeSeq, volume.changeSeq);
    t.is((await reads.backups(p, { first: 10 })).changeSeq, volume.changeSeq);
  });

  test(`${kind}: volumeEvents(sinceSeq) replays what changed after the list, once per volume in the order of the changes, then goes live`, async (t) => {
    const { volumes, reads, watches, db, hub } = setup(kind);
    const p = await member(db);
    const { volume: a } = await volumes.create(p, { name: 'a', sizeGiB: 1 });
    const { volume: b } = await volumes.create(p, { name: 'b', sizeGiB: 1 });
    const listed = await reads.volumes(p, { first: 10 });
    // While no one listens: b renamed twice (one replayed event, its latest state), then c created.
    await volumes.update(p, { id: b.id, name: 'b2' });
    await volumes.update(p, { id: b.id, name: 'b3' });
    await volumes.create(p, { name: 'c', sizeGiB: 1 });
    const it = await watches.volumes(p, null, listed.changeSeq);
    const replayed = await take(it, 2);
    t.deepEqual(replayed.map(brief), ['UPDATED b3', 'CREATED c']);
    t.true(replayed[0]!.volume.changeSeq! < replayed[1]!.volume.changeSeq!);
    await volumes.update(p, { id: a.id, name: 'a2' });
    t.deepEqual((await take(it, 1)).map(brief), ['UPDATED a2']);
    await it.return?.();
    hub.stop();
  });

  test(`${kind}: a live change that comes while the replay is read waits behind it, and an older state of a replayed volume is dropped`, async (t) => {
    const { volumes, db, hub } = setup(kind);
    const p = await member(db);
    const { volume: a } = await volumes.create(p, { name: 'a', sizeGiB: 1 });
    const { volume: b } = await volumes.create(p, { name: 'b', sizeGiB: 1 });
    let resolve!: (evs: LiveVolume[]) => void;
    const replay = new Promise<LiveVolume[]>((r) => (resolve = r));
    const it = hub.listen((ev) => ev.volume.projectId === p.projectId, { replay });
    await volumes.update(p, { id: a.id, name: 'a-live' });
    await volumes.update(p, { id: b.id, name: 'b-live' });
    t.true(await quiet(it), 'nothing before the replay');
    // The replay read after those changes: a as it is now (newer than its held event), b as it was.
    const aNow = toVolumeView((await findVolume(db.fork(), a.id))!);
    resolve([{ type: 'UPDATED', volume: { ...aNow, name: 'a-replayed' } }, { type: 'UPDATED', volume: toVolumeView(b) }]);
    t.deepEqual((await take(it, 3)).map(brief), ['UPDATED a-replayed', 'UPDATED b', 'UPDATED b-live']);
    t.true(await quiet(it), 'the held event of a is not newer than its replayed state: dropped');
    await it.return?.();
    hub.stop();
  });

  test(`${kind}: another project's changes are neither replayed nor sent live, and its seq is its own`, async (t) => {
    const { volumes, watches, db, hub } = setup(kind);
    const [p, other] = [await member(db), await member(db)];
    await volumes.create(other, { name: 'theirs', sizeGiB: 1 });
    const it = await watches.volumes(p, null, 0);
    await volumes.create(other, { name: 'theirs-too', sizeGiB: 1 });
    await volumes.create(p, { name: 'mine', sizeGiB: 1 });
    t.deepEqual((await take(it, 1)).map(brief), ['CREATED mine']);
    t.true(await quiet(it));
    t.is((await feedPosition(db.fork(), p.projectId)).seq, 1);
    t.is((await feedPosition(db.fork(), other.projectId)).seq, 2);
    await it.return?.();
    hub.stop();
  });

  test(`${kind}: snapshotEvents(sinceSeq) replays the snapshots changed after the seq`, async (t) => {
    const { volumes, reads, watches, db, hub } = setup(kind);
    const p = await member(db);
    const { volume } = await volumes.create(p, { name: 'v', sizeGiB: 1 });
    const listed = await reads.snapshots(p, { first: 10 });
    const em = db.fork();
    const id = randomUUID();
    await em.insert(Snapshot, em.create(Snapshot, { id, projectId: p.projectId, volumeId: volume.id, name: 's', sizeGiB: 1, status: 'creating' }));
    await em.nativeUpdate(Snapshot, { id }, { status: 'available', version: 2 });
    const it = await watches.snapshots(p, null, listed.changeSeq);
    const [ev] = await take(it, 1);
    t.is(ev!.type, 'CREATED', 'made after the seq: CREATED, in its state now');
    t.is(ev!.snapshot.status, 'available');
    t.is(ev!.snapshot.version, 2);
    await it.return?.();
    hub.stop();
  });

  test(`${kind}: a sinceSeq the feed no longer keeps is RESYNC_REQUIRED, not retryable, and says to list again`, async (t) => {
    const { volumes, watches, db, hub } = setup(kind);
    const p = await member(db);
    const { volume } = await volumes.create(p, { name: 'v', sizeGiB: 1 });
    await volumes.update(p, { id: volume.id, name: 'w' });
    await db.fork().nativeUpdate(ChangeEvent, { projectId: p.projectId }, { at: Date.now() - 3_600_000 });
    await pruneChangeEvents(db.fork(), new Date(Date.now() - 60_000));
    const err = await t.throwsAsync(watches.volumes(p, null, 0), { instanceOf: ResyncRequiredError });
    t.is(err.code, 'RESYNC_REQUIRED');
    t.regex(err.message, /list again and resubscribe with sinceSeq set to the list's changeSeq/);
    const formatted = formatError({ message: err.message }, err, pino({ level: 'silent' }));
    t.is(formatted.extensions?.code, 'RESYNC_REQUIRED');
    t.is(formatted.extensions?.retryable, false);
    // From the seq of the latest change, nothing is missing: it subscribes.
    const it = await watches.volumes(p, null, 2);
    t.true(await quiet(it));
    await it.return?.();
    hub.stop();
  });

  test(`${kind}: a sinceSeq ahead of the project's feed is RESYNC_REQUIRED; a bad one, or an admin's without filter.projectId, is BAD_USER_INPUT`, async (t) => {
    const { watches, db, hub } = setup(kind);
    const p = await member(db);
    await t.throwsAsync(watches.volumes(p, null, 5), { instanceOf: ResyncRequiredError, message: /ahead of this project's change feed/ });
    for (const bad of [-1, 1.5]) await t.throwsAsync(watches.volumes(p, null, bad), { instanceOf: BadInputError, message: /sinceSeq must be a whole number/ });
    const e = await t.throwsAsync(watches.volumes(admin, null, 0), { instanceOf: FlintError });
    t.is(e.code, 'BAD_USER_INPUT');
    t.regex(e.message, /filter\.projectId/);
    const it = await watches.volumes(admin, { projectId: p.projectId }, 0);
    t.true(await quiet(it));
    await it.return?.();
    hub.stop();
  });
}

for (const kind of BACKENDS) {
  test(`${kind}: backupEvents(sinceSeq) after a list replays each changed backup once, a deleted one as DELETED, then goes live with nothing repeated`, async (t) => {
    const { volumes, reads, watches, db, backupLive, stop } = setup(kind);
    const r = rows(db);
    const p = await member(db);
    const { volume } = await volumes.create(p, { name: 'v', sizeGiB: 1 });
    const a = await r.backup(p, volume.id, 'a');
    const b = await r.backup(p, volume.id, 'b');
    const listed = await reads.backups(p, { first: 10 });
    t.is(listed.changeSeq, b.changeSeq);
    // While no one listens: b finishes, c is made, a is deleted; none is announced yet.
    await r.changeBackup(b.id, { status: 'available' });
    const c = await r.backup(p, volume.id, 'c');
    const aDeleted = await r.changeBackup(a.id, { status: 'deleted' });
    const it = await watches.backups(p, null, listed.changeSeq);
    const replayed = await take(it, 3);
    t.deepEqual(replayed.map(backupBrief), ['UPDATED b available', 'CREATED c creating', 'DELETED a deleted']);
    inSeqOrder(t, replayed.map((ev) => ev.backup.changeSeq), listed.changeSeq!);
    // Their live notices come late, after the replay: already sent, not sent again.
    backupLive.publish('UPDATED', (await findBackup(db.fork(), b.id))!);
    backupLive.publish('CREATED', c);
    backupLive.publish('UPDATED', aDeleted);
    const cDone = await r.changeBackup(c.id, { status: 'available' });
    backupLive.publish('UPDATED', cDone);
    const [live] = await take(it, 1);
    t.is(backupBrief(live!), 'UPDATED c available');
    t.is(live!.backup.changeSeq, cDone.changeSeq, 'a live event carries the seq of its change');
    inSeqOrder(t, [live!.backup.changeSeq], replayed.at(-1)!.backup.changeSeq!);
    t.true(await quiet(it), 'nothing repeated');
    await it.return?.();
    stop();
  });

  test(`${kind}: attachmentEvents(sinceSeq) after a list replays each changed attachment once, a DETACHED one as DELETED, then goes live with nothing repeated`, async (t) => {
    const { volumes, reads, watches, db, hub, stop } = setup(kind);
    const r = rows(db);
    const p = await member(db);
    const { volume } = await volumes.create(p, { name: 'v', sizeGiB: 1 });
    const a = await r.attachment(p, volume.id, 'i-a');
    const b = await r.attachment(p, volume.id, 'i-b');
    const listed = await reads.attachments(p, { first: 10 });
    t.is(listed.changeSeq, b.changeSeq);
    await r.changeAttachment(b.id, 'attaching');
    await r.changeAttachment(b.id, 'attached');
    const c = await r.attachment(p, volume.id, 'i-c');
    const aDetached = await r.changeAttachment(a.id, 'detached');
    const it = await watches.attachments(p, null, listed.changeSeq);
    const replayed = await take(it, 3);
    t.deepEqual(replayed.map(attachmentBrief), ['UPDATED i-b attached', 'CREATED i-c reserved', 'DELETED i-a detached']);
    inSeqOrder(t, replayed.map((ev) => ev.attachment.changeSeq), listed.changeSeq!);
    hub.publishAttachment('UPDATED', (await findAttachment(db.fork(), b.id))!);
    hub.publishAttachment('CREATED', c);
    hub.publishAttachment('UPDATED', aDetached);
    const cGone = await r.changeAttachment(c.id, 'detached');
    hub.publishAttachment('UPDATED', cGone);
    const [live] = await take(it, 1);
    t.is(attachmentBrief(live!), 'DELETED i-c detached', 'live too, DETACHED is DELETED');
    t.is(live!.attachment.changeSeq, cGone.changeSeq, 'a live event carries the seq of its change');
    inSeqOrder(t, [live!.attachment.changeSeq], replayed.at(-1)!.attachment.changeSeq!);
    t.true(await quiet(it), 'nothing repeated');
    await it.return?.();
    stop();
  });

  test(`${kind}: backupEvents and attachmentEvents without sinceSeq are live only; another project's changes show neither live nor replayed`, async (t) => {
    const { volumes, watches, db, hub, backupLive, stop } = setup(kind);
    const r = rows(db);
    const [p, other] = [await member(db), await member(db)];
    const { volume } = await volumes.create(p, { name: 'v', sizeGiB: 1 });
    const { volume: theirVolume } = await volumes.create(other, { name: 'theirs', sizeGiB: 1 });
    const before = await r.backup(p, volume.id, 'before');
    await r.attachment(p, volume.id, 'i-before');
    await r.backup(other, theirVolume.id, 'theirs-before');
    await r.attachment(other, theirVolume.id, 'i-theirs-before');
    const backupsLive = await watches.backups(p, null);
    const attachmentsLive = await watches.attachments(p, null);
    const backupsReplayed = await watches.backups(p, null, 0);
    const attachmentsReplayed = await watches.attachments(p, null, 0);
    t.deepEqual((await take(backupsReplayed, 1)).map(backupBrief), ['CREATED before creating'], 'the replay is of this project only');
    t.deepEqual((await take(attachmentsReplayed, 1)).map(attachmentBrief), ['CREATED i-before reserved']);
    backupLive.publish('CREATED', await r.backup(other, theirVolume.id, 'theirs'));
    hub.publishAttachment('CREATED', await r.attachment(other, theirVolume.id, 'i-theirs'));
    backupLive.publish('UPDATED', await r.changeBackup(before.id, { name: 'mine' }));
    hub.publishAttachment('CREATED', await r.attachment(p, volume.id, 'i-mine'));
    // Without sinceSeq the first event is the first change from now: no initial state, nothing replayed.
    for (const it of [backupsLive, backupsReplayed]) t.deepEqual((await take(it, 1)).map(backupBrief), ['UPDATED mine creating']);
    for (const it of [attachmentsLive, attachmentsReplayed]) t.deepEqual((await take(it, 1)).map(attachmentBrief), ['CREATED i-mine reserved']);
    const all: Array<AsyncIterableIterator<unknown>> = [backupsLive, backupsReplayed, attachmentsLive, attachmentsReplayed];
    for (const it of all) {
      t.true(await quiet(it, 100), "another project's changes do not show");
      await it.return?.();
    }
    stop();
  });

  test(`${kind}: backupEvents and attachmentEvents from a sinceSeq ahead of the feed are RESYNC_REQUIRED; an admin's need filter.projectId`, async (t) => {
    const { volumes, watches, reads, db, stop } = setup(kind);
    const r = rows(db);
    const p = await member(db);
    const { volume } = await volumes.create(p, { name: 'v', sizeGiB: 1 });
    await r.backup(p, volume.id, 'b');
    const seq = (await feedPosition(db.fork(), p.projectId)).seq;
    await t.throwsAsync(watches.backups(p, null, seq + 1), { instanceOf: ResyncRequiredError, message: /ahead of this project's change feed/ });
    await t.throwsAsync(watches.attachments(p, null, seq + 1), { instanceOf: ResyncRequiredError, message: /ahead of this project's change feed/ });
    await t.throwsAsync(watches.backups(admin, null, 0), { instanceOf: BadInputError, message: /backupEvents\(sinceSeq:\) needs filter\.projectId/ });
    await t.throwsAsync(watches.attachments(admin, null, 0), { instanceOf: BadInputError, message: /attachmentEvents\(sinceSeq:\) needs filter\.projectId/ });
    // An admin lists one project's attachments (filter.projectId) to get that project's seq, as for backups.
    await r.attachment(p, volume.id, 'i-a');
    const seqNow = (await feedPosition(db.fork(), p.projectId)).seq;
    const page = await reads.attachments(admin, { first: 10, filter: { projectId: p.projectId } });
    t.is(page.changeSeq, seqNow);
    t.deepEqual(page.rows.map((a) => a.instanceId), ['i-a']);
    t.is((await reads.attachments(p, { first: 10, filter: { projectId: admin.projectId } })).rows.length, 0, "a member's filter.projectId of another project matches nothing");
    const it = await watches.backups(admin, { projectId: p.projectId }, 0);
    t.deepEqual((await take(it, 1)).map(backupBrief), ['CREATED b creating']);
    await it.return?.();
    stop();
  });
}

test.after.always('no process is left behind', noProcessesLeft);
