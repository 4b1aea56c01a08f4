/**
 * `flint attachment …` of the real `bin/flint.js` against a real cluster (one agent with a
 * qcow2 pool, so the iSCSI export goes through qemu-storage-daemon): create --wait prints
 * the connection info a stock initiator logs in with, complete, show, delete --wait, and
 * the exit codes of bad input and unknown ids.
 */
import anyTest, { type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { ExtendVolumeDocument } from '../../src/client/index.js';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { waitForVolume } from '../helpers/wait.js';
import { json, runFlint, type Run } from '../helpers/flint-cli.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  member: string;
  cwd: TempDir;
}
const test = anyTest as TestFn<Ctx>;

interface AttachmentJson {
  attachment: {
    id: string;
    status: string;
    connectionInfo: { driverVolumeType: string; data: { targetIqn: string; targetPortal: string; targetLun: number; authUsername: string; authPassword: string } } | null;
  };
}

const INI = 'iqn.2026-11.test.flint:cli';

test.before(async (t) => {
  const cluster = await startCluster({ database: 'sqlite', agents: [{ host: 'host-q', pools: [{ name: 'q', imageFormat: 'qcow2', capacityGiB: 20 }] }] });
  t.context = { cluster, member: await cluster.token('cli-att', 'member'), cwd: await tempDir('flint-cli-att-') };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
  await t.context.cwd?.cleanup();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

const flint = (t: { context: Ctx }, args: string[]): Promise<Run> => runFlint({ cwd: t.context.cwd.path, url: t.context.cluster.url, token: t.context.member }, args);

test.serial('attachment create --wait prints connection info that logs in to a qcow2 volume; complete, show and delete --wait', async (t) => {
  const v = await flint(t, ['volume', 'create', 'cli-att', '--size', '1', '--wait']);
  t.is(v.status, 0, v.stderr);
  const created = await flint(t, ['attachment', 'create', 'cli-att', '--instance', 'vm-cli', '--connector-host', 'cli-host', '--initiator', INI, '--wait', '-o', 'json']);
  t.is(created.status, 0, created.stderr);
  const a = json<AttachmentJson>(created).attachment;
  t.is(a.status, 'ATTACHING');
  const d = a.connectionInfo!.data;
  const opts = `driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=${d.targetPortal},file.target=${d.targetIqn},file.lun=${d.targetLun},file.user=${d.authUsername},file.password=${d.authPassword},file.initiator-name=${INI}`;
  const w = spawnSync('qemu-io', ['--image-opts', opts, '-c', 'write -P 0x42 0 64k'], { encoding: 'utf8', timeout: 60_000 });
  t.is(w.status, 0, `${w.stdout}${w.stderr}`);
  const r = spawnSync('qemu-io', ['--image-opts', opts, '-c', 'read -P 0x42 0 64k'], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, `${r.stdout}${r.stderr}`);

  const done = await flint(t, ['attachment', 'complete', a.id]);
  t.is(done.status, 0, done.stderr);
  t.regex(done.stdout, /status\s+ATTACHED/);
  const shown = await flint(t, ['attachment', 'show', a.id]);
  t.regex(shown.stdout, new RegExp(`auth_password\\s+${d.authPassword}`));
  t.regex(shown.stdout, new RegExp(`target_iqn\\s+${d.targetIqn.replace(/\./g, '\\.')}`));
  const busy = await flint(t, ['volume', 'delete', 'cli-att']);
  t.not(busy.status, 0);
  t.regex(busy.stderr, /attachment/);

  const del = await flint(t, ['attachment', 'delete', a.id, '--wait']);
  t.is(del.status, 0, del.stderr);
  t.regex(del.stdout, /status\s+DETACHED/);
  const vdel = await flint(t, ['volume', 'delete', 'cli-att', '--wait']);
  t.is(vdel.status, 0, vdel.stderr);
});

test.serial('bad input exits 2 and an unknown attachment exits 4', async (t) => {
  const v = await flint(t, ['volume', 'create', 'cli-bad', '--size', '1', '--wait']);
  t.is(v.status, 0, v.stderr);
  const bad = await flint(t, ['attachment', 'create', 'cli-bad', '--instance', 'vm', '--connector-host', 'h', '--initiator', 'not-an-iqn']);
  t.is(bad.status, 2, bad.stderr);
  t.regex(bad.stderr, /must start with iqn\., eui\. or naa\./);
  const missing = await flint(t, ['attachment', 'show', '00000000-0000-0000-0000-000000000000']);
  t.is(missing.status, 4, missing.stderr);
});

test.serial('an attached qcow2 volume grows while exported: IN_USE again and the initiator sees the new size', async (t) => {
  const v = await flint(t, ['volume', 'create', 'cli-grow', '--size', '1', '--wait', '-o', 'json']);
  t.is(v.status, 0, v.stderr);
  const volumeId = json<{ volume: { id: string } }>(v).volume.id;
  const created = await flint(t, ['attachment', 'create', 'cli-grow', '--instance', 'vm-g', '--connector-host', 'g', '--initiator', INI, '--wait', '-o', 'json']);
  t.is(created.status, 0, created.stderr);
  const a = json<AttachmentJson>(created).attachment;
  t.is((await flint(t, ['attachment', 'complete', a.id])).status, 0);
  const d = a.connectionInfo!.data;
  const size = (): string => {
    const r = spawnSync('iscsi-readcapacity16', ['-i', INI, `iscsi://${encodeURIComponent(d.authUsername)}%${encodeURIComponent(d.authPassword)}@${d.targetPortal}/${d.targetIqn}/${d.targetLun}`], { encoding: 'utf8', timeout: 30_000 });
    return `${r.stdout}${r.stderr}`;
  };
  t.regex(size(), /Total size:1073741824\b/);
  const member = t.context.cluster.client(t.context.member);
  const ext = await member.raw(ExtendVolumeDocument, { input: { id: volumeId, newSizeGiB: 2 } });
  t.falsy(ext.errors, JSON.stringify(ext.errors));
  await waitForVolume(
    member,
    volumeId,
    (vol) => {
      if (vol?.status === 'ERROR_EXTENDING') throw new Error('the extend failed');
      return vol?.status === 'IN_USE' && vol.sizeGiB === 2;
    },
    { what: `volume ${volumeId} to come back IN_USE at 2 GiB`, timeoutMs: 60_000 },
  );
  let seen = '';
  await waitFor(async () => /Total size:2147483648\b/.test((seen = size())), 30_000, () => `the initiator still sees: ${seen}`);
  t.pass();
  t.is((await flint(t, ['attachment', 'delete', a.id, '--wait'])).status, 0);
});

test.serial('attachment list shows the attachments, filtered by volume, instance and status, in every format', async (t) => {
  const v = await flint(t, ['volume', 'create', 'cli-list', '--size', '1', '--wait', '-f', 'value', '-c', 'id']);
  t.is(v.status, 0, v.stderr);
  const volumeId = v.stdout.trim();
  const created = await flint(t, ['attachment', 'create', 'cli-list', '--instance', 'vm-list', '-f', 'value', '-c', 'id', '-c', 'status']);
  t.is(created.status, 0, created.stderr);
  const [id, status] = created.stdout.trim().split(' ');
  t.is(status, 'RESERVED', 'without a connector the attachment is only reserved');

  const table = await flint(t, ['attachment', 'list', '--volume', 'cli-list']);
  t.is(table.status, 0, table.stderr);
  t.regex(table.stdout, /^ID\s+VOLUME\s+INSTANCE\s+STATUS\s+MODE\s+TARGET\s+CONNECTOR HOST$/m);
  t.regex(table.stdout, new RegExp(`^${id}\\s+${volumeId}\\s+vm-list\\s+RESERVED\\s+RW\\s`, 'm'));
  const values = await flint(t, ['attachment', 'list', '--instance', 'vm-list', '-f', 'value', '-c', 'id', '-c', 'volume_id', '-c', 'status']);
  t.is(values.stdout, `${id} ${volumeId} RESERVED\n`);
  const csv = await flint(t, ['attachment', 'list', '--status', 'reserved', '-f', 'csv', '-c', 'id,instanceId']);
  t.true(csv.stdout.startsWith('id,instanceId\n'), csv.stdout);
  t.true(csv.stdout.includes(`${id},vm-list\n`), csv.stdout);
  t.deepEqual(json<unknown[]>(await flint(t, ['attachment', 'list', '--instance', 'no-such-vm', '-o', 'json'])), []);

  t.is((await flint(t, ['attachment', 'delete', id!, '--wait'])).status, 0);
  t.deepEqual(json<unknown[]>(await flint(t, ['attachment', 'list', '--volume', volumeId, '-o', 'json'])), [], 'a DETACHED attachment is left out');
  const detached = json<Array<{ id: string }>>(await flint(t, ['attachment', 'list', '--volume', volumeId, '--status', 'DETACHED', '-o', 'json']));
  t.deepEqual(detached.map((a) => a.id), [id]);
  t.is((await flint(t, ['volume', 'delete', volumeId, '--wait'])).status, 0);
});

test.after.always('no process is left behind', noProcessesLeft);
