/**
 * `flint plan|apply|import` of a stack with a snapshot, an attachment and a backup policy,
 * through the real `bin/flint.js` against a real cluster: made in dependency order and found
 * again (labels, keys) so a second apply sends nothing; snapshot drift; a volume replaced
 * with everything that hangs on it; prune of a snapshot and an attachment; import of a snapshot.
 */
import anyTest, { type TestFn } from 'ava';
import { StackAttachmentsDocument, StackBackupsDocument, StackSnapshotsDocument, StackVolumesDocument } from '../../src/client/index.js';
import { labelsFor, NAME_LABEL, ownerOfKey, STACK_LABEL } from '../../src/provider/index.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { flint, operationCount, stackFile, stackSuite, type StackCtx } from './stack-helpers.js';

const test = anyTest as TestFn<StackCtx>;
stackSuite(test, { host: 'host-d', pool: 'dep', team: 'deps-team' });

/** Writes the suite's one stack file. */
const appFile = (t: { context: StackCtx }, text: string) => stackFile(t, 'app.yaml', text);

const APP = ({ volume = '', snapshots = true, attachments = true } = {}) => `stack: app
volumes:
  db:
    sizeGiB: 1
    backupPolicy: { every: 1d, keep: 2, force: true }
${volume}${
  snapshots
    ? `snapshots:
  base:
    volume: db
    description: before the upgrade
    metadata: { reason: upgrade }
`
    : ''
}${
  attachments
    ? `attachments:
  vm1:
    volume: db
    instanceId: vm-1
    connector: { host: compute-1 }
    targetKind: NBD
`
    : ''
}`;

async function state(t: { context: StackCtx }) {
  const sdk = t.context.sdk;
  const filter = { metadata: { [STACK_LABEL]: 'app' } };
  const volumes = (await sdk.request(StackVolumesDocument, { first: 100, filter })).volumes.edges.map((e) => e.node);
  const snapshots = (await sdk.request(StackSnapshotsDocument, { first: 100, filter })).snapshots.edges.map((e) => e.node);
  const db = volumes.find((v) => v.metadata[NAME_LABEL] === 'db');
  const attachments = db ? (await sdk.request(StackAttachmentsDocument, { first: 100, filter: { volumeId: db.id } })).attachments.edges.map((e) => e.node) : [];
  const backups = db ? (await sdk.request(StackBackupsDocument, { first: 100, filter: { volumeId: db.id } })).backups.edges.map((e) => e.node) : [];
  return { volumes, snapshots, attachments, backups, db };
}

