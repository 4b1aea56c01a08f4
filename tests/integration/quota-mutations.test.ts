/**
 * Quotas through the gateway's mutations (src/gateway/mutations/quota.ts and the kernel's
 * `quota` step) on both databases, without NATS: QUOTA_EXCEEDED in words and in details,
 * per-type and per-volume limits, extends and snapshots counted, retypes reserved in the new
 * type, an admin's limits refused below use unless forced, and a recount that finds drift.
 */
import test from 'ava';
import { loadConfig } from '../../src/config/config.js';
import { randomUUID } from 'node:crypto';
import { holdingsOfProject, Project, StatusAudit, Volume, type Db, type Principal } from '../../src/db/index.js';
import { FlintError } from '../../src/domain/index.js';
import { QuotaMutations } from '../../src/gateway/mutations/quota.js';
import { SnapshotMutations } from '../../src/gateway/mutations/snapshot.js';
import { VolumeTypeMutations } from '../../src/gateway/mutations/volume-type.js';
import { VolumeMutations } from '../../src/gateway/mutations/volume.js';
import { MigrationMutations } from '../../src/gateway/mutations/volume-migration.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { BACKENDS, openDatabases, type Databases } from '../helpers/databases.js';
import { recordingDeps } from '../helpers/recording-deps.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-quota-mutations-');
});
test.after.always(async () => {
  await dbs?.close();
});

async function newProject(db: Db): Promise<Principal> {
  const em = db.fork();
  const id = randomUUID();
  await em.insert(Project, em.create(Project, { id, name: `q-${id.slice(0, 8)}` }));
  return { tokenId: randomUUID(), projectId: id, projectName: `q-${id.slice(0, 8)}`, role: 'member' };
}
const admin: Principal = { tokenId: randomUUID(), projectId: randomUUID(), projectName: 'admin', role: 'admin' };

async function refusal(t: { throwsAsync: (p: Promise<unknown>) => Promise<unknown> }, p: Promise<unknown>): Promise<FlintError> {
  return (await t.throwsAsync(p)) as FlintError;
}

/** Puts a volume where an agent's outcome would: AVAILABLE on a pool. */
async function makeAvailable(db: Db, id: string): Promise<void> {
  await db.fork().nativeUpdate(Volume, { id }, { status: 'available', host: 'h1', pool: 'p1' });
}

