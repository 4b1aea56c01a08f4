/**
 * A command consumer keeps delivering when its leader moves (src/bus/nats/connection.ts,
 * `PULL_EXPIRES_MS`). A pull lives on the consumer's leader; a step-down loses it, and with
 * nats.js's default 30 s pulls the runner only asked again after two missed 15 s heartbeats:
 * the chaos suite saw agents get nothing for 66 s after a NATS quorum loss healed. A real
 * 3-node nats-server cluster with the streams at replicas 3.
 */
import test from 'ava';
import { connectBus, consumerStepdownSubject, publish, runConsumer, STREAM_CMD, type Bus, type ConsumerRunner } from '../../src/bus/index.js';
import { freePort } from '../../src/net/free-port.js';
import type { NatsServerProcess } from '../../src/cli/dev/nats-server.js';
import { withNats } from '../helpers/nats.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

let nodes: NatsServerProcess[] = [];
let bus: Bus | undefined;
let runner: ConsumerRunner | undefined;

test.before(async () => {
  const routes = await Promise.all([freePort(), freePort(), freePort()]);
  nodes = await Promise.all(
    routes.map((routePort, i) =>
      withNats({
        serverName: `leader-test-${i + 1}`,
        cluster: { name: 'leader-test', routePort, routes: routes.filter((r) => r !== routePort).map((r) => `nats://127.0.0.1:${r}`) },
      }),
    ),
  );
  bus = await connectBus(nodes.map((n) => n.url).join(','), 'leader-test', { replicas: 3 });
});

test.after.always(async () => {
  await runner?.stop();
  await bus?.close();
  await Promise.all(nodes.map((n) => n.stop()));
});

test('commands published after the consumer’s leader stepped down reach the runner within a few seconds, each time', async (t) => {
  const b = bus!;
  const durable = 'leader-test-consumer';
  const subject = 'flint.cmd.agent.leader-test.delete_volume';
  const got = new Set<string>();
  runner = await runConsumer(b, { stream: STREAM_CMD, durable, filterSubject: subject }, async (m) => {
    got.add(m.string());
    return 'ack';
  });
  const sent: string[] = [];
  const send = async (n: number): Promise<string> => {
    await publish(b, subject, 'test.leader', { n }, `leader-test-${n}`);
    const received = () => [...got].filter((g) => g.includes(`"n":${n}`)).length > 0;
    sent.push(String(n));
    return waitUntil(`command ${n}`, async () => received(), (r) => r, 12_000).then(() => String(n));
  };
  await send(0);
  for (let round = 1; round <= 3; round++) {
    // Let the runner's pull settle on the current leader, then move the leadership away from it.
    await new Promise((r) => setTimeout(r, 1_500));
    const reply = await b.nc.request(consumerStepdownSubject(STREAM_CMD, durable), '', { timeout: 5_000 });
    t.true(reply.json<{ success?: boolean }>().success, `step-down ${round} answered`);
    const started = Date.now();
    await send(round);
    t.log(`round ${round}: delivered ${Date.now() - started} ms after the step-down`);
  }
  t.is(sent.length, 4);
});

test.after.always('no process is left behind', noProcessesLeft);
