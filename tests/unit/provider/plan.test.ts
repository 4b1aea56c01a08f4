import test from 'ava';
import { formatPlan, labelsFor, planStack, type ActualVolume, type Change, type Stack } from '../../../src/provider/index.js';
import { actualVolume } from './fixtures.js';

const stack = (volumes: Stack['volumes'], name = 'web'): Stack => ({ stack: name, volumes });

/** A volume as `flint apply` would have made resource `resource` of stack web (of type bronze, at version 3). */
function actual(resource: string, over: Partial<ActualVolume> = {}, extra: Record<string, string> = {}): ActualVolume {
  return actualVolume(resource, { volumeType: 'bronze', version: 3, metadata: { ...extra, ...labelsFor('web', resource) }, ...over });
}

const only = <A extends Change['action']>(changes: Change[], action: A) => changes.filter((c): c is Extract<Change, { kind: 'volume'; action: A }> => c.kind === 'volume' && c.action === action);

test('a volume the stack does not have yet is created, with its labels and default name', (t) => {
  const plan = planStack(stack({ db: { sizeGiB: 10, metadata: { purpose: 'db' } } }), { volumes: [] });
  const [c] = only(plan.changes, 'create');
  t.is(c!.desired.name, 'web-db');
  t.deepEqual(c!.desired.metadata, { purpose: 'db', 'flint.stack': 'web', 'flint.name': 'db' });
  t.deepEqual(plan.errors, []);
  t.regex(formatPlan(plan), /\+ volume\.db will be created[\s\S]*Plan: 1 to create, 0 to update, 0 to replace, 0 to delete\./);
});

test('a volume as declared needs nothing: "No changes."', (t) => {
  const plan = planStack(stack({ db: { sizeGiB: 10 } }), { volumes: [actual('db')] });
  t.deepEqual(plan.changes, []);
  t.deepEqual(plan.unchanged, ['volume.db']);
  t.regex(formatPlan(plan), /^No changes\./m);
});

test('fields the file leaves out are Flint\'s choice and not compared (type, zone, multiattach)', (t) => {
  const plan = planStack(stack({ db: { sizeGiB: 10 } }), { volumes: [actual('db', { volumeType: 'gold', availabilityZone: 'zone-b', multiattach: true })] });
  t.deepEqual(plan.changes, []);
});

test('mutable fields change in place by updateVolume: a rename out of band shows as drift', (t) => {
  const plan = planStack(stack({ db: { sizeGiB: 10, description: 'db' } }), { volumes: [actual('db', { name: 'renamed' })] });
  const [c] = only(plan.changes, 'update');
  t.deepEqual(c!.fields, [
    { field: 'name', from: 'renamed', to: 'web-db', mutation: 'updateVolume' },
    { field: 'description', from: null, to: 'db', mutation: 'updateVolume' },
  ]);
  t.regex(formatPlan(plan), /~ volume\.db \[id=id-db\] will be updated in place\n\s+name: "renamed" → "web-db" \(updateVolume\)/);
});

test('metadata is compared as a whole, labels included; key order does not matter', (t) => {
  const same = planStack(stack({ db: { sizeGiB: 10, metadata: { b: '2', a: '1' } } }), { volumes: [actual('db', {}, { a: '1', b: '2' })] });
  t.deepEqual(same.changes, []);
  const extra = planStack(stack({ db: { sizeGiB: 10 } }), { volumes: [actual('db', {}, { added: 'by hand' })] });
  t.deepEqual(only(extra.changes, 'update')[0]!.fields.map((f) => f.field), ['metadata']);
});

test('a larger size is an extendVolume (growOnly)', (t) => {
  const plan = planStack(stack({ db: { sizeGiB: 20 } }), { volumes: [actual('db')] });
  t.deepEqual(only(plan.changes, 'update')[0]!.fields, [{ field: 'sizeGiB', from: 10, to: 20, mutation: 'extendVolume' }]);
});

