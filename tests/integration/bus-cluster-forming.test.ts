/**
 * A gateway that connects to a NATS cluster whose nodes have not all met yet waits for them
 * (src/bus/nats/connection.ts, `worthAskingAgain`). With two of three nodes up, JetStream has
 * a leader but cannot place a stream at replicas 3: it answers "no suitable peers for
 * placement". CI once started three nodes and connected at once, and the test died of that
 * answer. Real nats-servers in a cluster, the third started late.
 */
import test from 'ava';
import { connectBus, STREAM_CMD, type Bus } from '../../src/bus/index.js';
import { freePort } from '../../src/net/free-port.js';
import type { NatsServerProcess } from '../../src/cli/dev/nats-server.js';
import { withNats } from '../helpers/nats.js';
import { noProcessesLeft } from '../helpers/processes.js';

const nodes: NatsServerProcess[] = [];
let bus: Bus | undefined;

test.after.always(async () => {
  await bus?.close();
  await Promise.all(nodes.map((n) => n.stop()));
});

test('connecting at replicas 3 to a cluster with two of its three nodes up waits for the third, then makes the streams at replicas 3', async (t) => {
  const routes = await Promise.all([freePort(), freePort(), freePort()]);
  const start = (i: number) =>
    withNats({
      serverName: `forming-${i + 1}`,
      cluster: { name: 'forming', routePort: routes[i]!, routes: routes.filter((_, j) => j !== i).map((r) => `nats://127.0.0.1:${r}`) },
    });
  nodes.push(...(await Promise.all([start(0), start(1)])));
  const waiting: string[] = [];
  let settled = false;
  const connecting = connectBus(nodes.map((n) => n.url).join(','), 'forming-test', { replicas: 3, onWaiting: (w) => waiting.push(w) }).finally(() => {
    settled = true;
  });
  connecting.catch(() => undefined);
  // Long enough for the two nodes to elect a JetStream leader and refuse the placement.
  await new Promise((r) => setTimeout(r, 8_000));
  t.false(settled, 'connectBus must wait while a replica-3 stream has no third peer');
  t.is(waiting.length, 1, 'the wait is told once');
  nodes.push(await start(2));
  bus = await connecting;
  const info = await bus.jsm.streams.info(STREAM_CMD);
  t.is(info.config.num_replicas, 3);
});

test.after.always('no process is left behind', noProcessesLeft);
