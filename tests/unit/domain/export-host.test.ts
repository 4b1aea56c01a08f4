/** Which agent exports an attachment of a volume on a backend host (src/domain/export-host.ts). */
import test from 'ava';
import { chooseExportHost, membersOf, type MemberBeat } from '../../../src/domain/export-host.js';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const beat = (host: string, ageSeconds: number, backends?: string[], role = 'agent'): MemberBeat => ({
  role,
  host,
  heartbeatAt: new Date(NOW - ageSeconds * 1000).toISOString(),
  intervalSeconds: 1,
  ...(backends ? { backends } : {}),
});

test('a volume on an agent\'s own host is exported there, whatever the heartbeats say', (t) => {
  t.deepEqual(chooseExportHost('h1', 'a1', [beat('h1', 100), beat('h2', 0, ['shared1'])], NOW), { host: 'h1', members: [], up: true });
});

test('the members of a backend host are the agents whose heartbeat names it', (t) => {
  t.deepEqual(membersOf('shared1', [beat('b', 0, ['shared1']), beat('a', 0, ['shared1', 'shared2']), beat('c', 0, ['shared2']), beat('shared1', 0), beat('g', 0, ['shared1'], 'gateway')]), ['a', 'b']);
});

test('an attachment of a backend volume goes to an UP member, never to a DOWN one', (t) => {
  const beats = [beat('a', 100, ['shared1']), beat('b', 0, ['shared1'])];
  for (let i = 0; i < 20; i++) t.deepEqual(chooseExportHost('shared1', `att-${i}`, beats, NOW), { host: 'b', members: ['a', 'b'], up: true });
});

test('the same attachment always goes to the same member, and attachments spread over the members', (t) => {
  const beats = [beat('a', 0, ['shared1']), beat('b', 0, ['shared1']), beat('c', 0, ['shared1'])];
  const hosts = Array.from({ length: 60 }, (_, i) => chooseExportHost('shared1', `att-${i}`, beats, NOW).host);
  t.deepEqual(hosts, Array.from({ length: 60 }, (_, i) => chooseExportHost('shared1', `att-${i}`, [...beats].reverse(), NOW).host));
  for (const m of ['a', 'b', 'c']) t.true(hosts.filter((h) => h === m).length >= 5, `member ${m} got ${hosts.filter((h) => h === m).length} of 60`);
});

test('a member going DOWN moves only the attachments that would have gone to it', (t) => {
  const all = [beat('a', 0, ['shared1']), beat('b', 0, ['shared1']), beat('c', 0, ['shared1'])];
  const withoutC = [beat('a', 0, ['shared1']), beat('b', 0, ['shared1']), beat('c', 100, ['shared1'])];
  for (let i = 0; i < 30; i++) {
    const before = chooseExportHost('shared1', `att-${i}`, all, NOW).host;
    const after = chooseExportHost('shared1', `att-${i}`, withoutC, NOW).host;
    if (before !== 'c') t.is(after, before);
    else t.not(after, 'c');
  }
});

test('with no member UP, a member all the same, marked DOWN (the command waits in its queue)', (t) => {
  const choice = chooseExportHost('shared1', 'att-1', [beat('a', 100, ['shared1']), beat('b', 100, ['shared1'])], NOW);
  t.false(choice.up);
  t.true(['a', 'b'].includes(choice.host));
});
