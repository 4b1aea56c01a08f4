/**
 * Updates and counts without the ORM's query builder (src/db/update-rows.ts) store what
 * `em.nativeUpdate` stores and count what `em.count` counts, on SQLite and PostgreSQL: JSON,
 * booleans, datetimes to the millisecond, nulls, a version bump, a guard that does not hold;
 * in a transaction they see its writes and go with its rollback.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { raw, UniqueConstraintViolationException } from '@mikro-orm/core';
import { Attachment, type Db } from '../../src/db/index.js';
import { columnsOf } from '../../src/db/entity-rows.js';
import { updateSql } from '../../src/db/where-sql.js';
import { countRows, updateRows } from '../../src/db/update-rows.js';
import { BACKENDS, insertProject, openDatabases, type Databases } from '../helpers/databases.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-update-rows-');
});
test.after.always(async () => {
  await dbs?.close();
});

async function twins(db: Db, projectId: string, volumeId: string): Promise<[string, string]> {
  const em = db.fork();
  const ids: [string, string] = [randomUUID(), randomUUID()];
  for (const id of ids) em.create(Attachment, { id, projectId, volumeId, instanceId: 'vm-1', status: 'attaching', mode: 'rw', targetKind: 'iscsi', chapSecret: 'v1:sealed', createdAt: new Date('2026-01-01T00:00:00.001Z'), updatedAt: new Date('2026-01-01T00:00:00.001Z') });
  await em.flush();
  return ids;
}

/** The row as the ORM reads it, without what differs between twins by design (id, change seq). */
async function stored(db: Db, id: string): Promise<Record<string, unknown>> {
  const { id: _id, changeSeq: _seq, ...rest } = await db.fork().findOneOrFail(Attachment, { id }, { disableIdentityMap: true });
  return { ...rest };
}

for (const kind of BACKENDS) {
  test(`${kind}: an update stores what the ORM's nativeUpdate stores, and both refuse a guard that does not hold`, async (t) => {
    const db = dbs.get(kind);
    const [viaOrm, viaRows] = await twins(db, await insertProject(db), randomUUID());
    const at = new Date('2026-12-07T10:11:12.345Z');
    const changes = { status: 'attached' as const, connection: { driverVolumeType: 'iscsi', data: { targetLun: 1, discard: true, portals: ['a', 'b'] } } as never, exportRequested: true, attachedAt: at, updatedAt: at, chapSecret: null, host: 'h-1' };
    const guard = { status: { $in: ['attaching' as const] }, version: 1, detachedAt: null };
    // Written here, not handed to the ORM:
    t.truthy(updateSql(kind, 'attachment', columnsOf(db.fork().getMetadata().get(Attachment.name)), { id: viaRows, ...guard }, changes, ['version']));
    t.is(await db.fork().nativeUpdate(Attachment, { id: viaOrm, ...guard }, { ...changes, version: raw('version + 1') }), 1);
    t.is(await updateRows(db.fork(), Attachment, { id: viaRows, ...guard }, changes, ['version']), 1);
    const [a, b] = [await stored(db, viaOrm), await stored(db, viaRows)];
    t.deepEqual(b, a);
    t.is(b.version, 2);
    t.deepEqual(b.attachedAt, at);
    t.is(b.exportRequested, true);
    // The guard no longer holds (version 2, status attached): nothing changes.
    t.is(await updateRows(db.fork(), Attachment, { id: viaRows, ...guard }, { host: 'other' }, ['version']), 0);
    t.deepEqual(await stored(db, viaRows), b);
  });

  test(`${kind}: a count equals the ORM's, and sees the entity's changes waiting in the unit of work`, async (t) => {
    const db = dbs.get(kind);
    const projectId = await insertProject(db);
    const volumeId = randomUUID();
    await twins(db, projectId, volumeId);
    const where = { volumeId, status: { $in: ['attaching' as const, 'attached' as const] }, detachedAt: null };
    t.is(await countRows(db.fork(), Attachment, where), 2);
    t.is(await countRows(db.fork(), Attachment, where), await db.fork().count(Attachment, where));
    t.is(await countRows(db.fork(), Attachment, { volumeId, status: { $ne: 'attaching' } }), 0);
    const em = db.fork();
    em.create(Attachment, { id: randomUUID(), projectId, volumeId, instanceId: 'vm-2', status: 'attached', mode: 'ro', targetKind: 'nbd' });
    t.is(await countRows(em, Attachment, where), 3);
  });

  test(`${kind}: a unique constraint broken is the ORM's exception, as callers catch it`, async (t) => {
    const db = dbs.get(kind);
    const [a, b] = await twins(db, await insertProject(db), randomUUID());
    t.is(await updateRows(db.fork(), Attachment, { id: a }, { idempotencyKey: 'k-1' }), 1);
    await t.throwsAsync(updateRows(db.fork(), Attachment, { id: b }, { idempotencyKey: 'k-1' }), { instanceOf: UniqueConstraintViolationException });
  });

  test(`${kind}: in a transaction an update is seen by the transaction and undone by its rollback`, async (t) => {
    const db = dbs.get(kind);
    const [id] = await twins(db, await insertProject(db), randomUUID());
    await t.throwsAsync(
      db.fork().transactional(async (tx) => {
        t.is(await updateRows(tx, Attachment, { id, status: 'attaching' }, { status: 'error_attaching' }, ['version']), 1);
        t.is(await countRows(tx, Attachment, { id, status: 'error_attaching' }), 1);
        throw new Error('roll back');
      }),
      { message: 'roll back' },
    );
    const now = await stored(db, id);
    t.is(now.status, 'attaching');
    t.is(now.version, 1);
  });
}
