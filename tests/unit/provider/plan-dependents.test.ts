import test from 'ava';
import { formatPlan, labelsFor, planStack, type ActualAttachment, type ActualSnapshot, type Change, type Stack } from '../../../src/provider/index.js';
import { actualVolume } from './fixtures.js';

const volume = actualVolume;
const snapshot = (resource: string, volumeId: string, over: Partial<ActualSnapshot> = {}): ActualSnapshot => ({
  id: `snap-${resource}`,
  volumeId,
  name: `web-${resource}`,
  description: null,
  metadata: labelsFor('web', resource),
  status: 'AVAILABLE',
  version: 1,
  generation: 1,
  ...over,
});
const attachment = (over: Partial<ActualAttachment> = {}): ActualAttachment => ({
  id: 'att-1',
  volumeId: 'id-db',
  instanceId: 'vm-1',
  mode: 'RW',
  targetKind: 'ISCSI',
  status: 'ATTACHED',
  version: 3,
  idempotencyKey: 'flint-apply/web/vm1/0123456789abcdef',
  connector: { host: 'compute-1', initiator: 'iqn.2004-10.com.example:c1', ip: null, multipath: false, osType: null, platform: null },
  ...over,
});

const stack = (over: Partial<Stack> = {}): Stack => ({
  stack: 'web',
  volumes: { db: { sizeGiB: 10 } },
  snapshots: { base: { volume: 'db' } },
  attachments: { vm1: { volume: 'db', instanceId: 'vm-1', connector: { host: 'compute-1' } } },
  ...over,
});

const addresses = (changes: Change[]) => changes.map((c) => `${c.action} ${c.kind}.${c.resource}`);

test('snapshots and attachments of a new volume are created after it', (t) => {
  const plan = planStack(stack(), {});
  t.deepEqual(addresses(plan.changes), ['create volume.db', 'create snapshot.base', 'create attachment.vm1']);
  const text = formatPlan(plan);
  t.regex(text, /\+ snapshot\.base will be created\n\s+volume: volume\.db\n\s+name: "web-base"/);
  t.regex(text, /\+ attachment\.vm1 will be created\n\s+volume: volume\.db\n\s+instanceId: "vm-1"\n\s+connector: \{"host":"compute-1"\}/);
  t.deepEqual(plan.volumeIds, {});
});

test('a stack as declared needs nothing, and says what it holds', (t) => {
  const plan = planStack(stack(), { volumes: [volume('db')], snapshots: [snapshot('base', 'id-db')], attachments: [attachment()] });
  t.deepEqual(plan.changes, []);
  t.deepEqual(plan.volumeIds, { db: 'id-db' });
  t.regex(formatPlan(plan), /^No changes\. Stack web matches its file \(1 volume, 1 snapshot, 1 attachment\)\./m);
});

test('a snapshot renamed out of band is renamed back in place (updateSnapshot)', (t) => {
  const plan = planStack(stack({ attachments: {} }), { volumes: [volume('db')], snapshots: [snapshot('base', 'id-db', { name: 'by-hand' })] });
  const [c] = plan.changes;
  t.like(c, { kind: 'snapshot', action: 'update', fields: [{ field: 'name', from: 'by-hand', to: 'web-base', mutation: 'updateSnapshot' }] });
});

test('the snapshot and attachment of a replaced volume are replaced with it, saying why', (t) => {
  const plan = planStack(stack({ volumes: { db: { sizeGiB: 10, availabilityZone: 'zone-b' } } }), { volumes: [volume('db')], snapshots: [snapshot('base', 'id-db')], attachments: [attachment()] });
  t.deepEqual(addresses(plan.changes), ['replace volume.db', 'replace snapshot.base', 'replace attachment.vm1']);
  const snap = plan.changes[1] as Extract<Change, { action: 'replace' }>;
  t.deepEqual(snap.reasons, ['its volume volume.db is new (created or replaced)']);
  t.deepEqual(plan.errors, []);
});

test('a snapshot that is of another volume than the file says is replaced', (t) => {
  const plan = planStack(stack({ volumes: { db: { sizeGiB: 10 }, logs: { sizeGiB: 10 } }, attachments: {} }), {
    volumes: [volume('db'), volume('logs')],
    snapshots: [snapshot('base', 'id-logs')],
  });
  const c = plan.changes.find((x) => x.kind === 'snapshot') as Extract<Change, { action: 'replace' }>;
  t.is(c.action, 'replace');
  t.deepEqual(c.reasons, ['volume changed (createOnly): it is of volume id-logs, not of volume.db (id-db)']);
});

