import test from 'ava';
import { applyPlan, applySummary, labelsFor, planStack, type ActualVolume, type DesiredVolume, type FieldChange, type VolumeOps } from '../../../src/provider/index.js';

const existing: ActualVolume = {
  id: 'old-id',
  name: 'web-db',
  description: null,
  metadata: labelsFor('web', 'db'),
  sizeGiB: 10,
  volumeType: null,
  availabilityZone: 'nova',
  multiattach: false,
  status: 'AVAILABLE',
  version: 1,
};

/** Records the calls; `fail` names resources whose calls throw. */
function fakeOps(fail: Record<string, string> = {}): VolumeOps & { calls: string[] } {
  const calls: string[] = [];
  const check = (resource: string) => {
    if (fail[resource]) throw Object.assign(new Error(`${resource} refused`), { code: fail[resource] });
  };
  return {
    calls,
    async create(_stack: string, d: DesiredVolume) {
      calls.push(`create ${d.resource}`);
      check(d.resource);
      return { ...existing, id: `new-${d.resource}`, name: d.name };
    },
    async update(resource: string, a: ActualVolume, fields: readonly FieldChange[]) {
      calls.push(`update ${resource} ${fields.map((f) => f.field).join(',')}`);
      check(resource);
      return a;
    },
    async delete(resource: string) {
      calls.push(`delete ${resource}`);
      check(resource);
    },
  };
}

test('a replacement deletes the old volume before it creates the new one', async (t) => {
  const plan = planStack({ stack: 'web', volumes: { db: { sizeGiB: 10, availabilityZone: 'zone-b' } } }, [existing]);
  const ops = fakeOps();
  const lines: string[] = [];
  const results = await applyPlan(plan, ops, (l) => lines.push(l));
  t.deepEqual(ops.calls, ['delete db', 'create db']);
  t.deepEqual(results, [{ resource: 'db', action: 'replace', id: 'new-db', error: null }]);
  t.regex(lines.join('\n'), /^volume\.db: Replacing\.\.\.\nvolume\.db: Replacement complete after \d+s \[id=new-db\]$/);
  t.is(applySummary(results), 'Apply complete! Resources: 0 created, 0 updated, 1 replaced, 0 deleted.');
});

test('a failed change is reported and the next one still runs', async (t) => {
  const plan = planStack({ stack: 'web', volumes: { a: { sizeGiB: 1 }, b: { sizeGiB: 1 }, db: { sizeGiB: 20 } } }, [existing]);
  const ops = fakeOps({ a: 'QUOTA_EXCEEDED' });
  const lines: string[] = [];
  const results = await applyPlan(plan, ops, (l) => lines.push(l));
  t.deepEqual(ops.calls, ['create a', 'create b', 'update db sizeGiB']);
  t.deepEqual(results[0]!.error, { code: 'QUOTA_EXCEEDED', message: 'a refused' });
  t.true(lines.includes('volume.a: Error: a refused (QUOTA_EXCEEDED)'));
  t.is(applySummary(results), 'Apply failed: 1 of 3 changes failed. Resources: 1 created, 1 updated, 0 replaced, 0 deleted.');
});

test('a plan with errors applies nothing', async (t) => {
  const plan = planStack({ stack: 'web', volumes: { db: { sizeGiB: 5 } } }, [existing]);
  const ops = fakeOps();
  await t.throwsAsync(applyPlan(plan, ops, () => {}), { message: /the plan has errors; nothing was applied/ });
  t.deepEqual(ops.calls, []);
});
