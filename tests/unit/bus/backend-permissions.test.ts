/** NATS permissions and credentials of agents that serve a backend host (pools with a backendHost). */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentDurable, provisionNats, rolePermissions, subjects } from '../../../src/bus/index.js';
import { parseBackends } from '../../../src/cli/nats-config.js';

const flintScoped = (list: string[]) => list.filter((s) => s.startsWith('flint.') || s.startsWith('_INBOX') || s.startsWith('$KV.') || s.includes('FLINT_CMD'));

test('an agent that serves a backend host also gets that host\'s agent permissions', (t) => {
  const p = rolePermissions('agent', { host: 'h1', backends: ['shared1'] });
  for (const host of ['h1', 'shared1']) {
    t.true(p.publish.includes(subjects.agentEventsOf(host)));
    t.true(p.publish.includes(subjects.agentProgressOf(host)));
    t.true(p.publish.includes(subjects.reconcile(host)));
    t.true(p.publish.includes(`$KV.flint-services.agent.${host}`));
    t.true(p.publish.includes(`$JS.API.CONSUMER.CREATE.FLINT_CMD.${agentDurable(host)}.${subjects.agentAll(host)}`));
    t.true(p.subscribe.includes(`_INBOX_agent_${host}.>`));
    t.true(p.subscribe.includes(subjects.manageable(host)));
  }
});

test('an agent gets only the backend hosts it names, nothing of another agent or backend', (t) => {
  const p = rolePermissions('agent', { host: 'h1', backends: ['shared1'] });
  const scoped = flintScoped([...p.publish, ...p.subscribe]);
  t.deepEqual(scoped.filter((s) => !s.includes('h1') && !s.includes('shared1')), []);
  t.false([...p.publish, ...p.subscribe].some((s) => s.includes('shared2') || s.includes('h2')));
  // Without backends: exactly the agent's own permissions, no duplicates.
  const own = rolePermissions('agent', { host: 'h1' });
  t.deepEqual(new Set(own.publish).size, own.publish.length);
  t.false([...own.publish, ...own.subscribe].some((s) => s.includes('shared1')));
});

test('provisioning gives each agent the backends it serves, and refuses a backend named like an agent', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flint-backend-perm-'));
  try {
    const p = provisionNats({ dir, agents: ['h1', 'h2', 'h3'], agentBackends: { h1: ['shared1'], h2: ['shared1'] } });
    t.regex(p.config, /agent of host h1, serving backend shared1/);
    t.regex(p.config, /agent of host h2, serving backend shared1/);
    const h3 = p.config.slice(p.config.indexOf('# agent of host h3'));
    t.false(h3.includes('shared1'));
    t.throws(() => provisionNats({ dir, agents: ['h1', 'h2'], agentBackends: { h1: ['h2'] } }), { message: /also an agent host/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flint nats-config --backend names a backend host and the agents that serve it', (t) => {
  const problems: string[] = [];
  t.deepEqual(parseBackends(['shared1=h1,h2', 'shared2=h2'], ['h1', 'h2', 'h3'], problems), { h1: ['shared1'], h2: ['shared1', 'shared2'] });
  t.deepEqual(problems, []);
  parseBackends(['shared1', 'shared1=h9', '-x=h1'], ['h1'], problems);
  t.is(problems.length, 3);
  t.regex(problems[1]!, /"h9" is not among --agents/);
});
