/**
 * `flint plan|apply|import` of the real `bin/flint.js` against a real cluster: a stack of
 * volumes applied twice sends nothing the second time; drift shows in the plan; growth,
 * createOnly replacements, prune and import; an apply killed half-way and two applies at
 * once each end with one volume per name (the creates' idempotency keys).
 */
import { spawn } from 'node:child_process';
import anyTest, { type TestFn } from 'ava';
import { CreateVolumeDocument, StackVolumesDocument, VolumeDocument } from '../../src/client/index.js';
import { createInput, createKey, desiredVolumes, labelsFor, NAME_LABEL, parseStackFile as readStack, STACK_LABEL } from '../../src/provider/index.js';
import { FLINT_BIN } from '../helpers/flint-cli.js';
import { noProcessesLeft, processMarker } from '../helpers/processes.js';
import { flint, operationCount, stackFile, stackSuite, type StackCtx } from './stack-helpers.js';

const test = anyTest as TestFn<StackCtx>;
stackSuite(test, { host: 'host-a', pool: 'small', team: 'apply-team' });

/** The project's volumes of `stack` (not DELETED), by resource name. */
async function stackVolumes(t: { context: StackCtx }, stack: string) {
  const { volumes } = await t.context.sdk.request(StackVolumesDocument, { first: 500 });
  return volumes.edges.map((e) => e.node).filter((v) => v.metadata[STACK_LABEL] === stack);
}

const WEB = (over = '') => `stack: web
volumes:
  db:
    sizeGiB: 1
    metadata: { purpose: db }
    description: the database
${over}  logs:
    sizeGiB: 1
`;

test.serial('apply creates the stack; a second apply says "No changes." and sends no mutation', async (t) => {
  const file = stackFile(t, 'web.yaml', WEB());
  const plan = await flint(t, ['plan', '-f', file, '--detailed-exitcode']);
  t.is(plan.status, 2, plan.stderr);
  t.regex(plan.stdout, /\+ volume\.db will be created\n\s+name: "web-db"/);
  t.regex(plan.stdout, /Plan: 2 to create, 0 to update, 0 to replace, 0 to delete\./);

  const applied = await flint(t, ['apply', '-f', file, '--auto-approve']);
  t.is(applied.status, 0, applied.stderr);
  t.regex(applied.stdout, /volume\.db: Creation complete after \d+s \[id=[0-9a-f-]{36}\]/);
  t.regex(applied.stdout, /Apply complete! Resources: 2 created, 0 updated, 0 replaced, 0 deleted\./);
  const volumes = await stackVolumes(t, 'web');
  t.deepEqual(volumes.map((v) => [v.name, v.status, v.metadata[NAME_LABEL]]).sort(), [
    ['web-db', 'AVAILABLE', 'db'],
    ['web-logs', 'AVAILABLE', 'logs'],
  ]);
  t.deepEqual(volumes.find((v) => v.name === 'web-db')!.metadata, { purpose: 'db', ...labelsFor('web', 'db') });

  const before = await operationCount(t);
  const again = await flint(t, ['apply', '-f', file, '--auto-approve']);
  t.is(again.status, 0, again.stderr);
  t.regex(again.stdout, /^No changes\. Stack web matches its file \(2 volumes\)\.$/m);
  t.is(await operationCount(t), before, 'no mutation was sent');
  t.is((await flint(t, ['plan', '-f', file, '--detailed-exitcode'])).status, 0);
});

test.serial('apply off a terminal without --auto-approve shows the plan and refuses', async (t) => {
  const file = stackFile(t, 'web.yaml', WEB().replace('description: the database', 'description: changed'));
  const r = await flint(t, ['apply', '-f', file]);
  t.is(r.status, 2);
  t.regex(r.stdout, /description: "the database" → "changed" \(updateVolume\)/);
  t.regex(r.stderr, /stdin is not a terminal: pass --auto-approve/);
  t.is((await stackVolumes(t, 'web')).find((v) => v.name === 'web-db')!.description, 'the database');
});

