/**
 * The quota counters (src/db/quota-sql.ts triggers, src/db/quota-store.ts) against a real
 * SQLite file and a real PostgreSQL database: every kind of row change moves them as the
 * charge rules of src/domain/quotas.ts say, a random run of changes leaves them equal to a
 * recount, and concurrent creates checked against a limit admit exactly the limit.
 */
import 'reflect-metadata';
import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import { Backup, enforceClaim, holdingsOfProject, recountUsage, Snapshot, storeOverrides, Volume, type Db, type Holdings } from '../../src/db/index.js';
import { chargeChild, chargeVolume, DEFAULT_QUOTA_LIMITS, QuotaExceededError, type Charges, type QuotaLimits } from '../../src/domain/quotas.js';
import { VOLUME_STATUSES } from '../../src/domain/volume-states.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { BACKENDS, insertProject, openDatabases, type Backend, type Databases } from '../helpers/databases.js';

let databases: Databases | undefined;
test.before(async () => {
  databases = await openDatabases('flint-db-quota-');
});
test.after.always(async () => {
  await databases?.close();
});
const db = (kind: Backend): Db => databases!.get(kind);

const newProject = insertProject;

function volumeRow(projectId: string, over: Partial<Volume> = {}): Partial<Volume> {
  return { id: randomUUID(), projectId, name: 'v', sizeGiB: 1, status: 'available', availabilityZone: 'nova', metadata: {}, ...over };
}

/** What the rows of a project say it holds, by the pure charge rules. */
async function recount(em: EntityManager, projectId: string): Promise<Charges> {
  const c: Charges = new Map();
  for (const v of await em.find(Volume, { projectId }, { disableIdentityMap: true })) chargeVolume(c, v);
  for (const s of await em.find(Snapshot, { projectId }, { disableIdentityMap: true })) chargeChild(c, 'snapshot', s);
  for (const b of await em.find(Backup, { projectId }, { disableIdentityMap: true })) chargeChild(c, 'backup', b);
  return c;
}

/** The counters and the recount agree on every key either has (zeros where a key is missing). */
async function assertCounted(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, d: Db, projectId: string, label: string): Promise<void> {
  const em = d.fork();
  const held: Holdings = await holdingsOfProject(em, projectId);
  const expected = await recount(em, projectId);
  const keys = new Set([...held.keys(), ...expected.keys()]);
  const nonZero = (m: Map<string, { inUse: number; reserved: number }>) =>
    Object.fromEntries([...keys].sort().map((k) => [k, m.get(k) ?? { inUse: 0, reserved: 0 }]).filter(([, v]) => (v as { inUse: number }).inUse !== 0 || (v as { reserved: number }).reserved !== 0));
  t.deepEqual(nonZero(held), nonZero(expected), label);
}

