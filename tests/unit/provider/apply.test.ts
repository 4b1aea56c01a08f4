import test from 'ava';
import {
  applyPlan,
  applySummary,
  labelsFor,
  planStack,
  type ActualAttachment,
  type ActualBackup,
  type ActualSnapshot,
  type KindOps,
  type Stack,
  type StackOps,
} from '../../../src/provider/index.js';
import { actualVolume } from './fixtures.js';

const existing = actualVolume('db', { id: 'old-id' });

const snapshotOf = (volumeId: string): ActualSnapshot => ({ id: 'snap-id', volumeId, name: 'web-base', description: null, metadata: labelsFor('web', 'base'), status: 'AVAILABLE', version: 1, generation: 1 });
const attachmentOf = (volumeId: string): ActualAttachment => ({
  id: 'att-id',
  volumeId,
  instanceId: 'vm-1',
  mode: 'RW',
  targetKind: 'ISCSI',
  status: 'ATTACHED',
  version: 2,
  idempotencyKey: 'flint-apply/web/vm1/0123456789abcdef',
  connector: { host: 'compute-1', initiator: null, ip: null, multipath: false, osType: null, platform: null },
});

/** Records every call as `<verb> <kind>.<resource>[ of <volumeId>]`; `fail` maps `kind.resource` to the code its calls throw. */
function fakeOps(fail: Record<string, string> = {}): StackOps & { calls: string[] } {
  const calls: string[] = [];
  const kind = (k: string): KindOps<unknown, unknown> => {
    const check = (resource: string) => {
      const code = fail[`${k}.${resource}`];
      if (code) throw Object.assign(new Error(`${k}.${resource} refused`), { code });
    };
    return {
      async create(_stack, d, volumeId) {
        const resource = (d as { resource: string }).resource;
        calls.push(`create ${k}.${resource}${volumeId ? ` of ${volumeId}` : ''}`);
        check(resource);
        return { id: `new-${resource}` };
      },
      async update(resource, a, fields) {
        calls.push(`update ${k}.${resource} ${fields.map((f) => f.field).join(',')}`);
        check(resource);
        return a as { id: string };
      },
      async delete(resource) {
        calls.push(`delete ${k}.${resource}`);
        check(resource);
      },
    };
  };
  return { calls, volume: kind('volume'), snapshot: kind('snapshot'), attachment: kind('attachment'), backup: kind('backup') } as StackOps & { calls: string[] };
}

test('a replacement deletes the old volume before it creates the new one', async (t) => {
  const plan = planStack({ stack: 'web', volumes: { db: { sizeGiB: 10, availabilityZone: 'zone-b' } } }, { volumes: [existing] });
  const ops = fakeOps();
  const lines: string[] = [];
  const results = await applyPlan(plan, ops, (l) => lines.push(l));
  t.deepEqual(ops.calls, ['delete volume.db', 'create volume.db']);
  t.deepEqual(results, [{ kind: 'volume', resource: 'db', action: 'replace', id: 'new-db', error: null }]);
  t.regex(lines.join('\n'), /^volume\.db: Replacing: destroying\.\.\.\nvolume\.db: Destroyed, for its replacement after \d+s\nvolume\.db: Replacing: creating\.\.\.\nvolume\.db: Replacement complete after \d+s \[id=new-db\]$/);
  t.is(applySummary(results), 'Apply complete! Resources: 0 created, 0 updated, 1 replaced, 0 deleted.');
});

test('a failed change is reported and the next one still runs', async (t) => {
  const plan = planStack({ stack: 'web', volumes: { a: { sizeGiB: 1 }, b: { sizeGiB: 1 }, db: { sizeGiB: 20 } } }, { volumes: [existing] });
  const ops = fakeOps({ 'volume.a': 'QUOTA_EXCEEDED' });
  const lines: string[] = [];
  const results = await applyPlan(plan, ops, (l) => lines.push(l));
  t.deepEqual(ops.calls, ['create volume.a', 'create volume.b', 'update volume.db sizeGiB']);
  t.deepEqual(results[0]!.error, { code: 'QUOTA_EXCEEDED', message: 'volume.a refused' });
  t.true(lines.includes('volume.a: Error: volume.a refused (QUOTA_EXCEEDED)'));
  t.is(applySummary(results), 'Apply failed: 1 of 3 changes failed. Resources: 1 created, 1 updated, 0 replaced, 0 deleted.');
});

test('a plan with errors applies nothing', async (t) => {
  const plan = planStack({ stack: 'web', volumes: { db: { sizeGiB: 5 } } }, { volumes: [existing] });
  const ops = fakeOps();
  await t.throwsAsync(applyPlan(plan, ops, () => {}), { message: /the plan has errors; nothing was applied/ });
  t.deepEqual(ops.calls, []);
});

