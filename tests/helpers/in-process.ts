/**
 * A whole Flint in this test process, started as `flint dev` starts it: its own nats-server
 * (unauthenticated, reached only from here) and SQLite file, then an agent (free export
 * ports), a scheduler and a gateway. For tests that need the roles' objects at hand; the
 * e2e cluster (cluster.ts) runs each role as its own process instead.
 */
import { connectBus, type Bus } from '../../src/bus/index.js';
import { loadConfig, type FlintConfig, type Logger } from '../../src/config/index.js';
import { openDb, type Db } from '../../src/db/index.js';
import { startGateway, type RunningGateway } from '../../src/gateway/index.js';
import { StopStack } from '../../src/lifecycle/index.js';
import { startAgent } from '../../src/node-agent/index.js';
import { startScheduler } from '../../src/scheduler/index.js';
import { withNats } from './nats.js';
import { agentPortsEnv } from './ports.js';
import { tempDir } from './tmp.js';
import { UNLIMITED_QUOTAS } from './quota-env.js';

export interface InProcessFlint {
  config: FlintConfig;
  db: Db;
  bus: Bus;
  gateway: RunningGateway;
  /** Stops the roles, then the database, NATS and the directory, newest first; throws the first failure. */
  stop(): Promise<void>;
}

/**
 * @param name names the data dir, the NATS connection and the agent's host
 * @param env configuration on top of the stack's own (pools, limits…), as an entry point reads it
 */
export async function startInProcessFlint(name: string, env: Record<string, string>, log: Logger): Promise<InProcessFlint> {
  const stack = new StopStack();
  try {
    const nats = await withNats();
    stack.push('nats-server', () => nats.stop());
    const dir = await tempDir(`flint-${name}-`);
    stack.push('temporary directory', () => dir.cleanup());
    const config = loadConfig({
      FLINT_DATA_DIR: dir.path,
      FLINT_NATS_URL: nats.url,
      FLINT_LISTEN: '127.0.0.1:0',
      FLINT_AGENT_HOST: name,
      FLINT_HEARTBEAT_SECONDS: '1',
      FLINT_LOG_LEVEL: 'silent',
      FLINT_QUOTA_DEFAULTS: UNLIMITED_QUOTAS,
      ...(await agentPortsEnv()),
      ...env,
    });
    const db = await openDb(config.database);
    stack.push('database', () => db.close());
    await db.migrate();
    const bus = await connectBus(nats.url, name);
    stack.push('NATS connection', () => bus.close());
    const agent = await startAgent(config, bus, log);
    stack.push('agent', () => agent.stop());
    const scheduler = await startScheduler(config, bus, db, log);
    stack.push('scheduler', () => scheduler.stop());
    const gateway = await startGateway(config, bus, db, log);
    stack.push('gateway', () => gateway.stop());
    return { config, db, bus, gateway, stop: () => stack.unwindOrThrow() };
  } catch (err) {
    await stack.unwind();
    throw err;
  }
}
