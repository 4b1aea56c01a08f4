/**
 * Idempotent deletes and no-op updates (issue 16, "Semantics") on both databases, with a
 * recording publisher instead of NATS and the recorder's handlers applied directly:
 * - a delete of a DELETED volume or snapshot succeeds with `alreadyDeleted` and the operation
 *   that deleted it; one under way answers with that operation; racing deletes make one;
 * - another project still gets NOT_FOUND;
 * - a delete of a CREATING volume is queued and starts when the create ends (the recorder,
 *   or the sweep when the create ended by its deadline);
 * - an extend to the current size, a rename to the current name and a retype to the current
 *   type record nothing.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { KIND, type Bus } from '../../src/bus/index.js';
import { createLogger } from '../../src/config/index.js';
import { findOperation, findVolume, Operation, Snapshot, Volume, VolumeType, type Db, type Principal } from '../../src/db/index.js';
import { FlintError } from '../../src/domain/index.js';
import type { BackupLive } from '../../src/gateway/live/backup.js';
import type { LiveHub } from '../../src/gateway/live/hub.js';
import { SnapshotMutations } from '../../src/gateway/mutations/snapshot.js';
import { VolumeMutations } from '../../src/gateway/mutations/volume.js';
import { retypeVolume } from '../../src/gateway/mutations/volume-retype.js';
import { OUTCOMES, type OutcomeContext } from '../../src/gateway/outcomes/registry.js';
import { sweepQueuedDeletes } from '../../src/gateway/sweepers/queued-deletes.js';
import { BACKENDS, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { recordingDeps } from '../helpers/recording-deps.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-idempotent-');
});
test.after.always(async () => {
  await dbs?.close();
});

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
};

const member = (projectId = randomUUID()): Principal => ({ tokenId: randomUUID(), projectId, projectName: 'p', role: 'member' });

for (const backend of BACKENDS as readonly Backend[]) {
  const db = (): Db => dbs.get(backend);

  function setup() {
    const r = recordingDeps(db());
    const ctx: OutcomeContext = { db: db(), bus: r.deps.bus as Bus, live: r.deps.live as unknown as LiveHub, backupLive: {} as BackupLive, log: createLogger('t', 'silent') };
    const apply = async (kind: string, payload: unknown) => {
      const handler = OUTCOMES.get(kind)!;
      await handler.apply(ctx, handler.payload.parse(payload));
    };
    return { ...r, ctx, apply, volumes: new VolumeMutations(r.deps), snapshots: new SnapshotMutations(r.deps) };
  }

  /** A volume the agent has created on host h1, pool p. */
  async function available(s: ReturnType<typeof setup>, p: Principal, name = 'v') {
    const { volume, operation } = await s.volumes.create(p, { name, sizeGiB: 1 });
    await s.apply(KIND.volumeOutcome, { operationId: operation.id, volumeId: volume.id, outcome: 'create.succeeded', host: 'h1', pool: 'p' });
    return (await findVolume(db().fork(), volume.id))!;
  }

  const deletesOf = (volumeId: string) => db().fork().find(Operation, { resourceId: volumeId, kind: 'delete_volume' }, { disableIdentityMap: true });

  test(`deleting a volume again answers with the delete under way, then with alreadyDeleted; another project still gets NOT_FOUND (${backend})`, async (t) => {
    const s = setup();
    const p = member();
    const v = await available(s, p);
    const first = await s.volumes.delete(p, { id: v.id });
    t.deepEqual({ status: first.volume.status, alreadyDeleted: first.alreadyDeleted }, { status: 'deleting', alreadyDeleted: false });
    const published = s.rec.published.length;
    const during = await s.volumes.delete(p, { id: v.id });
    t.deepEqual({ operation: during.operation?.id, alreadyDeleted: during.alreadyDeleted }, { operation: first.operation!.id, alreadyDeleted: false });
    await s.apply(KIND.volumeOutcome, { operationId: first.operation!.id, volumeId: v.id, outcome: 'delete.succeeded' });
    const after = await s.volumes.delete(p, { id: v.id });
    t.true(after.alreadyDeleted);
    t.is(after.volume.status, 'deleted');
    t.deepEqual({ id: after.operation?.id, status: after.operation?.status }, { id: first.operation!.id, status: 'succeeded' });
    t.is((await deletesOf(v.id)).length, 1, 'one delete operation for three requests');
    t.is(s.rec.published.length, published, 'the repeats sent no command');
    const foreign = (await t.throwsAsync(s.volumes.delete(member(), { id: v.id }))) as FlintError;
    t.is(foreign.code, 'NOT_FOUND');
    const never = (await t.throwsAsync(s.volumes.delete(p, { id: randomUUID() }))) as FlintError;
    t.is(never.code, 'NOT_FOUND', 'an id that never was answers as a foreign one: nothing to tell them apart');
  });

  test(`deletes racing on one volume start one delete and all answer with it (${backend})`, async (t) => {
    const s = setup();
    const p = member();
    const v = await available(s, p);
    const answers = await Promise.all(Array.from({ length: 4 }, () => s.volumes.delete(p, { id: v.id })));
    t.is(new Set(answers.map((a) => a.operation?.id)).size, 1);
    t.true(answers.every((a) => !a.alreadyDeleted));
    t.is((await deletesOf(v.id)).length, 1);
  });

  test(`a delete of a CREATING volume is queued, asked again answers with it, and it starts when the create ends (${backend})`, async (t) => {
    const s = setup();
    const p = member();
    const { volume, operation: create } = await s.volumes.create(p, { name: 'slow', sizeGiB: 1 });
    const queued = await s.volumes.delete(p, { id: volume.id });
    t.deepEqual({ status: queued.volume.status, op: queued.operation?.status, command: queued.operation?.command ?? null }, { status: 'creating', op: 'pending', command: null });
    t.truthy(queued.operation?.deadlineAt, 'the queued delete has a deadline of its own');
    const again = await s.volumes.delete(p, { id: volume.id });
    t.is(again.operation?.id, queued.operation!.id);
    await s.apply(KIND.volumeOutcome, { operationId: create.id, volumeId: volume.id, outcome: 'create.succeeded', host: 'h1', pool: 'p' });
    t.is((await findVolume(db().fork(), volume.id))?.status, 'deleting');
    const started = await findOperation(db().fork(), queued.operation!.id);
    t.is(started?.command?.subject, 'flint.cmd.agent.h1.delete_volume');
    const sent = () => s.rec.published.filter((m) => m.subject === 'flint.cmd.agent.h1.delete_volume');
    await until(() => sent().length > 0); // sent after the commit, not awaited
    t.deepEqual(sent().map((m) => m.msgId), [`${queued.operation!.id}:agent.delete`], 'its command went out, once');
    await s.apply(KIND.volumeOutcome, { operationId: queued.operation!.id, volumeId: volume.id, outcome: 'delete.succeeded' });
    t.is((await findOperation(db().fork(), queued.operation!.id))?.status, 'succeeded');
    t.is((await deletesOf(volume.id)).length, 1);
  });

  test(`a delete that meets the scheduler placing the CREATING volume reads it again and is queued, not refused (${backend})`, async (t) => {
    const s = setup();
    const p = member();
    const { volume } = await s.volumes.create(p, { name: 'placed', sizeGiB: 1 });
    // Between the delete's read and its compare-and-set, the scheduler places the volume: its version moves, its status stays.
    let placed = false;
    const fork = () => {
      const em = db().fork();
      const transactional = em.transactional.bind(em);
      em.transactional = (async (fn: Parameters<typeof transactional>[0]) => {
        if (!placed) {
          placed = true;
          await db().fork().nativeUpdate(Volume, { id: volume.id }, { host: 'h1', pool: 'p', version: volume.version + 1 });
        }
        return transactional(fn);
      }) as typeof em.transactional;
      return em;
    };
    const racing = new VolumeMutations({ ...s.deps, db: { ...db(), kind: db().kind, fork } as Db });
    const queued = await racing.delete(p, { id: volume.id });
    t.true(placed);
    t.deepEqual({ status: queued.volume.status, op: queued.operation?.status }, { status: 'creating', op: 'pending' });
    t.true(queued.volume.version > volume.version + 1, 'queued at the version after the placement');
  });

  // The sweep starts every queued delete in the database: serial, so it takes no other test's.
  test.serial(`a queued delete of a volume whose create failed ends at once; one whose create missed its deadline is started by the sweep (${backend})`, async (t) => {
    const s = setup();
    const p = member();
    const failed = await s.volumes.create(p, { name: 'no-pool', sizeGiB: 1 });
    const q1 = await s.volumes.delete(p, { id: failed.volume.id });
    await s.apply(KIND.volumeOutcome, { operationId: failed.operation.id, volumeId: failed.volume.id, outcome: 'create.failed', error: { code: 'NO_VALID_BACKEND', message: 'no pool' } });
    t.is((await findVolume(db().fork(), failed.volume.id))?.status, 'deleted', 'never placed: nothing to remove on an agent');
    t.is((await findOperation(db().fork(), q1.operation!.id))?.status, 'succeeded');

    const late = await s.volumes.create(p, { name: 'late', sizeGiB: 1 });
    const q2 = await s.volumes.delete(p, { id: late.volume.id });
    // The deadline sweeper moved it to ERROR (no recorder event): only the sweep sees that.
    await db().fork().nativeUpdate(Volume, { id: late.volume.id }, { status: 'error', host: 'h1', pool: 'p' });
    t.true((await sweepQueuedDeletes(s.deps)) >= 1);
    t.is((await findVolume(db().fork(), late.volume.id))?.status, 'deleting');
    t.is((await findOperation(db().fork(), q2.operation!.id))?.command?.subject, 'flint.cmd.agent.h1.delete_volume');
  });

  test.serial(`a queued delete that cannot start fails its operation with the reason (${backend})`, async (t) => {
    const s = setup();
    const p = member();
    const { volume } = await s.volumes.create(p, { name: 'snapped', sizeGiB: 1 });
    const queued = await s.volumes.delete(p, { id: volume.id });
    // A snapshot taken between the create's end and the start (the recorder is stopped here).
    await db().fork().nativeUpdate(Volume, { id: volume.id }, { status: 'available', host: 'h1', pool: 'p' });
    const em = db().fork();
    await em.insert(Snapshot, em.create(Snapshot, { id: randomUUID(), projectId: p.projectId, volumeId: volume.id, name: 's', sizeGiB: 1, status: 'available' }));
    await sweepQueuedDeletes(s.deps);
    const op = await findOperation(db().fork(), queued.operation!.id);
    t.is(op?.status, 'failed');
    t.is(op?.errorCode, 'INVALID_STATE');
    t.regex(op?.errorMessage ?? '', /1 snapshot/);
    t.is((await findVolume(db().fork(), volume.id))?.status, 'available');
  });

  test(`renaming a snapshot to its name records nothing; deleting it again is done already, with the operation that deleted it (${backend})`, async (t) => {
    const s = setup();
    const p = member();
    const v = await available(s, p);
    const made = await s.snapshots.create(p, { volumeId: v.id, name: 's' });
    await s.apply(KIND.snapshotOutcome, { operationId: made.operation.id, snapshotId: made.snapshot.id, volumeId: v.id, outcome: 'create.succeeded' });
    // A rename to the name it has records nothing.
    const same = await s.snapshots.update(p, { id: made.snapshot.id, name: 's' });
    t.is(same.operation, null);
    const del = await s.snapshots.delete(p, { id: made.snapshot.id });
    t.is((await s.snapshots.delete(p, { id: made.snapshot.id })).operation?.id, del.operation!.id, 'under way: the same operation');
    await s.apply(KIND.snapshotOutcome, { operationId: del.operation!.id, snapshotId: made.snapshot.id, volumeId: v.id, outcome: 'delete.succeeded' });
    const again = await s.snapshots.delete(p, { id: made.snapshot.id });
    t.deepEqual({ alreadyDeleted: again.alreadyDeleted, status: again.snapshot.status, operation: again.operation?.id }, { alreadyDeleted: true, status: 'deleted', operation: del.operation!.id });
    t.is(((await t.throwsAsync(s.snapshots.delete(member(), { id: made.snapshot.id }))) as FlintError).code, 'NOT_FOUND');
  });

  test(`an extend to the current size, a rename to the current name and a retype to the current type record nothing (${backend})`, async (t) => {
    const s = setup();
    const p = member();
    const typeName = `t-${randomUUID().slice(0, 8)}`;
    const em = db().fork();
    await em.insert(VolumeType, em.create(VolumeType, { id: randomUUID(), name: typeName }));
    const { volume, operation } = await s.volumes.create(p, { name: 'same', sizeGiB: 2, volumeType: typeName });
    await s.apply(KIND.volumeOutcome, { operationId: operation.id, volumeId: volume.id, outcome: 'create.succeeded', host: 'h1', pool: 'p' });
    const v = (await findVolume(db().fork(), volume.id))!;
    const ops = async () => (await db().fork().find(Operation, { resourceId: v.id }, { disableIdentityMap: true })).length;
    const before = await ops();
    const extend = await s.volumes.extend(p, { id: v.id, newSizeGiB: 2 });
    t.deepEqual({ operation: extend.operation, version: extend.volume.version }, { operation: null, version: v.version });
    const rename = await s.volumes.update(p, { id: v.id, name: 'same', metadata: {} });
    t.is(rename.operation, null);
    const retype = await retypeVolume(s.deps, p, { id: v.id, volumeType: typeName, migrationPolicy: 'never' });
    t.is(retype.operation, null);
    t.is(await ops(), before, 'no operation recorded');
    t.is((await findVolume(db().fork(), v.id))?.version, v.version, 'and the volume did not move');
    // Smaller is still refused; larger still extends.
    t.is(((await t.throwsAsync(s.volumes.extend(p, { id: v.id, newSizeGiB: 1 }))) as FlintError).code, 'BAD_USER_INPUT');
    const grow = await s.volumes.extend(p, { id: v.id, newSizeGiB: 3 });
    t.is(grow.volume.status, 'extending');
    // Asked again while it grows: the extend under way.
    t.is((await s.volumes.extend(p, { id: v.id, newSizeGiB: 3 })).operation?.id, grow.operation!.id);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
