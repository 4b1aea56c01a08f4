/**
 * A private volume type's name cannot be probed: wherever a project names a type it may
 * not use, the answer is the one a missing type gets (code and message shape). And
 * `retypeVolume` honours the access granted to the project. Real gateway, SQLite and PostgreSQL.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { Volume } from '../../src/db/index.js';
import { BACKENDS, type Backend } from '../helpers/databases.js';
import { codeOf, post, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  gw: TestGateway;
  admin: string;
  granted: { token: string; projectId: string };
  stranger: { token: string; projectId: string };
}
const ctxs = new Map<Backend, Ctx>();

const CREATE_TYPE = 'mutation($input: CreateVolumeTypeInput!) { createVolumeType(input: $input) { id name } }';
const ADD_ACCESS = 'mutation($input: VolumeTypeAccessInput!) { addVolumeTypeAccess(input: $input) { name } }';
const CREATE_VOLUME = 'mutation($input: CreateVolumeInput!) { createVolume(input: $input) { volume { id volumeType } } }';
const RETYPE = 'mutation($input: RetypeVolumeInput!) { retypeVolume(input: $input) { volume { id status } operation { id } } }';

test.before(async () => {
  for (const backend of BACKENDS) {
    const gw = await startTestGateway({ backend });
    const admin = (await gw.token('ops', 'admin')).token;
    const granted = await gw.token('team-granted', 'member');
    const stranger = await gw.token('team-stranger', 'member');
    const type = await post(gw.url, admin, CREATE_TYPE, { input: { name: 'secret-gold', isPublic: false } });
    if (type.body.errors) throw new Error(JSON.stringify(type.body.errors));
    const id = (type.body.data as { createVolumeType: { id: string } }).createVolumeType.id;
    const access = await post(gw.url, admin, ADD_ACCESS, { input: { volumeTypeId: id, projectId: granted.projectId } });
    if (access.body.errors) throw new Error(JSON.stringify(access.body.errors));
    ctxs.set(backend, { gw, admin, granted, stranger });
  }
});

test.after.always(async () => {
  for (const c of ctxs.values()) await c.gw.stop();
});

const each = (title: string, fn: (t: ExecutionContext, c: Ctx) => Promise<void>) => {
  for (const backend of BACKENDS) test(`${title} (${backend})`, (t) => fn(t, ctxs.get(backend)!));
};

/** An AVAILABLE volume placed on a pool, as an agent would have left it. */
async function placedVolume(c: Ctx, projectId: string): Promise<string> {
  const em = c.gw.db.fork();
  const id = randomUUID();
  em.create(Volume, { id, projectId, name: `v-${id.slice(0, 8)}`, sizeGiB: 1, status: 'available', availabilityZone: 'nova', host: 'h1', pool: 'p1' });
  await em.flush();
  return id;
}

/** The message with the type's name taken out: what must not differ. */
const shape = (r: { body: { errors?: Array<{ message: string }> } }, name: string): string | undefined => r.body.errors?.[0]?.message.replaceAll(name, '<type>');

each('createVolume: a private type without access and a missing type get the same NOT_FOUND', async (t, c) => {
  const priv = await post(c.gw.url, c.stranger.token, CREATE_VOLUME, { input: { name: 'probe', sizeGiB: 1, volumeType: 'secret-gold' } });
  const missing = await post(c.gw.url, c.stranger.token, CREATE_VOLUME, { input: { name: 'probe', sizeGiB: 1, volumeType: 'secret-gilt' } });
  t.is(codeOf(priv), 'NOT_FOUND');
  t.is(codeOf(missing), 'NOT_FOUND');
  t.is(shape(priv, 'secret-gold'), shape(missing, 'secret-gilt'));
  t.deepEqual(Object.keys(priv.body.errors![0]!.extensions!).sort(), Object.keys(missing.body.errors![0]!.extensions!).sort());
});

each('retypeVolume: a private type without access and a missing type get the same NOT_FOUND', async (t, c) => {
  const id = await placedVolume(c, c.stranger.projectId);
  const priv = await post(c.gw.url, c.stranger.token, RETYPE, { input: { id, volumeType: 'secret-gold' } });
  const missing = await post(c.gw.url, c.stranger.token, RETYPE, { input: { id, volumeType: 'secret-gilt' } });
  t.is(codeOf(priv), 'NOT_FOUND');
  t.is(codeOf(missing), 'NOT_FOUND');
  t.is(shape(priv, 'secret-gold'), shape(missing, 'secret-gilt'));
  const v = await c.gw.db.fork().findOneOrFail(Volume, { id }, { disableIdentityMap: true });
  t.is(v.status, 'available', 'nothing changed');
});

each('retypeVolume honours volume-type access granted to the project', async (t, c) => {
  const id = await placedVolume(c, c.granted.projectId);
  const r = await post(c.gw.url, c.granted.token, RETYPE, { input: { id, volumeType: 'secret-gold' } });
  t.falsy(r.body.errors, JSON.stringify(r.body.errors));
  t.is((r.body.data as { retypeVolume: { volume: { status: string } } }).retypeVolume.volume.status, 'RETYPING');
});

each('createVolume with a private type the project was granted is accepted', async (t, c) => {
  const r = await post(c.gw.url, c.granted.token, CREATE_VOLUME, { input: { name: 'ok', sizeGiB: 1, volumeType: 'secret-gold' } });
  t.falsy(r.body.errors, JSON.stringify(r.body.errors));
  t.is((r.body.data as { createVolume: { volume: { volumeType: string } } }).createVolume.volume.volumeType, 'secret-gold');
});

test.after.always('no process is left behind', noProcessesLeft);
