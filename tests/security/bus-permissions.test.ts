/**
 * The bus is a trust boundary (issue 11): a real nats-server with the configuration
 * `flint nats-config` writes, and each role's real credentials. Everything here is refused
 * by NATS itself, before any Flint code could be fooled.
 */
import test, { type ExecutionContext } from 'ava';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstreamManager } from '@nats-io/jetstream';
import {
  agentDurable,
  consumerStepdownSubject,
  connectBus,
  encode,
  inboxPrefix,
  KIND,
  natsAuthOptions,
  STREAM_CMD,
  subjects,
  type Bus,
  type BusRole,
} from '../../src/bus/index.js';
import { withSecureNats, type SecureNats } from '../helpers/nats.js';
import { noProcessesLeft } from '../helpers/processes.js';

let nats: SecureNats;
const open: Array<{ close(): Promise<unknown> }> = [];

test.before(async () => {
  nats = await withSecureNats({ agents: ['host-a', 'host-b'] });
  // What a gateway makes at its start, and each agent's own durable consumer.
  const gw = await bus('gateway');
  await gw.close();
  for (const host of ['host-a', 'host-b']) {
    const a = await bus('agent', host);
    await a.jsm.consumers.add(STREAM_CMD, { durable_name: agentDurable(host), filter_subject: subjects.agentAll(host), ack_policy: AckPolicy.Explicit });
    await a.close();
  }
});

test.after.always(async () => {
  for (const c of open.splice(0)) await c.close().catch(() => undefined);
  await nats?.stop();
});

async function bus(role: BusRole, host?: string): Promise<Bus> {
  const b = await connectBus(nats.server.url, `test-${role}-${host ?? ''}`, { role, host, auth: natsAuthOptions({ nkeySeedFile: nats.seedFile(role, host) }) });
  open.push(b);
  return b;
}

/** A plain connection as `role`, with its own inbox prefix. */
async function as(role: BusRole, host?: string): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.server.url, inboxPrefix: inboxPrefix(role, host), maxReconnectAttempts: 0, ...natsAuthOptions({ nkeySeedFile: nats.seedFile(role, host) }) });
  open.push(nc);
  return nc;
}

/** Runs `act` and resolves with the permission violation NATS reports for it (fails the test after 3 s without one). */
async function violation(t: ExecutionContext, nc: NatsConnection, act: () => unknown): Promise<string> {
  const seen = (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error' && /Permissions Violation/.test(String(s.error?.message))) return String(s.error.message);
    }
    return '';
  })();
  act();
  await nc.flush().catch(() => undefined);
  const r = await Promise.race([seen, new Promise<string>((done) => setTimeout(() => done(''), 3000))]);
  t.regex(r, /Permissions Violation/, 'NATS reported no permission violation');
  return r;
}

test('an anonymous client is refused', async (t) => {
  const err = await t.throwsAsync(connect({ servers: nats.server.url, maxReconnectAttempts: 0 }));
  t.regex(err!.message, /Authorization Violation/);
});

test('a client with a key the server does not know is refused', async (t) => {
  const { nkeys, nkeyAuthenticator } = await import('@nats-io/transport-node');
  const err = await t.throwsAsync(connect({ servers: nats.server.url, maxReconnectAttempts: 0, authenticator: nkeyAuthenticator(nkeys.createUser().getSeed()) }));
  t.regex(err!.message, /Authorization Violation/);
});

test('agent A cannot pull commands from agent B\'s durable consumer', async (t) => {
  const a = await as('agent', 'host-a');
  const msg = await violation(t, a, () => a.publish(`$JS.API.CONSUMER.MSG.NEXT.${STREAM_CMD}.${agentDurable('host-b')}`, '{"batch":1}', { reply: `${inboxPrefix('agent', 'host-a')}.x` }));
  t.regex(msg, /agent-host-b/);
});

test('agent A cannot bind agent B\'s durable consumer (its info is refused)', async (t) => {
  const a = await bus('agent', 'host-a');
  const err = await t.throwsAsync(a.jsm.consumers.info(STREAM_CMD, agentDurable('host-b')));
  t.regex(err!.message, /Permissions Violation|timeout/i);
});

test('agent A cannot make a consumer of its own on agent B\'s commands', async (t) => {
  const a = await bus('agent', 'host-a');
  // Through the one create subject it may use, the filter named in the subject is its own: NATS refuses another.
  const err = await t.throwsAsync(a.jsm.consumers.add(STREAM_CMD, { durable_name: agentDurable('host-a'), filter_subject: subjects.agentAll('host-b'), ack_policy: AckPolicy.Explicit }));
  t.regex(err!.message, /Permissions Violation|timeout/i);
  // And with the old create subject (no filter in it), under any name.
  const jsm = await jetstreamManager(await as('agent', 'host-a'), { checkAPI: false });
  const raw = await t.throwsAsync(jsm.consumers.add(STREAM_CMD, { name: 'stolen', filter_subject: subjects.agentAll('host-b'), ack_policy: AckPolicy.Explicit }));
  t.regex(raw!.message, /Permissions Violation|timeout/i);
});