for (const kind of BACKENDS) {
  test(`${kind}: creates reserve, outcomes move to in use, extends and retypes reserve their growth, deletes release`, async (t) => {
    const d = db(kind);
    const p = await newProject(d);
    const em = d.fork();
    const v = volumeRow(p, { status: 'creating', sizeGiB: 10, volumeType: 'gold' });
    await em.insert(Volume, em.create(Volume, v as Volume));
    let h = await holdingsOfProject(d.fork(), p);
    t.deepEqual(h.get('gigabytes'), { inUse: 0, reserved: 10 });
    t.deepEqual(h.get('volumes@gold'), { inUse: 0, reserved: 1 });
    await em.nativeUpdate(Volume, { id: v.id }, { status: 'available' });
    await em.nativeUpdate(Volume, { id: v.id }, { status: 'extending', pendingSizeGiB: 25 });
    h = await holdingsOfProject(d.fork(), p);
    t.deepEqual(h.get('gigabytes'), { inUse: 10, reserved: 15 });
    t.deepEqual(h.get('gigabytes@gold'), { inUse: 10, reserved: 15 });
    await em.nativeUpdate(Volume, { id: v.id }, { status: 'available', sizeGiB: 25 });
    await em.nativeUpdate(Volume, { id: v.id }, { status: 'retyping', pendingVolumeType: 'silver' });
    h = await holdingsOfProject(d.fork(), p);
    t.deepEqual(h.get('volumes@silver'), { inUse: 0, reserved: 1 });
    t.deepEqual(h.get('gigabytes@silver'), { inUse: 0, reserved: 25 });
    await em.nativeUpdate(Volume, { id: v.id }, { status: 'available', volumeType: 'silver' });
    h = await holdingsOfProject(d.fork(), p);
    t.deepEqual(h.get('gigabytes@silver'), { inUse: 25, reserved: 0 });
    t.deepEqual(h.get('gigabytes@gold'), { inUse: 0, reserved: 0 });
    await em.insert(Snapshot, em.create(Snapshot, { id: randomUUID(), projectId: p, volumeId: v.id!, name: 's', sizeGiB: 25, status: 'creating' }));
    await em.insert(Backup, em.create(Backup, { id: randomUUID(), projectId: p, volumeId: v.id!, name: 'b', sizeGiB: 25, status: 'available', repository: 'dir:/x' }));
    h = await holdingsOfProject(d.fork(), p);
    t.deepEqual(h.get('snapshots'), { inUse: 0, reserved: 1 });
    t.deepEqual(h.get('gigabytes'), { inUse: 25, reserved: 25 });
    t.deepEqual(h.get('backupGigabytes'), { inUse: 25, reserved: 0 });
    // A transfer moves everything to the other project.
    const q = await newProject(d);
    await em.nativeUpdate(Volume, { id: v.id }, { projectId: q });
    await em.nativeUpdate(Snapshot, { volumeId: v.id }, { projectId: q });
    t.deepEqual((await holdingsOfProject(d.fork(), p)).get('gigabytes'), { inUse: 0, reserved: 0 });
    t.deepEqual((await holdingsOfProject(d.fork(), q)).get('gigabytes'), { inUse: 25, reserved: 25 });
    await em.nativeUpdate(Volume, { id: v.id }, { status: 'deleted' });
    await em.nativeDelete(Snapshot, { volumeId: v.id });
    t.deepEqual((await holdingsOfProject(d.fork(), q)).get('gigabytes'), { inUse: 0, reserved: 0 });
    await assertCounted(t, d, p, 'giver');
    await assertCounted(t, d, q, 'receiver');
  });

  test(`${kind}: a random run of row changes leaves the counters equal to a recount, and recountUsage repairs a counter edited by hand`, async (t) => {
    const d = db(kind);
    const projects = [await newProject(d), await newProject(d)];
    const types = [null, 'gold', 'silver'];
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
    const ids: string[] = [];
    const em = d.fork();
    for (let i = 0; i < 300; i++) {
      const r = Math.random();
      if (r < 0.25 || ids.length === 0) {
        const v = volumeRow(pick(projects), { status: pick(VOLUME_STATUSES), sizeGiB: 1 + Math.floor(Math.random() * 50), volumeType: pick(types) });
        await em.insert(Volume, em.create(Volume, v as Volume));
        ids.push(v.id!);
        if (Math.random() < 0.5)
          await em.insert(Snapshot, em.create(Snapshot, { id: randomUUID(), projectId: v.projectId!, volumeId: v.id!, name: 's', sizeGiB: v.sizeGiB!, status: pick(['creating', 'available', 'error', 'deleted'] as const) }));
      } else if (r < 0.85) {
        const id = pick(ids);
        await em.nativeUpdate(Volume, { id }, {
          status: pick(VOLUME_STATUSES),
          ...(Math.random() < 0.3 ? { sizeGiB: 1 + Math.floor(Math.random() * 50) } : {}),
          ...(Math.random() < 0.3 ? { pendingSizeGiB: 1 + Math.floor(Math.random() * 80) } : {}),
          ...(Math.random() < 0.3 ? { pendingVolumeType: pick(types) } : {}),
          ...(Math.random() < 0.2 ? { volumeType: pick(types) } : {}),
          ...(Math.random() < 0.1 ? { projectId: pick(projects) } : {}),
        });
        await em.nativeUpdate(Snapshot, { volumeId: id }, { status: pick(['creating', 'available', 'error', 'deleted'] as const) });
      } else {
        const id = ids.splice(Math.floor(Math.random() * ids.length), 1)[0]!;
        await em.nativeDelete(Snapshot, { volumeId: id });
        await em.nativeDelete(Volume, { id });
      }
    }
    for (const p of projects) await assertCounted(t, d, p, `project ${p} after the random run`);
    // A counter changed by hand (an operator's SQL) is drift; the recount repairs it and says what it was.
    await em.getConnection().execute('UPDATE quota_usage SET gigabytes = gigabytes + 7 WHERE project_id = ?', [projects[0]], 'run');
    const { before, after } = await d.fork().transactional((tx) => recountUsage(tx, projects[0]!));
    t.is(before.get('gigabytes')!.inUse - after.get('gigabytes')!.inUse, 7);
    await assertCounted(t, d, projects[0]!, 'after the recount');
  });

  test(`${kind}: 200 concurrent creates of 1 GiB against gigabytes = 37 admit exactly 37`, async (t) => {
    const d = db(kind);
    const p = await newProject(d);
    const limits: QuotaLimits = { ...DEFAULT_QUOTA_LIMITS, volumes: -1 };
    await storeOverrides(d.fork(), p, { gigabytes: 37 });
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () =>
        d.fork().transactional(async (tx) => {
          await tx.insert(Volume, tx.create(Volume, volumeRow(p, { status: 'creating' }) as Volume));
          await enforceClaim(tx, limits, { projectId: p, volumes: 1, gigabytes: 1, volumeSizeGiB: 1 });
        }),
      ),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    t.is(results.length - refused.length, 37);
    for (const r of refused) t.true((r as PromiseRejectedResult).reason instanceof QuotaExceededError, String((r as PromiseRejectedResult).reason));
    t.is(await d.fork().count(Volume, { projectId: p }), 37);
    t.deepEqual((await holdingsOfProject(d.fork(), p)).get('gigabytes'), { inUse: 0, reserved: 37 });
    const e = (refused[0] as PromiseRejectedResult).reason as QuotaExceededError;
    t.deepEqual(e.details, { projectId: p, resource: 'gigabytes', volumeType: null, requested: 1, inUse: 0, reserved: 37, limit: 37 });
    t.regex(e.message, /requested 1, in use 0, reserved 37, limit 37/);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
