/** `flint gateway|scheduler|agent|migrate`: one role per process, for production. */
import { startAgent, startServiceHeartbeat, flintVersion } from '../node-agent/index.js';
import { startGateway } from '../gateway/index.js';
import { startScheduler } from '../scheduler/index.js';
import { configOrExit, needsNats, openBus, openDatabase, roleLogger, stopOnSignal } from './runtime.js';

export async function runGateway(): Promise<void> {
  const config = configOrExit(process.env, needsNats('gateway'));
  const log = roleLogger('gateway', config);
  const db = await openDatabase(config, log, { migrate: false });
  const bus = await openBus(config, `flint-gateway-${config.agentHost}`);
  const gw = await startGateway(config, bus, db, log);
  const hb = await startServiceHeartbeat(bus, {
    role: 'gateway',
    host: `${config.agentHost}:${gw.port}`,
    zone: config.availabilityZone,
    intervalSeconds: config.heartbeatSeconds,
    version: flintVersion(),
    log,
  });
  stopOnSignal(log, [() => hb.stop(), () => gw.stop(), () => bus.close(), () => db.close()]);
}

export async function runScheduler(): Promise<void> {
  const config = configOrExit(process.env, needsNats('scheduler'));
  const log = roleLogger('scheduler', config);
  const db = await openDatabase(config, log, { migrate: false });
  const bus = await openBus(config, `flint-scheduler-${config.agentHost}`);
  const s = await startScheduler(config, bus, db, log);
  const hb = await startServiceHeartbeat(bus, {
    role: 'scheduler',
    host: `${config.agentHost}:${process.pid}`,
    zone: config.availabilityZone,
    intervalSeconds: config.heartbeatSeconds,
    version: flintVersion(),
    log,
  });
  stopOnSignal(log, [() => hb.stop(), () => s.stop(), () => bus.close(), () => db.close()]);
}

export async function runAgent(): Promise<void> {
  const config = configOrExit(process.env, needsNats('agent'));
  const log = roleLogger('agent', config);
  const bus = await openBus(config, `flint-agent-${config.agentHost}`);
  const agent = await startAgent(config, bus, log);
  log.info({ host: agent.host, pools: config.pools.map((p) => p.name) }, 'agent ready');
  stopOnSignal(log, [() => agent.stop(), () => bus.close()]);
}

export async function runMigrate(): Promise<void> {
  const config = configOrExit();
  const log = roleLogger('migrate', config);
  const db = await openDatabase(config, log, { migrate: true });
  await db.close();
  process.stdout.write(`Database is up to date (${config.database.kind}).\n`);
}
