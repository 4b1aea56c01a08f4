/**
 * The volume-type mutations (src/gateway/mutations/volume-type.ts, on the kernel) and the read
 * side (src/gateway/queries/reads.ts) against both databases, without NATS: the refusals a
 * type in use gets (one code, INVALID_STATE, for update and delete), rollback, a grant given
 * twice inside a PostgreSQL transaction, and lists scoped, paged by cursor and checked.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { findVolumeType, Project, Volume, VolumeTypeAccess, type Db, type Principal } from '../../src/db/index.js';
import { FlintError } from '../../src/domain/index.js';
import { VolumeTypeMutations } from '../../src/gateway/mutations/volume-type.js';
import { VolumeMutations } from '../../src/gateway/mutations/volume.js';
import { Reads } from '../../src/gateway/queries/reads.js';
import { encodeCursor } from '../../src/resolvers/types/relay.js';
import { BACKENDS, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { recordingDeps } from '../helpers/recording-deps.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-volume-types-');
});
test.after.always(async () => {
  await dbs?.close();
});

const principal = (role: Principal['role'], projectId: string = randomUUID()): Principal => ({ tokenId: randomUUID(), projectId, projectName: 'p', role });
const admin = principal('admin');

async function refusal(t: { throwsAsync: (p: Promise<unknown>) => Promise<unknown> }, p: Promise<unknown>): Promise<FlintError> {
  return (await t.throwsAsync(p)) as FlintError;
}

for (const backend of BACKENDS as readonly Backend[]) {
  const db = (): Db => dbs.get(backend);
  const setup = () => {
    const { deps } = recordingDeps(db());
    return { types: new VolumeTypeMutations(deps), volumes: new VolumeMutations(deps), reads: new Reads(db()) };
  };
  const uniq = (what: string) => `${what}-${randomUUID().slice(0, 8)}`;

  test(`a type in use keeps its extra specs and cannot be deleted: both INVALID_STATE, naming how many volumes use it (${backend})`, async (t) => {
    const { types, volumes } = setup();
    const type = await types.create(admin, { name: uniq('gold'), extraSpecs: { tier: 'ssd' } });
    const member = principal('member');
    await volumes.create(member, { name: 'a', sizeGiB: 1, volumeType: type.name });
    await volumes.create(member, { name: 'b', sizeGiB: 1, volumeType: type.name });

    const update = await refusal(t, types.update(admin, { id: type.id, extraSpecs: { tier: 'hdd' } }));
    t.is(update.code, 'INVALID_STATE');
    t.regex(update.message, /used by 2 volumes, so its extra specs cannot change/);
    t.deepEqual(update.details, { volumeCount: 2 });

    // Private now, with one project granted, so the refused delete has access rows to keep.
    await types.update(admin, { id: type.id, isPublic: false });
    await types.grantAccess(admin, { volumeTypeId: type.id, projectId: await project(db()) });
    const del = await refusal(t, types.delete(admin, { id: type.id }));
    t.is(del.code, 'INVALID_STATE');
    t.regex(del.message, /used by 2 volumes, so it cannot be deleted\. Delete the volumes or retype them/);
    // Rolled back: the type, its version and its access rows are as they were.
    const after = await findVolumeType(db().fork(), type.id);
    t.truthy(after);
    t.deepEqual(after!.extraSpecs, { tier: 'ssd' });
    t.is(await db().fork().count(VolumeTypeAccess, { volumeTypeId: type.id }), 1);
  });

  test(`a rename carries its volumes along; a taken name and a stale version are CONFLICT (${backend})`, async (t) => {
    const { types, volumes } = setup();
    const type = await types.create(admin, { name: uniq('silver') });
    const other = await types.create(admin, { name: uniq('bronze') });
    const { volume } = await volumes.create(principal('member'), { name: 'v', sizeGiB: 1, volumeType: type.name });
    const renamed = await types.update(admin, { id: type.id, name: uniq('platinum'), expectedVersion: type.version });
    t.is(renamed.version, type.version + 1);
    t.is((await db().fork().findOne(Volume, { id: volume.id }, { disableIdentityMap: true }))!.volumeType, renamed.name);

    const taken = await refusal(t, types.update(admin, { id: type.id, name: other.name }));
    t.is(taken.code, 'CONFLICT');
    t.regex(taken.message, /named ".*" exists already; pick another name/);
    const stale = await refusal(t, types.update(admin, { id: type.id, description: 'x', expectedVersion: type.version }));
    t.is(stale.code, 'CONFLICT');
    t.deepEqual(stale.details, { currentVersion: renamed.version });
    const dup = await refusal(t, types.create(admin, { name: other.name }));
    t.is(dup.code, 'CONFLICT');
    t.is((await findVolumeType(db().fork(), type.id))!.name, renamed.name, 'the refused rename changed nothing');
  });

  test(`nothing to change and bad values are BAD_USER_INPUT; members are FORBIDDEN; an unknown type is NOT_FOUND (${backend})`, async (t) => {
    const { types } = setup();
    const type = await types.create(admin, { name: uniq('t') });
    t.is((await refusal(t, types.update(admin, { id: type.id }))).code, 'BAD_USER_INPUT');
    const bad = await refusal(t, types.create(admin, { name: ' ', extraSpecs: 'x' }));
    t.is(bad.code, 'BAD_USER_INPUT');
    t.is((await refusal(t, types.create(principal('member'), { name: uniq('m') }))).code, 'FORBIDDEN');
    t.deepEqual(await types.delete(admin, { id: type.id }), { id: type.id, alreadyDeleted: false });
    t.is(await findVolumeType(db().fork(), type.id), null);
    // Idempotent: gone already (or never there) is success, said so.
    t.deepEqual(await types.delete(admin, { id: type.id }), { id: type.id, alreadyDeleted: true });
    const never = randomUUID();
    t.deepEqual(await types.delete(admin, { id: never }), { id: never, alreadyDeleted: true });
  });

  test(`a grant given twice changes nothing (also inside a PostgreSQL transaction); revoking twice is NOT_FOUND (${backend})`, async (t) => {
    const { types } = setup();
    const type = await types.create(admin, { name: uniq('private'), isPublic: false });
    const projectId = await project(db());
    const member = principal('member', projectId);
    t.is(await types.find(member, { id: type.id }), null, 'not granted: invisible');
    await types.grantAccess(admin, { volumeTypeId: type.id, projectId });
    await types.grantAccess(admin, { volumeTypeId: type.id, projectId });
    t.is(await db().fork().count(VolumeTypeAccess, { volumeTypeId: type.id }), 1);
    t.is((await types.find(member, { name: type.name }))?.id, type.id);
    t.true((await types.usable(member)).some((u) => u.id === type.id));
    await types.revokeAccess(admin, { volumeTypeId: type.id, projectId });
    const again = await refusal(t, types.revokeAccess(admin, { volumeTypeId: type.id, projectId }));
    t.is(again.code, 'NOT_FOUND');
    const pub = await types.create(admin, { name: uniq('public') });
    t.is((await refusal(t, types.grantAccess(admin, { volumeTypeId: pub.id, projectId }))).code, 'INVALID_STATE');
    t.is((await refusal(t, types.grantAccess(admin, { volumeTypeId: type.id, projectId: randomUUID() }))).code, 'NOT_FOUND');
    t.is((await refusal(t, types.find(member, {}))).code, 'BAD_USER_INPUT');
  });

  test(`lists are scoped to the caller's project, paged by cursor, and checked as one request (${backend})`, async (t) => {
    const { volumes, reads } = setup();
    const mine = principal('member');
    const theirs = principal('member');
    for (const name of ['a', 'b', 'c']) await volumes.create(mine, { name, sizeGiB: 1 });
    await volumes.create(theirs, { name: 'x', sizeGiB: 1 });

    const first = await reads.volumes(mine, { first: 2 });
    t.deepEqual(first.rows.map((v) => v.name), ['a', 'b']);
    t.true(first.hasNextPage);
    t.is(first.totalCount, 3);
    const last = first.rows.at(-1)!;
    const second = await reads.volumes(mine, { first: 2, after: encodeCursor(last.createdAt, last.id) });
    t.deepEqual(second.rows.map((v) => v.name), ['c']);
    t.false(second.hasNextPage);
    t.true((await reads.volumes(principal('admin'), { filter: { name: 'x' } })).rows.length >= 1, 'admins see every project');

    const bad = await refusal(t, reads.volumes(mine, { first: 501, after: 'junk' }));
    t.is(bad.code, 'BAD_USER_INPUT');
    t.deepEqual(bad.details, { problems: ['first must be from 0 to 500 (got 501)', 'after is not a cursor this API gave out; pass pageInfo.endCursor of the previous page'] });
    t.is((await refusal(t, reads.volumes(null, { first: 1, after: 'junk' }))).code, 'UNAUTHENTICATED', 'who asks is checked before what');
    t.is((await refusal(t, reads.audits(mine, {}))).code, 'FORBIDDEN');
    const audit = await refusal(t, reads.audits(admin, { filter: { resourceType: 'backup' } }));
    t.regex(audit.message, /filter.resourceType must be volume, snapshot or quota_set \(got "backup"\)/);

    const ops = await reads.operations(mine, { filter: { kind: 'create_volume' } });
    t.is(ops.totalCount, 3);
    t.true(ops.rows[0]!.createdAt >= ops.rows[2]!.createdAt, 'operations newest first');
  });

  test(`node(id) finds what the caller may see, and nothing of another project (${backend})`, async (t) => {
    const { volumes, types, reads } = setup();
    const mine = principal('member');
    const { volume, operation } = await volumes.create(mine, { name: 'n', sizeGiB: 1 });
    t.is((await reads.node(mine, volume.id))?.kind, 'volume');
    t.is((await reads.node(mine, operation.id))?.kind, 'operation');
    t.is(await reads.node(principal('member'), volume.id), null);
    const hidden = await types.create(admin, { name: uniq('hidden'), isPublic: false });
    t.is(await reads.node(mine, hidden.id), null);
    t.is((await reads.node(admin, hidden.id))?.kind, 'volumeType');
    t.is(await reads.node(mine, randomUUID()), null);
  });
}

/** A project row, for grants (they name an existing project). */
async function project(db: Db): Promise<string> {
  const em = db.fork();
  const id = randomUUID();
  em.create(Project, { id, name: `p-${id.slice(0, 8)}` });
  await em.flush();
  return id;
}

test.after.always('no process is left behind', noProcessesLeft);