for (const backend of BACKENDS) {
  const setup = () => {
    const db = dbs.get(backend);
    // Cinder's default limits, as a gateway without FLINT_QUOTA_DEFAULTS has them.
    const deps = { ...recordingDeps(db).deps, config: loadConfig({}) };
    return {
      db,
      volumes: new VolumeMutations(deps),
      snapshots: new SnapshotMutations(deps),
      quotas: new QuotaMutations(deps),
      types: new VolumeTypeMutations(deps),
      migration: new MigrationMutations({ ...deps, pools: { list: () => [] } as never }),
    };
  };

  test(`${backend}: a create over gigabytes is QUOTA_EXCEEDED with the resource, amounts and limit, and leaves nothing behind`, async (t) => {
    const { db, volumes, quotas } = setup();
    const p = await newProject(db);
    await quotas.updateQuotaSet(admin, { projectId: p.projectId, gigabytes: 10, reason: 'ticket 1' });
    const a = await volumes.create(p, { name: 'a', sizeGiB: 6 });
    const e = await refusal(t, volumes.create(p, { name: 'b', sizeGiB: 5 }));
    t.is(e.code, 'QUOTA_EXCEEDED');
    t.is(e.message, `Quota exceeded for gigabytes in project ${p.projectId}: requested 5, in use 0, reserved 6, limit 10. Delete what the project no longer needs, or ask an admin to raise the limit (updateQuotaSet).`);
    t.deepEqual(e.details, { projectId: p.projectId, resource: 'gigabytes', volumeType: null, requested: 5, inUse: 0, reserved: 6, limit: 10 });
    t.is(await db.fork().count(Volume, { projectId: p.projectId }), 1);
    // Once AVAILABLE, the 6 GiB are in use; 4 still fit.
    await makeAvailable(db, a.volume.id);
    await volumes.create(p, { name: 'c', sizeGiB: 4 });
    const set = await quotas.quotaSet(p);
    t.deepEqual(set.lines.gigabytes, { limit: 10, inUse: 6, reserved: 4 });
    t.deepEqual(set.lines.volumes, { limit: 10, inUse: 1, reserved: 1 });
    t.false(set.usesDefaults);
  });

  test(`${backend}: perVolumeGigabytes and a type's own limits; an extend reserves its growth and a snapshot counts in gigabytes`, async (t) => {
    const { db, volumes, snapshots, quotas, types } = setup();
    const p = await newProject(db);
    const gold = await types.create(admin, { name: `gold-${randomUUID().slice(0, 6)}` });
    await quotas.updateQuotaSet(admin, { projectId: p.projectId, perVolumeGigabytes: 20, gigabytes: 50, volumeTypes: [{ volumeType: gold.name, volumes: 1 }] });
    const big = await refusal(t, volumes.create(p, { name: 'big', sizeGiB: 21 }));
    t.is(big.code, 'QUOTA_EXCEEDED');
    t.regex(big.message, /a volume of 21 GiB is larger than project .*'s perVolumeGigabytes limit of 20/);
    const g1 = await volumes.create(p, { name: 'g1', sizeGiB: 10, volumeType: gold.name });
    const g2 = await refusal(t, volumes.create(p, { name: 'g2', sizeGiB: 1, volumeType: gold.name }));
    t.deepEqual(g2.details, { projectId: p.projectId, resource: 'volumes', volumeType: gold.name, requested: 1, inUse: 0, reserved: 1, limit: 1 });
    t.regex(g2.message, new RegExp(`for volumes of volume type ${gold.name}`));
    await makeAvailable(db, g1.volume.id);
    // Extends: over perVolumeGigabytes, then within; the growth is reserved while EXTENDING.
    t.is((await refusal(t, volumes.extend(p, { id: g1.volume.id, newSizeGiB: 25 }))).code, 'QUOTA_EXCEEDED');
    await volumes.extend(p, { id: g1.volume.id, newSizeGiB: 20 });
    t.deepEqual((await quotas.quotaSet(p)).lines.gigabytes, { limit: 50, inUse: 10, reserved: 10 });
    await db.fork().nativeUpdate(Volume, { id: g1.volume.id }, { status: 'available', sizeGiB: 20 });
    // A snapshot counts its size in gigabytes: 20 + 20 = 40 fits, a second is 60 > 50.
    await snapshots.create(p, { volumeId: g1.volume.id, name: 's1' });
    const s2 = await refusal(t, snapshots.create(p, { volumeId: g1.volume.id, name: 's2' }));
    t.deepEqual(s2.details, { projectId: p.projectId, resource: 'gigabytes', volumeType: null, requested: 20, inUse: 20, reserved: 20, limit: 50 });
    const held = await holdingsOfProject(db.fork(), p.projectId);
    t.deepEqual(held.get('snapshots'), { inUse: 0, reserved: 1 });
  });

  test(`${backend}: limits below what is held are refused without force, and forced with it; the change and a recount are audited`, async (t) => {
    const { db, volumes, quotas } = setup();
    const p = await newProject(db);
    const v = await volumes.create(p, { name: 'a', sizeGiB: 30 });
    await makeAvailable(db, v.volume.id);
    const e = await refusal(t, quotas.updateQuotaSet(admin, { projectId: p.projectId, gigabytes: 20, perVolumeGigabytes: 10 }));
    t.is(e.code, 'INVALID_STATE');
    t.regex(e.message, /gigabytes 20 is below what the project holds \(30 in use, 0 reserved\); perVolumeGigabytes 10 is below the project's largest volume \(30 GiB\).*force: true/);
    const forced = await quotas.updateQuotaSet(admin, { projectId: p.projectId, gigabytes: 20, force: true, reason: 'shrinking the tenant' });
    t.is(forced.quotaSet.lines.gigabytes.limit, 20);
    t.is(forced.audit.action, 'update_quota_set');
    t.is(forced.audit.reason, 'shrinking the tenant: gigabytes 1000 → 20 (forced)');
    // null puts the default back; the project then uses only defaults.
    const back = await quotas.updateQuotaSet(admin, { projectId: p.projectId, gigabytes: null });
    t.true(back.quotaSet.usesDefaults);
    t.is(back.quotaSet.lines.gigabytes.limit, 1000);
    // Members: their own project only; not the admin mutations.
    t.is((await refusal(t, quotas.updateQuotaSet(p, { projectId: p.projectId, gigabytes: 5 }))).code, 'FORBIDDEN');
    t.is((await refusal(t, quotas.quotaSet(p, admin.projectId))).code, 'NOT_FOUND');
    t.is((await refusal(t, quotas.updateQuotaSet(admin, { projectId: p.projectId, volumes: -2 }))).code, 'BAD_USER_INPUT');
    // Drift made by hand is found and repaired, and audited.
    await db.fork().getConnection().execute('UPDATE quota_usage SET gigabytes = 3 WHERE project_id = ?', [p.projectId], 'run');
    const sync = await quotas.syncQuotaUsage(admin, { projectId: p.projectId, reason: 'after a restore' });
    t.deepEqual(sync.corrections, [{ resource: 'gigabytes', volumeType: null, inUseBefore: 3, inUseAfter: 30, reservedBefore: 0, reservedAfter: 0 }]);
    t.is(sync.quotaSet.lines.gigabytes.inUse, 30);
    t.regex(sync.audit.reason ?? '', /after a restore: gigabytes in use 3 → 30/);
    const again = await quotas.syncQuotaUsage(admin, { projectId: p.projectId });
    t.deepEqual(again.corrections, []);
    t.is(await db.fork().count(StatusAudit, { resourceType: 'quota_set', resourceId: p.projectId }), 4);
  });

  test(`${backend}: a retype reserves the volume in its new type, so two retypes cannot both take the type's last place`, async (t) => {
    const { db, volumes, quotas, types, migration } = setup();
    const p = await newProject(db);
    const silver = await types.create(admin, { name: `silver-${randomUUID().slice(0, 6)}` });
    await quotas.updateQuotaSet(admin, { projectId: p.projectId, volumeTypes: [{ volumeType: silver.name, volumes: 1 }] });
    const a = await volumes.create(p, { name: 'a', sizeGiB: 1 });
    const b = await volumes.create(p, { name: 'b', sizeGiB: 1 });
    await makeAvailable(db, a.volume.id);
    await makeAvailable(db, b.volume.id);
    const results = await Promise.allSettled([a, b].map((v) => migration.retype(p, { id: v.volume.id, volumeType: silver.name, migrationPolicy: 'never' })));
    t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    t.is((refused.reason as FlintError).code, 'QUOTA_EXCEEDED');
    const set = await quotas.quotaSet(p);
    t.deepEqual(set.volumeTypes.find((x) => x.volumeType === silver.name)?.volumes, { limit: 1, inUse: 0, reserved: 1 });
  });
}

test.after.always('no process is left behind', noProcessesLeft);
