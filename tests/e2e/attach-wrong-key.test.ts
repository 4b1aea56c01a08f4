/**
 * An agent given another secret key than the gateway's (FLINT_SECRET_KEY_FILE not shared
 * between hosts): the CHAP secret the gateway sealed does not open, the export fails, the
 * attachment is ERROR_ATTACHING and its message names the agent's key file. Nothing with
 * the password in clear reaches the target.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateAttachmentDocument, CreateVolumeDocument } from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { waitForAttachment, waitForVolume } from '../helpers/wait.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

let cluster: Cluster | undefined;
let keys: TempDir | undefined;
let agentKey = '';

test.before(async () => {
  keys = await tempDir('flint-other-key-');
  agentKey = join(keys.path, 'agent-secret.key');
  writeFileSync(agentKey, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  cluster = await startCluster({
    database: 'sqlite',
    agents: [{ host: 'store-k', pools: [{ name: 'raw', imageFormat: 'raw', capacityGiB: 10 }], env: { FLINT_SECRET_KEY_FILE: agentKey } }],
  });
});

test.afterEach.always((t) => {
  if (!t.passed && cluster) t.log(cluster.logs());
});

test.after.always(async () => {
  await cluster?.stop();
  await keys?.cleanup();
});

test('an agent with another key fails the export with a message naming its key file', async (t) => {
  const c = cluster!;
  const flint = c.client(await c.token('alpha', 'member'));
  const v = await flint.request(CreateVolumeDocument, { input: { name: 'k', sizeGiB: 1 } });
  const volumeId = v.createVolume.volume.id;
  await waitForVolume(flint, volumeId, 'AVAILABLE');
  const a = await flint.request(CreateAttachmentDocument, {
    input: { volumeId, instanceId: 'vm-k', connector: { initiator: 'iqn.2026-11.test.flint:k', host: 'k', ip: '127.0.0.1' } },
  });
  const id = a.createAttachment.attachment.id;
  const failed = await waitForAttachment(flint, id, 'ERROR_ATTACHING', { what: `attachment ${id} to fail (ERROR_ATTACHING)` });
  const message = failed.messages.map((m) => m.message).join('\n');
  t.true(message.includes(`does not open with the key from ${agentKey}`), message);
  t.regex(message, /FLINT_SECRET_KEY_FILE/);
});

test.after.always('no process is left behind', noProcessesLeft);
