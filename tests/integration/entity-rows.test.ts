/**
 * Rows read without the ORM (src/db/entity-rows.ts, the batch reads of a page's nested lists
 * in batch-reads.ts) carry what the ORM's entities carry, property for property, on SQLite and
 * PostgreSQL: nulls, JSON, booleans, a bigint seq, datetimes to the millisecond. And the
 * batch reads keep their filter (no DELETED snapshot, no DETACHED attachment) and order.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { Attachment, liveAttachmentsOfVolumes, Snapshot, snapshotsOfVolumes, toAttachmentView, toSnapshotView, type Db } from '../../src/db/index.js';
import { BACKENDS, insertProject, openDatabases, type Databases } from '../helpers/databases.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-entity-rows-');
});
test.after.always(async () => {
  await dbs?.close();
});

/** Every property the ORM's entity has, as a plain object (dates kept as dates). */
async function viaOrm<T extends object>(db: Db, entity: new () => T, id: string): Promise<Record<string, unknown>> {
  const e = await db.fork().findOneOrFail(entity, { id } as never, { disableIdentityMap: true });
  return Object.fromEntries(Object.entries(e));
}

for (const kind of BACKENDS) {
  test(`${kind}: a volume's snapshots read as rows equal the ORM's, DELETED ones left out, oldest first`, async (t) => {
    const db = dbs.get(kind);
    const projectId = await insertProject(db);
    const [volumeId, other] = [randomUUID(), randomUUID()];
    const em = db.fork();
    const base = { projectId, sizeGiB: 3, status: 'available' as const };
    const older = em.create(Snapshot, { ...base, id: randomUUID(), volumeId, name: 'older', createdAt: new Date('2026-01-01T00:00:00.001Z') });
    const newer = em.create(Snapshot, {
      ...base,
      id: randomUUID(),
      volumeId,
      name: 'newer ✓',
      description: 'a "quoted" one',
      metadata: { app: 'db', empty: '' },
      idempotencyKey: 'k-1',
      requestHash: 'h',
      changeSeq: 2 ** 40,
      createdAt: new Date('2026-01-02T03:04:05.678Z'),
    });
    em.create(Snapshot, { ...base, id: randomUUID(), volumeId, name: 'gone', status: 'deleted', deletedAt: new Date() });
    const elsewhere = em.create(Snapshot, { ...base, id: randomUUID(), volumeId: other, name: 'other' });
    await em.flush();
    const got = await snapshotsOfVolumes(db, [volumeId, other, volumeId, randomUUID()]);
    t.deepEqual([...got.keys()].sort(), [volumeId, other].sort());
    t.deepEqual(got.get(volumeId)!.map((s) => s.name), ['older', 'newer ✓']);
    for (const [row, id] of [
      [got.get(volumeId)![0]!, older.id],
      [got.get(volumeId)![1]!, newer.id],
      [got.get(other)![0]!, elsewhere.id],
    ] as const) {
      t.deepEqual({ ...row }, await viaOrm(db, Snapshot, id));
      t.deepEqual(toSnapshotView(row), toSnapshotView((await db.fork().findOneOrFail(Snapshot, { id }))!));
    }
  });

  test(`${kind}: a volume's live attachments read as rows equal the ORM's, DETACHED ones left out`, async (t) => {
    const db = dbs.get(kind);
    const projectId = await insertProject(db);
    const volumeId = randomUUID();
    const em = db.fork();
    const base = { projectId, volumeId, mode: 'rw' as const, targetKind: 'iscsi' as const };
    const attached = em.create(Attachment, {
      ...base,
      id: randomUUID(),
      instanceId: 'vm-1',
      status: 'attached',
      connector: { host: 'compute-1', initiator: 'iqn.2026-01.org.example:c1', multipath: false },
      connection: { driverVolumeType: 'iscsi', accessMode: 'rw', targetIqn: 'iqn.x', targetPortal: '127.0.0.1:3260', targetLun: 1 },
      chapUsername: 'u',
      chapSecret: 'sealed',
      host: 'node-1',
      pool: 'p1',
      exportRequested: true,
      attachedAt: new Date('2026-03-04T05:06:07.089Z'),
      changeSeq: 7,
      createdAt: new Date('2026-03-04T05:06:00.000Z'),
    });
    const reserved = em.create(Attachment, { ...base, id: randomUUID(), instanceId: 'vm-2', status: 'reserved' });
    em.create(Attachment, { ...base, id: randomUUID(), instanceId: 'vm-3', status: 'detached', detachedAt: new Date() });
    await em.flush();
    const got = (await liveAttachmentsOfVolumes(db, [volumeId])).get(volumeId)!;
    t.deepEqual(got.map((a) => a.instanceId), ['vm-1', 'vm-2']);
    t.deepEqual({ ...got[0]! }, await viaOrm(db, Attachment, attached.id));
    t.deepEqual({ ...got[1]! }, await viaOrm(db, Attachment, reserved.id));
    t.true(got[0]!.exportRequested);
    t.deepEqual(toAttachmentView(got[0]!), toAttachmentView((await db.fork().findOneOrFail(Attachment, { id: attached.id }))!));
  });
}
