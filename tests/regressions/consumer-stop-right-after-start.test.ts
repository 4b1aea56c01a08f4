/**
 * Found while fixing issue 18: `runConsumer(…).stop()` right after the start waited for ever,
 * because it awaited the nats.js iterator's close(), which settles only once the iterator is
 * drained, before the loop that drains it had begun. An agent stopped right after its start
 * never finished stopping.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectBus, runConsumer, STREAM_CMD, subjects } from '../../src/bus/index.js';
import { withNats } from '../helpers/nats.js';
import { noProcessesLeft } from '../helpers/processes.js';

test('a consumer stopped at once, or a few milliseconds after its start, stops', async (t) => {
  const nats = await withNats({ t });
  const bus = await connectBus(nats.url, 'consumer-stop');
  t.teardown(() => bus.close());
  for (let i = 0; i < 30; i++) {
    const runner = await runConsumer(bus, { stream: STREAM_CMD, durable: 'stop-race', filterSubject: subjects.agentAll('stop-race') }, async () => 'ack');
    if (i % 3 === 1) await sleep(i % 7);
    const stopped = await Promise.race([runner.stop().then(() => true), sleep(10_000).then(() => false)]);
    t.true(stopped, `stop ${i} did not finish within 10 s`);
  }
});

test.after.always('no process is left behind', noProcessesLeft);
