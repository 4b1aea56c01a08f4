/** The host identities an agent runs: its own and one per backend host its pools name (src/node-agent/agent.ts). */
import test from 'ava';
import type { PoolConfig } from '../../../src/config/index.js';
import type { VolumeDriver } from '../../../src/node-agent/drivers/index.js';
import { identitiesOf } from '../../../src/node-agent/agent.js';
import type { AgentPool } from '../../../src/node-agent/heartbeat.js';

const pool = (name: string, backendHost?: string): AgentPool => ({ config: { name, ...(backendHost ? { backendHost } : {}) } as PoolConfig, driver: {} as VolumeDriver });
const names = (ids: ReturnType<typeof identitiesOf>) => ids.map((i) => [i.host, i.pools.map((p) => p.config.name)]);

test('an agent without shared pools has one identity, its own host', (t) => {
  t.deepEqual(names(identitiesOf('h1', [pool('a'), pool('b')])), [['h1', ['a', 'b']]]);
});

test('shared pools go to one identity per backend host, the rest to the agent\'s own', (t) => {
  t.deepEqual(names(identitiesOf('h1', [pool('local'), pool('c2', 'shared2'), pool('c1', 'shared1'), pool('c3', 'shared1')])), [
    ['h1', ['local']],
    ['shared1', ['c1', 'c3']],
    ['shared2', ['c2']],
  ]);
});

test('an agent with only shared pools keeps its own identity, without pools (its exports and backups)', (t) => {
  t.deepEqual(names(identitiesOf('h1', [pool('c1', 'shared1')])), [['h1', []], ['shared1', ['c1']]]);
});
