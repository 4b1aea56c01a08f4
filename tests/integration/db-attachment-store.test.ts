/**
 * Attachment rows (src/db/attachment-store.ts) against a real SQLite file and a real
 * PostgreSQL database: compare-and-set, the volume's status recomputed from its
 * attachments (also when several change at once), the exports a host should have, and
 * the CHAP secret kept out of the live view.
 */
import 'reflect-metadata';
import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import { attachmentView } from '../../src/bus/contract/index.js';
import {
  Attachment,
  casAttachment,
  exportsOnHost,
  findVolume,
  liveAttachmentsOf,
  syncVolumeStatus,
  toAttachmentView,
  Volume,
  type Db,
} from '../../src/db/index.js';
import type { AttachmentStatus } from '../../src/domain/attachment-states.js';
import type { VolumeStatus } from '../../src/domain/volume-states.js';
import { BACKENDS, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';

let databases: Databases | undefined;
test.before(async () => {
  databases = await openDatabases('flint-db-attachment-store-');
});
test.after.always(async () => {
  await databases?.close();
});
const db = (kind: Backend): Db => databases!.get(kind);

async function volume(em: EntityManager, status: VolumeStatus = 'available', host = 'h1'): Promise<Volume> {
  const v = em.create(Volume, { id: randomUUID(), projectId: 'p1', name: 'v', sizeGiB: 1, status, availabilityZone: 'nova', host, pool: 'raw', multiattach: true });
  await em.flush();
  return v;
}

async function attachment(em: EntityManager, volumeId: string, status: AttachmentStatus, host = 'h1', exportRequested = true): Promise<Attachment> {
  const a = em.create(Attachment, {
    id: randomUUID(),
    projectId: 'p1',
    volumeId,
    instanceId: 'vm',
    status,
    mode: 'rw',
    targetKind: 'iscsi',
    connector: { initiator: 'iqn.2026-11.test:c', host: 'c', ip: null, multipath: false, platform: null, osType: null },
    chapUsername: 'flint-x',
    chapSecret: 'secret-123456789',
    host,
    pool: 'raw',
    exportRequested,
  });
  await em.flush();
  return a;
}

for (const kind of BACKENDS) {
  test(`${kind}: a compare-and-set applies from the expected state and version only`, async (t) => {
    const em = db(kind).fork();
    const v = await volume(em);
    const a = await attachment(em, v.id, 'attaching');
    t.is(await casAttachment(em, a.id, { from: ['reserved'] }, { status: 'attaching' }), null);
    t.is(await casAttachment(em, a.id, { from: ['attaching'], expectedVersion: 7 }, { status: 'attached' }), null);
    const done = await casAttachment(em, a.id, { from: ['attaching'], expectedVersion: 1 }, { status: 'attached', attachedAt: new Date() });
    t.is(done?.status, 'attached');
    t.is(done?.version, 2);
  });

  test(`${kind}: the volume's status follows its attachments and is left alone outside the attach family`, async (t) => {
    const em = db(kind).fork();
    const v = await volume(em);
    const a = await attachment(em, v.id, 'attached');
    t.is((await syncVolumeStatus(em, v.id))?.status, 'in_use');
    t.is(await syncVolumeStatus(em, v.id), null, 'no change, no write');
    await casAttachment(em, a.id, { from: ['attached'] }, { status: 'detached' });
    t.is((await syncVolumeStatus(em, v.id))?.status, 'available');
    const busy = await volume(em, 'extending');
    await attachment(em, busy.id, 'attached');
    t.is(await syncVolumeStatus(em, busy.id), null);
    t.is((await findVolume(em, busy.id))?.status, 'extending');
  });

  test(`${kind}: attachments changing at once leave the volume's status matching them`, async (t) => {
    const v = await volume(db(kind).fork());
    const list = await Promise.all(Array.from({ length: 6 }, async () => attachment(db(kind).fork(), v.id, 'attached')));
    await syncVolumeStatus(db(kind).fork(), v.id);
    await Promise.all(
      list.map(async (a) => {
        const em = db(kind).fork();
        await casAttachment(em, a.id, { from: ['attached'] }, { status: 'detached' });
        await syncVolumeStatus(em, v.id);
      }),
    );
    t.is((await findVolume(db(kind).fork(), v.id))?.status, 'available');
    t.deepEqual(await liveAttachmentsOf(db(kind).fork(), v.id), []);
  });

  test(`${kind}: a host's exports are its attachments with an export asked for and not removed`, async (t) => {
    const em = db(kind).fork();
    const host = `h-${randomUUID().slice(0, 8)}`;
    const v = await volume(em, 'in_use', host);
    const want = [await attachment(em, v.id, 'attaching', host), await attachment(em, v.id, 'attached', host), await attachment(em, v.id, 'error_detaching', host)];
    await attachment(em, v.id, 'reserved', host, false);
    await attachment(em, v.id, 'detached', host);
    await attachment(em, v.id, 'attached', 'elsewhere');
    t.deepEqual((await exportsOnHost(em, host)).map((a) => a.id).sort(), want.map((a) => a.id).sort());
  });

  test(`${kind}: the live view carries no CHAP secret and matches its contract`, async (t) => {
    const em = db(kind).fork();
    const v = await volume(em);
    const a = await attachment(em, v.id, 'attaching');
    const view = toAttachmentView(a);
    t.notThrows(() => attachmentView.parse(view));
    t.false(JSON.stringify(view).includes('secret-123456789'));
  });
}

test.after.always('no process is left behind', noProcessesLeft);