test('agent A cannot smuggle agent B\'s filter through its own create subject', async (t) => {
  const a = await as('agent', 'host-a');
  const subject = `$JS.API.CONSUMER.CREATE.${STREAM_CMD}.${agentDurable('host-a')}.${subjects.agentAll('host-a')}`;
  const body = { stream_name: STREAM_CMD, config: { durable_name: agentDurable('host-a'), filter_subject: subjects.agentAll('host-b'), ack_policy: 'explicit' } };
  const reply = JSON.parse(new TextDecoder().decode((await a.request(subject, JSON.stringify(body), { timeout: 3000 })).data)) as { error?: { description: string } };
  t.truthy(reply.error, 'NATS accepted a consumer filtered on another host');
  t.regex(reply.error!.description, /filter/i);
});

test('agent A can make and read its own durable consumer', async (t) => {
  const a = await bus('agent', 'host-a');
  const info = await a.jsm.consumers.info(STREAM_CMD, agentDurable('host-a'));
  t.is(info.config.filter_subject, subjects.agentAll('host-a'));
});

test('agent A cannot publish an event for agent B\'s host', async (t) => {
  const a = await as('agent', 'host-a');
  await violation(t, a, () => a.publish(subjects.agentEvent('host-b', 'volume', 'v1'), encode(KIND.volumeOutcome, {})));
});

test('agent A cannot publish a scheduler\'s event', async (t) => {
  const a = await as('agent', 'host-a');
  await violation(t, a, () => a.publish(subjects.schedulerEvent('volume', 'v1'), encode(KIND.volumeScheduled, {})));
});

test('agent A cannot publish progress for agent B\'s host', async (t) => {
  const a = await as('agent', 'host-a');
  await violation(t, a, () => a.publish(subjects.agentProgress('host-b', 'backup', 'b1'), encode('backup.progress', {})));
});

test('agent A cannot write agent B\'s pool or service heartbeat', async (t) => {
  const a = await as('agent', 'host-a');
  await violation(t, a, () => a.publish('$KV.flint-pools.host-b.default', 'x'));
  await violation(t, a, () => a.publish('$KV.flint-services.agent.host-b', 'x'));
});

test('agent A can write its own pool heartbeat', async (t) => {
  const a = await bus('agent', 'host-a');
  const seq = await a.pools.put('host-a.default', 'x');
  t.true(seq > 0);
});

test('agent A cannot publish or follow live events', async (t) => {
  const a = await as('agent', 'host-a');
  await violation(t, a, () => a.publish(subjects.liveVolume('project-1', 'v1'), encode(KIND.liveVolume, { id: 'v1' })));
  await violation(t, a, () => a.subscribe(subjects.liveAll));
});

test('agent A cannot send a command to agent B', async (t) => {
  const a = await as('agent', 'host-a');
  await violation(t, a, () => a.publish(subjects.agent('host-b', 'delete_volume'), encode(KIND.agentDelete, {})));
});

test('agent A cannot ask for agent B\'s reconciliation or answer B\'s manageable requests', async (t) => {
  const a = await as('agent', 'host-a');
  await violation(t, a, () => a.publish(subjects.reconcile('host-b'), 'x'));
  await violation(t, a, () => a.subscribe(subjects.manageable('host-b')));
});

test('agent A cannot read the replies of another role or agent', async (t) => {
  const a = await as('agent', 'host-a');
  for (const inbox of [inboxPrefix('gateway'), inboxPrefix('scheduler'), inboxPrefix('agent', 'host-b'), '_INBOX']) {
    await violation(t, a, () => a.subscribe(`${inbox}.>`));
  }
});

test('a scheduler cannot publish live events or agents\' events', async (t) => {
  const s = await as('scheduler');
  await violation(t, s, () => s.publish(subjects.liveVolume('project-1', 'v1'), encode(KIND.liveVolume, { id: 'v1' })));
  await violation(t, s, () => s.publish(subjects.agentEvent('host-a', 'volume', 'v1'), encode(KIND.volumeOutcome, {})));
});

test('a scheduler cannot make the streams (only gateways do)', async (t) => {
  const s = await bus('scheduler');
  const err = await t.throwsAsync(s.jsm.streams.add({ name: 'ROGUE', subjects: ['rogue.>'] }));
  t.regex(err!.message, /Permissions Violation|timeout/i);
});

test('a gateway publishes live events and gateway broadcasts without a violation', async (t) => {
  const g = await as('gateway');
  const got = new Promise<string>((done) => {
    const sub = g.subscribe(subjects.gatewayAll, { callback: (_e, m) => done(m.subject) });
    open.push({ close: async () => sub.unsubscribe() });
  });
  g.publish(subjects.liveVolume('p', 'v'), encode(KIND.liveVolume, { id: 'v' }));
  g.publish(subjects.tokenRevoked, 'x');
  t.is(await got, subjects.tokenRevoked);
});

test('a gateway may ask a command consumer\'s leader to step down; an agent may not ask it of another\'s', async (t) => {
  const g = await bus('gateway');
  // A single server has no replicas to elect among: it answers with an error, but it answers.
  const reply = await g.nc.request(consumerStepdownSubject(STREAM_CMD, agentDurable('host-a')), '', { timeout: 3000 });
  t.truthy(reply.json<{ type?: string }>().type, 'the JetStream API answered the gateway');
  const a = await as('agent', 'host-a');
  await violation(t, a, () => a.publish(consumerStepdownSubject(STREAM_CMD, agentDurable('host-b')), ''));
});

test.after.always('no process is left behind', noProcessesLeft);