test.serial('an out-of-band rename and extend show in the plan; a larger size in the file extends', async (t) => {
  const db = (await stackVolumes(t, 'web')).find((v) => v.metadata[NAME_LABEL] === 'db')!;
  t.is((await flint(t, ['volume', 'set', db.id, '--name', 'renamed'])).status, 0);
  t.is((await flint(t, ['volume', 'extend', db.id, '--size', '2', '--wait'])).status, 0);

  const drift = await flint(t, ['plan', '-f', stackFile(t, 'web.yaml', WEB())]);
  t.is(drift.status, 1, 'a size below the volume\'s is a plan error');
  t.regex(drift.stdout, /~ volume\.db \[id=[0-9a-f-]{36}\] will be updated in place\n\s+name: "renamed" → "web-db" \(updateVolume\)/);
  t.regex(drift.stdout, /^Error: volume\.db: sizeGiB 2 → 1: it only grows \(growOnly\)/m);
  t.regex(drift.stderr, /The plan has 1 error .*\(INVALID_PLAN\)/);

  const grown = await flint(t, ['apply', '-f', stackFile(t, 'web.yaml', WEB().replace('sizeGiB: 1\n    metadata', 'sizeGiB: 3\n    metadata')), '--auto-approve']);
  t.is(grown.status, 0, grown.stderr);
  t.regex(grown.stdout, /sizeGiB: 2 → 3 \(extendVolume\)/);
  t.regex(grown.stdout, /volume\.db: extend_volume SUCCEEDED/);
  const { volume } = await t.context.sdk.request(VolumeDocument, { id: db.id });
  t.like(volume, { name: 'web-db', sizeGiB: 3, status: 'AVAILABLE' });
});

