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
import { gql, startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
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

test.after.always(async () => {
  await cluster?.stop();
  await keys?.cleanup();
});

test('an agent with another key fails the export with a message naming its key file', async (t) => {
  const c = cluster!;
  const member = await c.token('alpha', 'member');
  const call = async <D>(q: string, v: Record<string, unknown>) => (await gql(c.url, member, q, v)) as { data?: D; errors?: unknown[] };
  const v = await call<{ createVolume: { volume: { id: string } } }>('mutation($input: CreateVolumeInput!) { createVolume(input: $input) { volume { id } } }', { input: { name: 'k', sizeGiB: 1 } });
  const volumeId = v.data!.createVolume.volume.id;
  await waitFor(async () => (await call<{ volume: { status: string } }>('query($id: ID!) { volume(id: $id) { status } }', { id: volumeId })).data?.volume.status === 'AVAILABLE', 60_000, () => 'volume not AVAILABLE');
  const a = await call<{ createAttachment: { attachment: { id: string } } }>('mutation($input: CreateAttachmentInput!) { createAttachment(input: $input) { attachment { id } } }', {
    input: { volumeId, instanceId: 'vm-k', connector: { initiator: 'iqn.2026-11.test.flint:k', host: 'k', ip: '127.0.0.1' } },
  });
  const id = a.data!.createAttachment.attachment.id;
  type A = { status: string; messages: Array<{ message: string }> };
  let last: A | undefined;
  await waitFor(
    async () => (last = (await call<{ attachment: A }>('query($id: ID!) { attachment(id: $id) { status messages { message } } }', { id })).data?.attachment)?.status === 'ERROR_ATTACHING',
    60_000,
    () => `attachment did not fail: ${JSON.stringify(last)}\n${c.logs()}`,
  );
  const message = last!.messages.map((m) => m.message).join('\n');
  t.true(message.includes(`does not open with the key from ${agentKey}`), message);
  t.regex(message, /FLINT_SECRET_KEY_FILE/);
});

test.after.always('no process is left behind', noProcessesLeft);