test('a smaller size is a plan error, not a replacement', (t) => {
  const plan = planStack(stack({ db: { sizeGiB: 5 } }), { volumes: [actual('db')] });
  t.deepEqual(plan.changes, []);
  t.is(plan.errors.length, 1);
  t.regex(plan.errors[0]!, /volume\.db: sizeGiB 10 → 5: it only grows \(growOnly\)/);
  t.regex(formatPlan(plan), /^Error: volume\.db: sizeGiB 10 → 5/m);
});

test('another volume type is a retypeVolume (mutable)', (t) => {
  const plan = planStack(stack({ db: { sizeGiB: 10, volumeType: 'gold' } }), { volumes: [actual('db')] });
  t.deepEqual(only(plan.changes, 'update')[0]!.fields, [{ field: 'volumeType', from: 'bronze', to: 'gold', mutation: 'retypeVolume' }]);
});

test('a type back to null is a plan error (a retype needs a type)', (t) => {
  const plan = planStack(stack({ db: { sizeGiB: 10, volumeType: null } }), { volumes: [actual('db')] });
  t.regex(plan.errors[0] ?? '', /cannot be retyped to no type/);
});

test('a createOnly change is a replacement with its reason', (t) => {
  const plan = planStack(stack({ db: { sizeGiB: 20, availabilityZone: 'zone-b', multiattach: true } }), { volumes: [actual('db')] });
  const [c] = only(plan.changes, 'replace');
  t.deepEqual(c!.reasons, ['availabilityZone changed (createOnly): "nova" → "zone-b"', 'multiattach changed (createOnly): false → true']);
  t.regex(formatPlan(plan), /-\/\+ volume\.db \[id=id-db\] must be replaced\n\s+# availabilityZone changed \(createOnly\)/);
});

test('a volume whose create failed (ERROR) is replaced', (t) => {
  const [c] = only(planStack(stack({ db: { sizeGiB: 10 } }), { volumes: [actual('db', { status: 'ERROR' })] }).changes, 'replace');
  t.deepEqual(c!.reasons, ['status is ERROR (its create failed)']);
});

test('a volume being deleted counts as gone: it is created again', (t) => {
  t.is(only(planStack(stack({ db: { sizeGiB: 10 } }), { volumes: [actual('db', { status: 'DELETING' })] }).changes, 'create').length, 1);
});

test('a volume the file no longer names is kept without prune and deleted with it', (t) => {
  const kept = planStack(stack({}), { volumes: [actual('old')] });
  t.deepEqual(kept.changes, []);
  t.deepEqual(kept.kept, [{ kind: 'volume', resource: 'old', id: 'id-old' }]);
  t.regex(formatPlan(kept), /volume\.old \[id=id-old\] is no longer in the stack file: kept/);
  const pruned = planStack(stack({}), { volumes: [actual('old')] }, { prune: true });
  t.deepEqual(pruned.changes.map((c) => [c.action, c.resource]), [['delete', 'old']]);
  t.regex(formatPlan(pruned), /Plan: 0 to create, 0 to update, 0 to replace, 1 to delete\./);
});

test('volumes of other stacks, or without labels, are not the stack\'s', (t) => {
  const other = { ...actual('db'), metadata: labelsFor('other', 'db') };
  const unlabelled = { ...actual('db'), metadata: {} };
  const plan = planStack(stack({ db: { sizeGiB: 10 } }), { volumes: [other, unlabelled] }, { prune: true });
  t.deepEqual(plan.changes.map((c) => c.action), ['create']);
});

test('two volumes claiming one resource are a plan error', (t) => {
  const plan = planStack(stack({ db: { sizeGiB: 10 } }), { volumes: [actual('db'), actual('db', { id: 'id-db-2' })] });
  t.deepEqual(plan.changes, []);
  t.regex(plan.errors[0]!, /volume\.db: 2 volumes carry its labels \(id-db, id-db-2\)/);
});
