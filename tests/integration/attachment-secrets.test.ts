/**
 * CHAP secrets sealed at rest (src/gateway/mutations/attachment-secrets.ts) against a real SQLite
 * database: rows stored in clear text by an earlier version are sealed at a gateway's start,
 * sealed rows are left alone, and the reconciliation reply sends sealed passwords only.
 * (SQLite only: PostgreSQL's `chap_secret` column is varchar(64) until the integrator
 * regenerates the migration for its new length, 255.)
 */
import 'reflect-metadata';
import test from 'ava';
import { randomBytes, randomUUID } from 'node:crypto';
import { createLogger } from '../../src/config/index.js';
import { Attachment, findAttachment, Volume, type Db } from '../../src/db/index.js';
import { isSealed, SecretBox } from '../../src/domain/secret-box.js';
import { attachmentsOnHost } from '../../src/gateway/outcomes/attachment-reconcile.js';
import { chapForBus, revealChapSecret, sealLegacyChapSecrets } from '../../src/gateway/mutations/attachment-secrets.js';
import { openDatabases, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';

let databases: Databases | undefined;
test.before(async () => {
  databases = await openDatabases('flint-attachment-secrets-');
});
test.after.always(async () => {
  await databases?.close();
});
const db = (): Db => databases!.get('sqlite');
const box = new SecretBox(randomBytes(32), '/etc/flint/secret.key');
const log = createLogger('test', 'silent');

async function row(host: string, chapSecret: string | null): Promise<Attachment> {
  const em = db().fork();
  const v = em.create(Volume, { id: randomUUID(), projectId: 'p1', name: 'v', sizeGiB: 1, status: 'in_use', availabilityZone: 'nova', host, pool: 'raw' });
  const a = em.create(Attachment, {
    id: randomUUID(),
    projectId: 'p1',
    volumeId: v.id,
    instanceId: 'vm',
    status: 'attached',
    mode: 'rw',
    targetKind: 'iscsi',
    chapUsername: chapSecret ? 'flint-x' : null,
    chapSecret,
    host,
    pool: 'raw',
    exportRequested: true,
  });
  await em.flush();
  return a;
}

test.serial('clear-text CHAP secrets from an earlier version are sealed at start; sealed ones are left as they are', async (t) => {
  const legacy = await row('h-legacy', 'a1b2c3d4e5f6a1b2c3d4e5f6');
  const sealedBefore = box.seal('0123456789abcdef01234567', 'placeholder');
  const modern = await row('h-legacy', null);
  await db().fork().nativeUpdate(Attachment, { id: modern.id }, { chapUsername: 'flint-y', chapSecret: sealedBefore });
  const none = await row('h-legacy', null);

  t.is(await sealLegacyChapSecrets(db(), box, log), 1);
  const now = await findAttachment(db().fork(), legacy.id);
  t.true(isSealed(now!.chapSecret!));
  t.false(now!.chapSecret!.includes('a1b2c3d4e5f6'));
  t.is(revealChapSecret(box, legacy.id, now!.chapSecret!), 'a1b2c3d4e5f6a1b2c3d4e5f6');
  t.is((await findAttachment(db().fork(), modern.id))!.chapSecret, sealedBefore);
  t.is((await findAttachment(db().fork(), none.id))!.chapSecret, null);
  t.is(await sealLegacyChapSecrets(db(), box, log), 0, 'a second start has nothing left to seal');
});

test.serial('a clear-text secret not yet sealed is still shown in clear and sent sealed', (t) => {
  t.is(revealChapSecret(box, 'a-1', 'a1b2c3d4e5f6a1b2c3d4e5f6'), 'a1b2c3d4e5f6a1b2c3d4e5f6');
  const chap = chapForBus(box, { id: 'a-1', chapUsername: 'flint-a', chapSecret: 'a1b2c3d4e5f6a1b2c3d4e5f6' })!;
  t.true(isSealed(chap.password));
  t.is(box.open(chap.password, 'a-1'), 'a1b2c3d4e5f6a1b2c3d4e5f6');
});

test.serial('the reconciliation reply carries the CHAP passwords sealed, for their own attachment', async (t) => {
  const a = await row('h-reconcile', 'ffeeddccbbaa998877665544');
  await sealLegacyChapSecrets(db(), box, log);
  const [r] = await attachmentsOnHost(db(), 'h-reconcile', box);
  t.is(r!.attachmentId, a.id);
  t.true(isSealed(r!.chap!.password));
  t.false(JSON.stringify(r).includes('ffeeddccbbaa'));
  t.is(box.open(r!.chap!.password, a.id), 'ffeeddccbbaa998877665544');
});

test.after.always('no process is left behind', noProcessesLeft);
