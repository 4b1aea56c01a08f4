/** The pure rules of the bus's trust boundary: senders from subjects, who may report what, permissions. */
import test from 'ava';
import { collidingHosts, inboxPrefix, KIND, renderServerConfig, rolePermissions, senderOf, subjects } from '../../../src/bus/index.js';
import { parseNatsAuth } from '../../../src/config/nats-auth.js';
import { EVENT_SPECS, idIn, senderRefusal, type SenderFacts } from '../../../src/gateway/outcomes/senders.js';
import { reconcileRefusal } from '../../../src/gateway/outcomes/reconcile-responder.js';

const facts = (resource: string[], op?: Partial<NonNullable<SenderFacts['operation']>>): SenderFacts => ({
  resourceHosts: new Set(resource),
  ...(op ? { operation: { sameResource: true, hosts: new Set<string>(), resourceHosts: new Set<string>(), ...op } } : {}),
});

test('the sender of an event is the host in its subject, or a scheduler; other subjects have none', (t) => {
  t.deepEqual(senderOf(subjects.agentEvent('node1.example.com', 'volume', 'v1')), { role: 'agent', host: 'node1_example_com' });
  t.deepEqual(senderOf(subjects.schedulerEvent('volume', 'v1')), { role: 'scheduler' });
  t.deepEqual(senderOf(subjects.agentProgress('h', 'backup', 'b1')), { role: 'agent', host: 'h' });
  t.is(senderOf('flint.evt.volume.v1'), undefined);
  t.is(senderOf('flint.live.p.volume.v1'), undefined);
});

test('an agent may report on a volume the database places on its host', (t) => {
  t.is(senderRefusal({ role: 'agent', host: 'a' }, 'volume.outcome', 'a', facts(['a'])), undefined);
});

test('an agent may not report on a volume the database places on another host', (t) => {
  t.regex(senderRefusal({ role: 'agent', host: 'b' }, 'volume.outcome', undefined, facts(['a']))!, /places that volume on a, not on b/);
});

test('an agent may not name another host in its payload', (t) => {
  t.regex(senderRefusal({ role: 'agent', host: 'a' }, 'volume.missing', 'b', facts(['a']))!, /on behalf of host b/);
});

test('an agent sent an operation about the resource may report it (a migration\'s destination)', (t) => {
  t.is(senderRefusal({ role: 'agent', host: 'd' }, 'migration.copied', 'd', facts(['s'], { hosts: new Set(['d']) })), undefined);
});

test('an agent may not end an operation about another resource on another host', (t) => {
  t.regex(senderRefusal({ role: 'agent', host: 'a' }, 'volume.outcome', 'a', facts(['a'], { sameResource: false, hosts: new Set(['b']), resourceHosts: new Set(['b']) }))!, /operation is about another resource/);
});

test('only schedulers send the scheduler\'s kinds, and agents theirs', (t) => {
  t.regex(senderRefusal({ role: 'agent', host: 'a' }, 'volume.scheduled', 'a', facts(['a']))!, /come from schedulers/);
  t.regex(senderRefusal({ role: 'scheduler' }, 'snapshot.outcome', undefined, undefined)!, /come from agents/);
  t.is(senderRefusal({ role: 'scheduler' }, 'volume.scheduled', 'a', undefined), undefined);
  t.regex(senderRefusal({ role: 'scheduler' }, 'made.up', undefined, undefined)!, /no role sends/);
});

test('a reconciliation request is answered only for the subject\'s host and into its inbox', (t) => {
  const subject = subjects.reconcile('h1');
  t.is(reconcileRefusal(subject, `${inboxPrefix('agent', 'h1')}.x.1`, 'h1', '_INBOX_gateway'), undefined);
  t.regex(reconcileRefusal(subject, `${inboxPrefix('agent', 'h1')}.x.1`, 'h2', '_INBOX_gateway')!, /names host "h2"/);
  t.regex(reconcileRefusal(subject, 'flint.cmd.agent.h2.delete_volume', 'h1', '_INBOX_gateway')!, /not the inbox of agent "h1"/);
  t.regex(reconcileRefusal(subject, undefined, 'h1', '_INBOX_gateway')!, /no reply subject/);
});

test('an agent\'s permissions name only its own host', (t) => {
  const p = rolePermissions('agent', { host: 'h1' });
  // Every subject of Flint's, every KV key, inbox and consumer it may touch carries its host.
  const scoped = [...p.publish, ...p.subscribe].filter((s) => s.startsWith('flint.') || s.startsWith('_INBOX') || s.startsWith('$KV.') || s.includes('FLINT_CMD'));
  t.true(scoped.length > 8);
  t.deepEqual(scoped.filter((s) => !s.includes('h1')), []);
  t.true(p.publish.includes('flint.evt.agent.h1.>'));
  t.true(p.subscribe.includes('_INBOX_agent_h1.>'));
  t.throws(() => rolePermissions('agent'), { message: /need its host/ });
});

test('only the gateway may publish live events', (t) => {
  t.true(rolePermissions('gateway').publish.includes(subjects.liveAll));
  t.false(rolePermissions('scheduler').publish.some((s) => s.startsWith('flint.live')));
  t.false(rolePermissions('agent', { host: 'h' }).publish.some((s) => s.startsWith('flint.live')));
});

test('the server configuration has one nkey user per role and no anonymous user', (t) => {
  const conf = renderServerConfig({ users: [{ label: 'gw', nkey: 'UABC', permissions: rolePermissions('gateway') }] });
  t.regex(conf, /nkey: "UABC"/);
  t.regex(conf, /allow_responses: true/);
  t.notRegex(conf, /no_auth_user/);
});

test('hosts whose subject tokens collide are found', (t) => {
  t.deepEqual(collidingHosts(['a.b', 'a_b', 'c']), [['a.b', 'a_b']]);
});

test('NATS credentials: a seed file, TLS files in pairs, and the insecure opt-out that excludes a seed', (t) => {
  const problems: string[] = [];
  t.deepEqual(parseNatsAuth({ FLINT_NATS_NKEY_SEED_FILE: 'k.nk' }, {}, '/etc/flint', problems), { nkeySeedFile: '/etc/flint/k.nk', insecure: false });
  t.deepEqual(problems, []);
  parseNatsAuth({ FLINT_NATS_TLS_CERT: 'c.pem' }, {}, '/', problems);
  parseNatsAuth({ FLINT_NATS_INSECURE: 'true', FLINT_NATS_NKEY_SEED_FILE: 'k' }, {}, '/', problems);
  parseNatsAuth({ FLINT_NATS_INSECURE: 'yes' }, {}, '/', problems);
  t.is(problems.length, 3, problems.join('\n'));
  t.regex(problems[0]!, /FLINT_NATS_TLS_CERT and FLINT_NATS_TLS_KEY/);
  t.regex(problems[1]!, /contradicts/);
  t.regex(problems[2]!, /true or false/);
});

test('the resource of a reschedule is read from its request: the volume an agent sends back to the scheduler', (t) => {
  t.is(idIn({ operationId: 'op', request: { volumeId: 'v-1' } }, 'request.volumeId'), 'v-1');
  t.is(idIn({ volumeId: 'v-2' }, 'volumeId'), 'v-2');
  t.is(idIn({ request: null }, 'request.volumeId'), undefined);
  t.is(EVENT_SPECS[KIND.volumeReschedule]?.idField, 'request.volumeId');
});
