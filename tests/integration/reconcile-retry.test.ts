/**
 * The agent's start-up reconciliation (src/node-agent/reconcile.ts) over a real
 * nats-server: when no gateway answers yet, it keeps trying until one does, so exports
 * and lost backups come back even when the gateways start after the agent.
 */
import test from 'ava';
import { connectBus, decodeEnvelope, encode, RECOVERY_KIND, subjects, type ReconcileReply } from '../../src/bus/index.js';
import { createLogger } from '../../src/config/index.js';
import { reconcileRetryDelay, startReconciliation } from '../../src/node-agent/reconcile.js';
import { withNats } from '../helpers/nats.js';
import { noProcessesLeft } from '../helpers/processes.js';

const log = createLogger('reconcile-test', 'silent');

test('the retry delay starts at 1 s, doubles, and stops growing at the cap', (t) => {
  t.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => reconcileRetryDelay(n, 30_000)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  t.is(reconcileRetryDelay(3, 1500), 1500);
});

test('a gateway that starts after the agent still gets asked, and its answer is applied', async (t) => {
  const nats = await withNats({ t });
  const agentBus = await connectBus(nats.url, 'agent');
  const gatewayBus = await connectBus(nats.url, 'gateway');
  t.teardown(async () => {
    await agentBus.close();
    await gatewayBus.close();
  });

  const applied: string[][] = [];
  const reconciliation = await startReconciliation(agentBus, 'host-a', [], log, {
    timeoutMs: 500,
    retryMs: 400,
    onAttachments: async (wanted) => void applied.push(wanted.map((a) => a.attachmentId)),
  });
  t.teardown(() => reconciliation.stop());
  // Nobody answers for a while (several tries at the 400 ms cap): nothing applied.
  await new Promise((r) => setTimeout(r, 1500));
  t.deepEqual(applied, []);

  // Now a "gateway" answers, with one export for this host.
  const asked: string[] = [];
  const sub = gatewayBus.nc.subscribe(subjects.reconcileAll, {
    callback: (_err, msg) => {
      const req = decodeEnvelope(msg.data).payload as { host: string };
      asked.push(req.host);
      const reply: ReconcileReply = { host: req.host, volumes: [], attachments: [] };
      msg.respond(encode(RECOVERY_KIND.reconcileReply, reply));
    },
  });
  t.teardown(() => sub.unsubscribe());
  const deadline = Date.now() + 10_000;
  while (applied.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(asked, ['host-a'], 'asked once more, by the host that started first');
  t.deepEqual(applied, [[]], 'the answer was applied once');

  // Once answered, it stops asking.
  await new Promise((r) => setTimeout(r, 1200));
  t.is(asked.length, 1);
});

test('stop() ends the tries', async (t) => {
  const nats = await withNats({ t });
  const agentBus = await connectBus(nats.url, 'agent');
  const gatewayBus = await connectBus(nats.url, 'gateway');
  t.teardown(async () => {
    await agentBus.close();
    await gatewayBus.close();
  });
  const reconciliation = await startReconciliation(agentBus, 'host-b', [], log, { timeoutMs: 300, retryMs: 300 });
  reconciliation.stop();
  let asked = 0;
  const sub = gatewayBus.nc.subscribe(subjects.reconcileAll, { callback: () => void asked++ });
  t.teardown(() => sub.unsubscribe());
  await new Promise((r) => setTimeout(r, 1500));
  t.is(asked, 0);
});

test.after.always('no process is left behind', noProcessesLeft);