test.serial('a createOnly change is a replacement with its reason; prune deletes what the file dropped', async (t) => {
  const base = WEB().replace('sizeGiB: 1\n    metadata', 'sizeGiB: 3\n    metadata');
  const zone = await flint(t, ['plan', '-f', stackFile(t, 'web.yaml', `${base}    availabilityZone: zone-b\n`)]);
  t.is(zone.status, 0, zone.stderr);
  t.regex(zone.stdout, /-\/\+ volume\.logs \[id=[0-9a-f-]{36}\] must be replaced\n\s+# availabilityZone changed \(createOnly\): "nova" → "zone-b"/);

  const old = (await stackVolumes(t, 'web')).find((v) => v.metadata[NAME_LABEL] === 'logs')!;
  const replaced = await flint(t, ['apply', '-f', stackFile(t, 'web.yaml', `${base}    multiattach: true\n`), '--auto-approve']);
  t.is(replaced.status, 0, replaced.stderr);
  t.regex(replaced.stdout, /# multiattach changed \(createOnly\): false → true/);
  const logs = (await stackVolumes(t, 'web')).filter((v) => v.metadata[NAME_LABEL] === 'logs');
  t.is(logs.length, 1);
  t.not(logs[0]!.id, old.id);
  t.true(logs[0]!.multiattach);

  const dropped = stackFile(t, 'web.yaml', base.replace(/ {2}logs:\n {4}sizeGiB: 1\n/, ''));
  const kept = await flint(t, ['plan', '-f', dropped]);
  t.regex(kept.stdout, /volume\.logs \[id=.*\] is no longer in the stack file: kept \(flint apply --prune deletes it\)/);
  t.regex(kept.stdout, /^No changes\./m);
  const pruned = await flint(t, ['apply', '-f', dropped, '--prune', '--auto-approve']);
  t.is(pruned.status, 0, pruned.stderr);
  t.regex(pruned.stdout, /- volume\.logs \[id=.*\] will be deleted/);
  t.regex(pruned.stdout, /Apply complete! Resources: 0 created, 0 updated, 0 replaced, 1 deleted\./);
  t.deepEqual((await stackVolumes(t, 'web')).map((v) => v.metadata[NAME_LABEL]), ['db']);
});

test.serial('import adopts a volume, and refuses one another stack owns', async (t) => {
  const made = await flint(t, ['volume', 'create', 'adopted', '--size', '1', '--wait', '-f', 'value', '-c', 'id']);
  t.is(made.status, 0, made.stderr);
  const id = made.stdout.trim();
  const file = stackFile(t, 'cache.yaml', 'stack: cache\nvolumes:\n  main:\n    name: adopted\n    sizeGiB: 1\n');
  const imported = await flint(t, ['import', '-f', file, `main=${id}`]);
  t.is(imported.status, 0, imported.stderr);
  t.regex(imported.stdout, /volume\.main: imported .* \(flint\.stack=cache, flint\.name=main\)/);
  const plan = await flint(t, ['plan', '-f', file]);
  t.regex(plan.stdout, /^No changes\. Stack cache matches its file \(1 volume\)\.$/m);

  const other = await flint(t, ['import', '-f', stackFile(t, 'other.yaml', 'stack: other\nvolumes:\n  x:\n    sizeGiB: 1\n'), `x=${id}`]);
  t.is(other.status, 1);
  t.regex(other.stderr, /belongs to stack cache .*\(CONFLICT\)/);
});

test.serial('an apply killed after its first create, run again, creates nothing twice', async (t) => {
  const file = stackFile(t, 'crash.yaml', 'stack: crash\nvolumes:\n  a:\n    sizeGiB: 1\n  b:\n    sizeGiB: 1\n');
  const child = spawn(process.execPath, [FLINT_BIN, 'apply', '-f', file, '--auto-approve'], {
    cwd: t.context.cwd.path,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, FLINT_URL: t.context.cluster.url, FLINT_TOKEN: t.context.member, ...processMarker() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (/volume\.a: creating /.test(out)) resolve();
    });
    child.once('close', () => reject(new Error(`the apply ended before its first create: ${out}`)));
  });
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  await closed;

  const again = await flint(t, ['apply', '-f', file, '--auto-approve']);
  t.is(again.status, 0, again.stderr);
  const volumes = await stackVolumes(t, 'crash');
  t.deepEqual(volumes.map((v) => v.metadata[NAME_LABEL]).sort(), ['a', 'b'], 'one volume per name');
});

test.serial('two applies of one stack at once end with one volume per name', async (t) => {
  const file = stackFile(t, 'twin.yaml', 'stack: twin\nvolumes:\n  a:\n    sizeGiB: 1\n  b:\n    sizeGiB: 1\n');
  const [one, two] = await Promise.all([flint(t, ['apply', '-f', file, '--auto-approve']), flint(t, ['apply', '-f', file, '--auto-approve'])]);
  t.is(one.status, 0, one.stderr);
  t.is(two.status, 0, two.stderr);
  const volumes = await stackVolumes(t, 'twin');
  t.deepEqual(volumes.map((v) => v.metadata[NAME_LABEL]).sort(), ['a', 'b']);

  // Whichever apply lost the race (by reading late, or by sending the same key), a create of
  // the same volume with the key apply derives answers with the volume already made.
  const desired = desiredVolumes(readStack('twin.yaml', 'stack: twin\nvolumes:\n  a:\n    sizeGiB: 1\n  b:\n    sizeGiB: 1\n'))[0]!;
  const input = createInput(desired);
  const a = volumes.find((v) => v.metadata[NAME_LABEL] === 'a')!;
  t.is(a.idempotencyKey, createKey('twin', 'a', input));
  const { createVolume } = await t.context.sdk.request(CreateVolumeDocument, { input: { ...input, idempotencyKey: createKey('twin', 'a', input) } });
  t.is(createVolume.volume.id, a.id);
});

test.after.always('no process is left behind', noProcessesLeft);
