/**
 * Found by `flint cluster up`: a gateway started as its cluster made the heartbeat bucket at
 * replicas 3 wrote its first beat before the bucket had a leader, got "jetstream is not
 * enabled: no responders", and exited. The first beat is now asked again while JetStream does
 * not answer; a refusal still ends the start.
 */
import test from 'ava';
import { every } from '../../../src/bus/nats/heartbeat.js';

test('a first beat that meets no JetStream responder is asked again until it is written', async (t) => {
  let calls = 0;
  const warned: string[] = [];
  const hb = await every(3600, { warn: (_o: unknown, msg?: string) => void warned.push(String(msg)) } as never, 'service heartbeat', async () => {
    if (++calls < 3) throw new Error("jetstream is not enabled: no responders: '$KV.flint-services.gateway.g1'");
  });
  await hb.stop();
  t.is(calls, 3);
  t.is(warned.length, 1, 'said once that it waits');
});

test('a first beat that is refused fails the start at once', async (t) => {
  let calls = 0;
  await t.throwsAsync(
    every(3600, undefined, 'service heartbeat', async () => {
      calls++;
      throw new Error("Permissions Violation for Publish to '$KV.flint-services.agent.other'");
    }),
    { message: /Permissions Violation/ },
  );
  t.is(calls, 1);
});
