/**
 * The outcome registry (src/gateway/outcomes/registry.ts) against both databases, with a
 * recording publisher instead of NATS: an agent's outcome applied by its declared
 * compare-and-set, the operation ended and announced after the commit, a duplicate that
 * changes nothing, a failure's user message, and a missed deadline (the sweeper) followed by
 * the agent's late success, which the late rules record without undoing the deadline.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { ATTACHMENT_KIND, KIND, type Bus } from '../../src/bus/index.js';
import { createLogger } from '../../src/config/index.js';
import { Attachment, capacity, casVolume, findAttachment, findOperation, findSnapshot, findVolume, Operation, UserMessage, type Db, type Principal } from '../../src/db/index.js';
import type { BackupLive } from '../../src/gateway/live/backup.js';
import type { LiveHub } from '../../src/gateway/live/hub.js';
import { VolumeMutations } from '../../src/gateway/mutations/volume.js';
import { SnapshotMutations } from '../../src/gateway/mutations/snapshot.js';
import { OUTCOMES, type OutcomeContext } from '../../src/gateway/outcomes/registry.js';
import { failOverdue } from '../../src/gateway/sweepers/deadlines.js';
import { BACKENDS, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { recordingDeps } from '../helpers/recording-deps.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-outcomes-');
});
test.after.always(async () => {
  await dbs?.close();
});

const member = (): Principal => ({ tokenId: randomUUID(), projectId: randomUUID(), projectName: 'p', role: 'member' });

for (const backend of BACKENDS as readonly Backend[]) {
  const db = (): Db => dbs.get(backend);

  /** The mutations and an outcome context over one recording publisher. */
  function setup() {
    const r = recordingDeps(db());
    const ctx: OutcomeContext = {
      db: db(),
      bus: r.deps.bus as Bus,
      live: r.deps.live as unknown as LiveHub,
      backupLive: {} as BackupLive,
      log: createLogger('outcome-test', 'silent'),
    };
    const apply = async (kind: string, payload: unknown) => {
      const handler = OUTCOMES.get(kind);
      if (!handler) throw new Error(`no handler for ${kind}`);
      await handler.apply(ctx, handler.payload.parse(payload));
    };
    return { ...r, ctx, apply, volumes: new VolumeMutations(r.deps), snapshots: new SnapshotMutations(r.deps) };
  }

  /** A volume on h1 with an attachment being detached, both DETACHING as a delete leaves them, and the detach's operation (with `op`). */
  async function beingDetached(s: ReturnType<typeof setup>, op: Partial<Operation>) {
    const p = member();
    const { volume, operation: create } = await s.volumes.create(p, { name: 'v', sizeGiB: 1 });
    await s.apply(KIND.volumeOutcome, { operationId: create.id, volumeId: volume.id, outcome: 'create.succeeded', host: 'h1', pool: 'p' });
    const em = db().fork();
    const attachmentId = randomUUID();
    em.create(Attachment, { id: attachmentId, projectId: p.projectId, volumeId: volume.id, instanceId: 'vm-1', status: 'detaching', mode: 'rw', targetKind: 'nbd', host: 'h1', exportRequested: true });
    const detach = em.create(Operation, { id: randomUUID(), projectId: p.projectId, kind: 'delete_attachment', resourceType: 'attachment', resourceId: attachmentId, ...op });
    await em.flush();
    await casVolume(db().fork(), volume.id, { from: ['available'] }, { status: 'detaching' });
    return { volume, attachmentId, detach };
  }

  test(`a volume outcome moves the volume by its compare-and-set, ends the operation and announces both after the commit; a duplicate changes nothing and announces them as they are (${backend})`, async (t) => {
    const { volumes, apply, rec } = setup();
    const { volume, operation } = await volumes.create(member(), { name: 'v', sizeGiB: 1 });
    const before = rec.live.length;
    const outcome = { operationId: operation.id, volumeId: volume.id, outcome: 'create.succeeded', host: 'h1', pool: 'p' };
    await apply(KIND.volumeOutcome, outcome);
    const v = await findVolume(db().fork(), volume.id);
    t.is(v?.status, 'available');
    t.is(v?.host, 'h1');
    t.is((await findOperation(db().fork(), operation.id))?.status, 'succeeded');
    t.deepEqual(rec.live.slice(before).map((e) => e.what), ['volume', 'operation'], 'the volume, then its operation');
    await rec.settled();
    t.true(rec.live.slice(before).filter((e) => e.what === 'volume').every((e) => e.committed), 'announced after the commit');

    const version = v!.version;
    await apply(KIND.volumeOutcome, outcome);
    t.is((await findVolume(db().fork(), volume.id))?.version, version, 'the duplicate matched no row');
    t.deepEqual(rec.live.slice(before + 2).map((e) => e.what), ['volume', 'operation'], 'and announced them again as they are (subscribers drop the version they have)');
  });

  test(`an outcome redelivered because the gateway that recorded it died before announcing it is announced by the gateway that gets it again (${backend})`, async (t) => {
    const { volumes, apply, rec } = setup();
    const { volume, operation } = await volumes.create(member(), { name: 'v', sizeGiB: 1 });
    const outcome = { operationId: operation.id, volumeId: volume.id, outcome: 'create.succeeded', host: 'h1', pool: 'p' };
    // The first gateway commits, then dies: its announcements never leave it.
    const dead = setup();
    await dead.apply(KIND.volumeOutcome, outcome);
    const before = rec.live.length;
    await apply(KIND.volumeOutcome, outcome);
    const announced = rec.live.slice(before);
    t.deepEqual(announced.map((e) => [e.what, e.id]), [['volume', volume.id], ['operation', operation.id]]);
    t.is((await findVolume(db().fork(), volume.id))?.status, 'available');
  });

  test(`an attachment's outcome moves its volume in the same commit; redelivered after a gateway committed the attachment but not the volume, it brings the volume in line (${backend})`, async (t) => {
    const s = setup();
    const { apply, rec } = s;
    const { volume, attachmentId, detach } = await beingDetached(s, {});
    const outcome = { operationId: detach.id, attachmentId, volumeId: volume.id, outcome: 'unexport.succeeded' };
    const before = rec.live.length;
    await apply(ATTACHMENT_KIND.attachmentOutcome, outcome);
    t.is((await findAttachment(db().fork(), attachmentId))?.status, 'detached');
    t.is((await findVolume(db().fork(), volume.id))?.status, 'available', 'moved with it');
    t.true(rec.live.slice(before).some((e) => e.what === 'volume' && e.id === volume.id), 'the volume is announced');

    // What a gateway left that committed the attachment and lost the database before the volume.
    await casVolume(db().fork(), volume.id, { from: ['available'] }, { status: 'detaching' });
    const again = rec.live.length;
    await apply(ATTACHMENT_KIND.attachmentOutcome, outcome);
    t.is((await findVolume(db().fork(), volume.id))?.status, 'available', 'the redelivery brings the volume in line');
    t.true(rec.live.slice(again).some((e) => e.what === 'volume' && e.id === volume.id));
  });

  // Found by the chaos suite: after a NATS node died the command stream stalled past the deadline; the
  // agent removed the export later, and its late outcome left the attachment ERROR_DETACHING for ever.
  test(`a removal that comes after its deadline makes the ERROR_DETACHING attachment DETACHED, and its volume follows (${backend})`, async (t) => {
    const s = setup();
    const { apply, ctx, rec } = s;
    const { volume, attachmentId, detach } = await beingDetached(s, {
      command: { subject: 'flint.cmd.agent.h1.unexport_attachment', kind: 'agent.unexport_attachment', payload: {}, msgId: 'x' },
      deadlineAt: new Date(Date.now() - 1000),
    });
    const overdue = (await db().fork().findOne(Operation, { id: detach.id }, { disableIdentityMap: true }))!;
    t.true(await failOverdue(ctx.db, ctx.live, ctx.log, overdue, 3));
    t.is((await findAttachment(db().fork(), attachmentId))?.status, 'error_detaching');

    const before = rec.live.length;
    await apply(ATTACHMENT_KIND.attachmentOutcome, { operationId: detach.id, attachmentId, volumeId: volume.id, outcome: 'unexport.succeeded' });
    const a = await findAttachment(db().fork(), attachmentId);
    t.is(a?.status, 'detached');
    t.truthy(a?.detachedAt);
    t.is((await findVolume(db().fork(), volume.id))?.status, 'available', 'the volume has no live attachment left');
    t.true(rec.live.slice(before).some((e) => e.what === 'attachment' && e.id === attachmentId), 'the attachment is announced');
    t.is((await findOperation(db().fork(), detach.id))?.status, 'failed', 'the deadline\'s verdict on the operation stays');
  });

  test(`a failed create leaves ERROR, a FAILED operation with the agent's error, and one user message with it (${backend})`, async (t) => {
    const { volumes, apply, rec } = setup();
    const { volume, operation } = await volumes.create(member(), { name: 'v', sizeGiB: 1 });
    const error = { code: 'DRIVER_ERROR', message: 'qemu-img create failed: no space left on device; free space on the pool.' };
    await apply(KIND.volumeOutcome, { operationId: operation.id, volumeId: volume.id, outcome: 'create.failed', error });
    t.is((await findVolume(db().fork(), volume.id))?.status, 'error');
    const op = await findOperation(db().fork(), operation.id);
    t.is(op?.status, 'failed');
    t.is(op?.errorCode, 'DRIVER_ERROR');
    const messages = await db().fork().find(UserMessage, { resourceId: volume.id }, { disableIdentityMap: true });
    t.deepEqual(messages.map((m) => [m.event, m.message]), [['create_volume', error.message]]);
    t.true(rec.live.some((e) => e.what === 'message'));
  });

  test(`a snapshot outcome goes through the same declaration: a delete ends DELETED (${backend})`, async (t) => {
    const { volumes, snapshots, apply } = setup();
    const p = member();
    const { volume, operation } = await volumes.create(p, { name: 'v', sizeGiB: 1 });
    await apply(KIND.volumeOutcome, { operationId: operation.id, volumeId: volume.id, outcome: 'create.succeeded', host: 'h1', pool: 'p' });
    const made = await snapshots.create(p, { volumeId: volume.id, name: 's' });
    await apply(KIND.snapshotOutcome, { operationId: made.operation.id, snapshotId: made.snapshot.id, volumeId: volume.id, outcome: 'create.succeeded' });
    t.is((await findSnapshot(db().fork(), made.snapshot.id))?.status, 'available');
    const del = await snapshots.delete(p, { id: made.snapshot.id });
    await apply(KIND.snapshotOutcome, { operationId: del.operation!.id, snapshotId: made.snapshot.id, volumeId: volume.id, outcome: 'delete.succeeded' });
    const s = await findSnapshot(db().fork(), made.snapshot.id);
    t.is(s?.status, 'deleted');
    t.truthy(s?.deletedAt);
  });

  // Found by the chaos suite: a cascade delete's deadline moved the volume to ERROR_DELETING and left its snapshot DELETING for ever.
  test(`a cascade delete that misses its deadline leaves the volume and the snapshots it was deleting ERROR_DELETING (${backend})`, async (t) => {
    const { volumes, snapshots, apply, ctx, rec } = setup();
    const p = member();
    const { volume, operation } = await volumes.create(p, { name: 'v', sizeGiB: 1 });
    await apply(KIND.volumeOutcome, { operationId: operation.id, volumeId: volume.id, outcome: 'create.succeeded', host: 'h1', pool: 'p' });
    const made = await snapshots.create(p, { volumeId: volume.id, name: 's' });
    await apply(KIND.snapshotOutcome, { operationId: made.operation.id, snapshotId: made.snapshot.id, volumeId: volume.id, outcome: 'create.succeeded' });
    const del = await volumes.delete(p, { id: volume.id, cascade: true });
    t.is((await findSnapshot(db().fork(), made.snapshot.id))?.status, 'deleting');
    await db().fork().nativeUpdate(Operation, { id: del.operation!.id }, { deadlineAt: new Date(Date.now() - 1000) });
    const overdue = (await db().fork().findOne(Operation, { id: del.operation!.id }, { disableIdentityMap: true }))!;
    const before = rec.live.length;
    t.true(await failOverdue(ctx.db, ctx.live, ctx.log, overdue, 3));
    t.is((await findVolume(db().fork(), volume.id))?.status, 'error_deleting');
    t.is((await findSnapshot(db().fork(), made.snapshot.id))?.status, 'error_deleting', 'the snapshot fails with its volume');
    t.true(rec.live.slice(before).some((e) => e.what === 'snapshot' && e.id === made.snapshot.id), 'and is announced');
  });

  test(`a missed deadline moves the volume to ERROR with a message; the agent's late success is recorded by the late rules and ERROR stays (${backend})`, async (t) => {
    const { volumes, apply, ctx } = setup();
    const { volume, operation } = await volumes.create(member(), { name: 'v', sizeGiB: 1 });
    // Its deadline passed (the gateway stamps one on every operation with a command; this one, a second ago).
    await db().fork().nativeUpdate(Operation, { id: operation.id }, { deadlineAt: new Date(Date.now() - 1000) });
    const overdue = (await db().fork().findOne(Operation, { id: operation.id }, { disableIdentityMap: true }))!;
    t.true(await failOverdue(ctx.db, ctx.live, ctx.log, overdue, 3));
    t.false(await failOverdue(ctx.db, ctx.live, ctx.log, overdue, 3), 'only once');
    t.is((await findVolume(db().fork(), volume.id))?.status, 'error');
    const op = await findOperation(db().fork(), operation.id);
    t.is(op?.status, 'failed');
    t.is(op?.errorCode, 'SERVICE_UNAVAILABLE');

    await apply(KIND.volumeOutcome, { operationId: operation.id, volumeId: volume.id, outcome: 'create.succeeded', host: 'h1', pool: 'p' });
    const v = await findVolume(db().fork(), volume.id);
    t.is(v?.status, 'error', 'the deadline is not undone');
    t.is(v?.host, 'h1', 'but the image now exists on its pool');
    t.is((await findOperation(db().fork(), operation.id))?.status, 'failed');
    const events = (await db().fork().find(UserMessage, { resourceId: volume.id }, { orderBy: { createdAt: 'asc' }, disableIdentityMap: true })).map((m) => m.level);
    t.deepEqual(events, ['ERROR', 'WARNING'], 'the deadline\'s message, then the late one');
  });

  // Seen in the chaos suite: the command stream stalled past an extend's deadline and the agent
  // extended the image afterwards; the volume stayed ERROR_EXTENDING at its old size for ever.
  test(`a late extend.succeeded after the deadline makes the volume usable at its new size and counts that size on its pool (${backend})`, async (t) => {
    const { volumes, apply, ctx } = setup();
    const p = member();
    const { volume, operation: create } = await volumes.create(p, { name: 'v', sizeGiB: 1 });
    await apply(KIND.volumeOutcome, { operationId: create.id, volumeId: volume.id, outcome: 'create.succeeded', host: 'h1', pool: 'p' });
    const pool = `h1-${randomUUID().slice(0, 8)}`;
    await casVolume(db().fork(), volume.id, { from: ['available'] }, { pool });
    t.true(await capacity.reserve(db().fork(), volume.id, `h1@${pool}`, 1, 100));
    const extend = (await volumes.extend(p, { id: volume.id, newSizeGiB: 3 })).operation!;
    t.true(await capacity.grow(db().fork(), volume.id, `h1@${pool}`, 3, 100), 'what the scheduler reserves for the extend');
    await db().fork().nativeUpdate(Operation, { id: extend.id }, { deadlineAt: new Date(Date.now() - 1000) });
    const overdue = (await db().fork().findOne(Operation, { id: extend.id }, { disableIdentityMap: true }))!;
    t.true(await failOverdue(ctx.db, ctx.live, ctx.log, overdue, 3));
    t.is((await findVolume(db().fork(), volume.id))?.status, 'error_extending');
    t.is((await capacity.allocations(db().fork())).get(`h1@${pool}`), 1, 'the deadline gave the growth back');

    const late = { operationId: extend.id, volumeId: volume.id, outcome: 'extend.succeeded', host: 'h1', pool, sizeGiB: 3 };
    await apply(KIND.volumeOutcome, late);
    const v = await findVolume(db().fork(), volume.id);
    t.is(v?.status, 'available');
    t.is(v?.sizeGiB, 3);
    t.is((await capacity.allocations(db().fork())).get(`h1@${pool}`), 3, 'the pool counts the new size');
    t.is((await findOperation(db().fork(), extend.id))?.status, 'failed', 'the operation keeps its end');
    const said = await db().fork().find(UserMessage, { resourceId: volume.id, event: 'extend_late' }, { disableIdentityMap: true });
    t.is(said.length, 1);

    await apply(KIND.volumeOutcome, late);
    t.is((await findVolume(db().fork(), volume.id))?.version, v?.version, 'a redelivery changes nothing');
    t.is((await capacity.allocations(db().fork())).get(`h1@${pool}`), 3);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