test.serial('apply makes a volume, its snapshot, its policy backup and its attachment in order; a second apply sends nothing', async (t) => {
  const file = appFile(t, APP());
  const plan = await flint(t, ['plan', '-f', file]);
  t.is(plan.status, 0, plan.stderr);
  t.regex(plan.stdout, /\+ backup\.db will be created\n\s+# volume\.db is new: its first backup/);
  t.regex(plan.stdout, /Plan: 4 to create, 0 to update, 0 to replace, 0 to delete\./);

  const applied = await flint(t, ['apply', '-f', file, '--auto-approve']);
  t.is(applied.status, 0, applied.stderr);
  const order = [...applied.stdout.matchAll(/^(\w+\.\w+): Creation complete/gm)].map((m) => m[1]);
  t.deepEqual(order, ['volume.db', 'snapshot.base', 'backup.db', 'attachment.vm1']);
  t.regex(applied.stdout, /attachment\.vm1: ATTACHING, nbd nbd:\/\/.*; the consumer connects, then calls completeAttachment/);
  t.regex(applied.stdout, /Apply complete! Resources: 4 created, 0 updated, 0 replaced, 0 deleted\./);

  const s = await state(t);
  t.is(s.snapshots.length, 1);
  t.like(s.snapshots[0], { volumeId: s.db!.id, name: 'app-base', description: 'before the upgrade', status: 'AVAILABLE', metadata: { reason: 'upgrade', ...labelsFor('app', 'base') } });
  t.is(s.attachments.length, 1);
  t.like(ownerOfKey(s.attachments[0]!.idempotencyKey), { stack: 'app', name: 'vm1' });
  t.is(s.backups.length, 1);
  t.like(s.backups[0], { status: 'AVAILABLE' });
  t.like(ownerOfKey(s.backups[0]!.idempotencyKey), { stack: 'app', name: 'db', rest: ['backup', String(Math.floor(Date.now() / 86_400_000) * 86_400)] });

  // The consumer connects and says so; the volume is then IN_USE.
  t.is((await flint(t, ['attachment', 'complete', s.attachments[0]!.id])).status, 0);
  const before = await operationCount(t);
  const again = await flint(t, ['apply', '-f', file, '--auto-approve']);
  t.is(again.status, 0, again.stderr);
  t.regex(again.stdout, /^No changes\. Stack app matches its file \(1 volume, 1 snapshot, 1 attachment\)\.$/m);
  t.is(await operationCount(t), before, 'no mutation was sent');
});

test.serial('a snapshot renamed out of band shows in the plan and is renamed back in place', async (t) => {
  const { snapshots } = await state(t);
  t.is((await flint(t, ['snapshot', 'set', snapshots[0]!.id, '--name', 'by-hand'])).status, 0);
  const file = appFile(t, APP());
  const plan = await flint(t, ['plan', '-f', file, '--detailed-exitcode']);
  t.is(plan.status, 2, plan.stderr);
  t.regex(plan.stdout, /~ snapshot\.base \[id=[0-9a-f-]{36}\] will be updated in place\n\s+name: "by-hand" → "app-base" \(updateSnapshot\)/);
  t.is((await flint(t, ['apply', '-f', file, '--auto-approve'])).status, 0);
  t.is((await state(t)).snapshots[0]!.name, 'app-base');
  t.is((await flint(t, ['plan', '-f', file, '--detailed-exitcode'])).status, 0);
});

test.serial('replacing the volume replaces its snapshot and attachment, and its backups stay', async (t) => {
  const old = await state(t);
  const file = appFile(t, APP({ volume: '    multiattach: true\n' }));
  const plan = await flint(t, ['plan', '-f', file]);
  t.is(plan.status, 0, plan.stderr);
  t.regex(plan.stdout, /-\/\+ snapshot\.base \[id=.*\] must be replaced\n\s+# its volume volume\.db is new \(created or replaced\)/);
  t.regex(plan.stdout, /Plan: 1 to create, 0 to update, 3 to replace, 0 to delete\./);

  const applied = await flint(t, ['apply', '-f', file, '--auto-approve']);
  t.is(applied.status, 0, applied.stderr);
  const steps = [...applied.stdout.matchAll(/^(\w+\.\w+): (Replacing: destroying|Replacing: creating|Creating)\.\.\./gm)].map((m) => `${m[2]} ${m[1]}`);
  t.deepEqual(steps, [
    'Replacing: destroying attachment.vm1',
    'Replacing: destroying snapshot.base',
    'Replacing: destroying volume.db',
    'Replacing: creating volume.db',
    'Replacing: creating snapshot.base',
    'Creating backup.db',
    'Replacing: creating attachment.vm1',
  ]);
  const now = await state(t);
  t.not(now.db!.id, old.db!.id);
  t.true(now.db!.multiattach);
  t.is(now.snapshots[0]!.volumeId, now.db!.id);
  t.is(now.attachments[0]!.volumeId, now.db!.id);
  t.is(now.backups.length, 1, 'the new volume has its first backup');
  const oldBackups = (await t.context.sdk.request(StackBackupsDocument, { first: 10, filter: { volumeId: old.db!.id } })).backups.edges;
  t.deepEqual(oldBackups.map((e) => e.node.status), ['AVAILABLE'], "the replaced volume's backup is kept");
});

test.serial('a snapshot and an attachment the file drops are kept, and go with --prune', async (t) => {
  const file = appFile(t, APP({ volume: '    multiattach: true\n', snapshots: false, attachments: false }));
  const plan = await flint(t, ['plan', '-f', file]);
  t.regex(plan.stdout, /snapshot\.base \[id=.*\] is no longer in the stack file: kept \(flint apply --prune deletes it\)/);
  t.regex(plan.stdout, /attachment\.vm1 \[id=.*\] is no longer in the stack file: kept \(flint apply --prune detaches it\)/);
  t.regex(plan.stdout, /^No changes\./m);
  const pruned = await flint(t, ['apply', '-f', file, '--prune', '--auto-approve']);
  t.is(pruned.status, 0, pruned.stderr);
  t.regex(pruned.stdout, /Apply complete! Resources: 0 created, 0 updated, 0 replaced, 2 deleted\./);
  const s = await state(t);
  t.deepEqual([s.snapshots.length, s.attachments.length, s.volumes.length], [0, 0, 1]);
});

test.serial('import adopts a snapshot made by hand', async (t) => {
  const { db } = await state(t);
  const made = await flint(t, ['snapshot', 'create', db!.id, '--name', 'hand', '--wait', '-f', 'value', '-c', 'id']);
  t.is(made.status, 0, made.stderr);
  const id = made.stdout.trim();
  const file = appFile(t, `${APP({ volume: '    multiattach: true\n', snapshots: false, attachments: false })}snapshots:\n  kept:\n    volume: db\n    name: hand\n`);
  const imported = await flint(t, ['import', '-f', file, `snapshot.kept=${id}`]);
  t.is(imported.status, 0, imported.stderr);
  t.regex(imported.stdout, /snapshot\.kept: imported .* \(flint\.stack=app, flint\.name=kept\)/);
  const plan = await flint(t, ['plan', '-f', file, '--detailed-exitcode']);
  t.is(plan.status, 0, plan.stdout);
  t.regex(plan.stdout, /^No changes\. Stack app matches its file \(1 volume, 1 snapshot\)\.$/m);
});

test.after.always('no process is left behind', noProcessesLeft);