test('a snapshot the file no longer names is kept, or deleted with --prune; kept, it blocks replacing its volume', (t) => {
  const state = { volumes: [volume('db')], snapshots: [snapshot('old', 'id-db')] };
  const kept = planStack(stack({ snapshots: {}, attachments: {} }), state);
  t.deepEqual(kept.kept, [{ kind: 'snapshot', resource: 'old', id: 'snap-old' }]);
  t.regex(formatPlan(kept), /snapshot\.old \[id=snap-old\] is no longer in the stack file: kept \(flint apply --prune deletes it\)/);
  t.deepEqual(addresses(planStack(stack({ snapshots: {}, attachments: {} }), state, { prune: true }).changes), ['delete snapshot.old']);
  const blocked = planStack(stack({ volumes: { db: { sizeGiB: 10, multiattach: true } }, snapshots: {}, attachments: {} }), state);
  t.deepEqual(blocked.errors, ['volume.db must be replaced, but snapshot.old [id=snap-old], no longer in the file and kept, is a snapshot of it: run with --prune to delete it too, or declare it again']);
});

test('an attachment made by hand for the same instance and host is adopted, not made twice', (t) => {
  const plan = planStack(stack({ snapshots: {} }), { volumes: [volume('db')], attachments: [attachment({ idempotencyKey: null })] });
  t.deepEqual(plan.changes, []);
  t.true(plan.unchanged.includes('attachment.vm1'));
});

test('an attachment for another host is made; one on a volume that must go, made by hand, is a plan error', (t) => {
  const byHand = attachment({ idempotencyKey: null, connector: { host: 'compute-2', initiator: null, ip: null, multipath: false, osType: null, platform: null } });
  const plan = planStack(stack({ snapshots: {} }), { volumes: [volume('db')], attachments: [byHand] });
  t.deepEqual(addresses(plan.changes), ['create attachment.vm1']);
  const replacing = planStack(stack({ volumes: { db: { sizeGiB: 10, multiattach: true } }, snapshots: {} }), { volumes: [volume('db')], attachments: [byHand] });
  t.deepEqual(replacing.errors, [
    'volume.db must be replaced, but it is attached to instance vm-1 (attachment att-1, not made by this stack): detach it first (flint attachment delete), or declare it in the stack file',
  ]);
});

test("an attachment's connector: given in place to a RESERVED one, else a replacement", (t) => {
  const reserved = attachment({ status: 'RESERVED', connector: null });
  const [update] = planStack(stack({ snapshots: {} }), { volumes: [volume('db')], attachments: [reserved] }).changes;
  t.like(update, { kind: 'attachment', action: 'update', fields: [{ field: 'connector', from: null, to: { host: 'compute-1' }, mutation: 'updateAttachment' }] });
  const moved = stack({ snapshots: {}, attachments: { vm1: { volume: 'db', instanceId: 'vm-1', connector: { host: 'compute-1', initiator: 'iqn.2004-10.com.example:c9' } } } });
  const [replace] = planStack(moved, { volumes: [volume('db')], attachments: [attachment()] }).changes;
  t.is(replace!.action, 'replace');
  t.regex((replace as Extract<Change, { action: 'replace' }>).reasons[0]!, /^connector changed: .*updateAttachment gives only a RESERVED attachment its connector, once/);
});

test('createOnly attachment fields and a failed export are replacements', (t) => {
  const ro = stack({ snapshots: {}, attachments: { vm1: { volume: 'db', instanceId: 'vm-1', connector: { host: 'compute-1' }, mode: 'RO' } } });
  const [c] = planStack(ro, { volumes: [volume('db')], attachments: [attachment({ status: 'ERROR_ATTACHING' })] }).changes;
  t.deepEqual((c as Extract<Change, { action: 'replace' }>).reasons, ['status is ERROR_ATTACHING (its export failed)', 'mode changed (createOnly): "RW" → "RO"']);
});

test('an attachment apply made that the file no longer names is detached with --prune only', (t) => {
  const state = { volumes: [volume('db')], attachments: [attachment()] };
  const kept = planStack(stack({ snapshots: {}, attachments: {} }), state);
  t.deepEqual(kept.changes, []);
  t.regex(formatPlan(kept), /attachment\.vm1 \[id=att-1\] is no longer in the stack file: kept \(flint apply --prune detaches it\)/);
  t.deepEqual(addresses(planStack(stack({ snapshots: {}, attachments: {} }), state, { prune: true }).changes), ['delete attachment.vm1']);
  // Attachments made by hand are never the stack's to prune.
  t.deepEqual(planStack(stack({ snapshots: {}, attachments: {} }), { volumes: [volume('db')], attachments: [attachment({ idempotencyKey: null })] }, { prune: true }).changes, []);
});