const withDependents = (over: Partial<Stack> = {}): Stack => ({
  stack: 'web',
  volumes: { db: { sizeGiB: 10, availabilityZone: 'zone-b' } },
  snapshots: { base: { volume: 'db' } },
  attachments: { vm1: { volume: 'db', instanceId: 'vm-1', connector: { host: 'compute-1' } } },
  ...over,
});

test('what hangs on a replaced volume goes first and comes back on the new one', async (t) => {
  const plan = planStack(withDependents(), { volumes: [existing], snapshots: [snapshotOf('old-id')], attachments: [attachmentOf('old-id')] });
  t.deepEqual(plan.errors, []);
  const ops = fakeOps();
  const results = await applyPlan(plan, ops, () => {});
  t.deepEqual(ops.calls, ['delete attachment.vm1', 'delete snapshot.base', 'delete volume.db', 'create volume.db', 'create snapshot.base of new-db', 'create attachment.vm1 of new-db']);
  t.deepEqual(results.map((r) => [r.kind, r.action, r.error]), [
    ['volume', 'replace', null],
    ['snapshot', 'replace', null],
    ['attachment', 'replace', null],
  ]);
});

test('a new snapshot and attachment of an unchanged volume hang on its id', async (t) => {
  const plan = planStack(withDependents({ volumes: { db: { sizeGiB: 10 } } }), { volumes: [existing] });
  const ops = fakeOps();
  await applyPlan(plan, ops, () => {});
  t.deepEqual(ops.calls, ['create snapshot.base of old-id', 'create attachment.vm1 of old-id']);
});

test('what depends on a failed change is skipped and says why; the rest still runs', async (t) => {
  const stack: Stack = {
    stack: 'web',
    volumes: { a: { sizeGiB: 1 }, b: { sizeGiB: 1 } },
    snapshots: { sa: { volume: 'a' }, sb: { volume: 'b' } },
  };
  const ops = fakeOps({ 'volume.a': 'QUOTA_EXCEEDED' });
  const lines: string[] = [];
  const results = await applyPlan(planStack(stack, {}), ops, (l) => lines.push(l));
  t.deepEqual(ops.calls, ['create volume.a', 'create volume.b', 'create snapshot.sb of new-b']);
  const skipped = results.find((r) => r.resource === 'sa')!;
  t.deepEqual(skipped.error, { code: 'SKIPPED', message: 'not attempted: volume.a failed' });
  t.true(lines.includes('snapshot.sa: Skipped: volume.a failed'));
  t.is(applySummary(results), 'Apply failed: 2 of 4 changes failed (1 skipped). Resources: 2 created, 0 updated, 0 replaced, 0 deleted.');
});

test('a volume whose snapshot could not be removed is not deleted', async (t) => {
  const plan = planStack({ stack: 'web', volumes: {} }, { volumes: [existing], snapshots: [snapshotOf('old-id')] }, { prune: true });
  const ops = fakeOps({ 'snapshot.base': 'INVALID_STATE' });
  const results = await applyPlan(plan, ops, () => {});
  t.deepEqual(ops.calls, ['delete snapshot.base']);
  t.is(results.find((r) => r.kind === 'volume')!.error?.code, 'SKIPPED');
});

test("a backup policy deletes old backups only once the new one is made", async (t) => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const backup = (id: string, hoursAgo: number): ActualBackup => ({
    id,
    volumeId: 'old-id',
    name: id,
    status: 'AVAILABLE',
    version: 1,
    createdAt: new Date(now - hoursAgo * 3600_000).toISOString(),
    idempotencyKey: `flint-apply/web/db/backup/${id}`,
  });
  const stack: Stack = { stack: 'web', volumes: { db: { sizeGiB: 10, backupPolicy: { every: '1d', keep: 2 } } } };
  const state = { volumes: [existing], backups: [backup('b1', 30), backup('b2', 54)] };
  const ok = fakeOps();
  await applyPlan(planStack(stack, state, { now }), ok, () => {});
  t.deepEqual(ok.calls, ['create backup.db of old-id', 'delete backup.db']);
  const failing = fakeOps({ 'backup.db': 'INVALID_STATE' });
  const results = await applyPlan(planStack(stack, state, { now }), failing, () => {});
  t.deepEqual(failing.calls, ['create backup.db of old-id']);
  t.deepEqual(results.map((r) => r.error?.code), ['INVALID_STATE', 'SKIPPED']);
});
