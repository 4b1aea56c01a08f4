/** `flint gateway|scheduler|agent|migrate`: one role per process, for production. */
import { ENVELOPE_VERSION, peersOfOlderContracts, startServiceHeartbeat, type Bus } from '../bus/index.js';
import { flintVersion, secretKeyProblems, type FlintConfig, type Logger } from '../config/index.js';
import type { Db } from '../db/index.js';
import { silenceLimitMs } from '../domain/index.js';
import { startGateway } from '../gateway/index.js';
import { databaseCheck, metricsTokenProblems, natsCheck, serveRoleMetrics } from '../metrics/index.js';
import { startAgent } from '../node-agent/index.js';
import { startScheduler } from '../scheduler/index.js';
import { configOrExit, needsNats, openBus, openDatabase, roleLogger, runRole, secureDataDir } from './runtime.js';

interface Started {
  /** Name of this instance in the services list. */
  instance: string;
  stop(): Promise<void>;
}

/** A role that needs the database and NATS: open both, start it, beat, stop in order on a signal. */
async function runDbRole(role: 'gateway' | 'scheduler', start: (config: FlintConfig, bus: Bus, db: Db, log: Logger) => Promise<Started>): Promise<void> {
  // The gateway seals CHAP secrets: a missing key file is a configuration error (src/config/secret-key.ts).
  const config = configOrExit(process.env, (c) => [...needsNats(role)(c), ...(role === 'gateway' ? secretKeyProblems(c) : []), ...metricsTokenProblems(c)]);
  const log = roleLogger(role, config);
  // The gateway keeps its default secret key there; a scheduler only tightens one that exists.
  secureDataDir(config, log, { create: role === 'gateway' && config.secretKeyFileIsDefault });
  await runRole(log, async (scope) => {
    const db = await openDatabase(config, log, { migrate: false });
    scope.defer('database', () => db.close());
    const bus = await openBus(config, role, `flint-${role}-${config.agentHost}`, log, scope.signal);
    scope.defer('NATS connection', () => bus.close());
    const started = await start(config, bus, db, log);
    scope.defer(role, () => started.stop());
    const hb = await startServiceHeartbeat(bus, {
      role,
      host: started.instance,
      zone: config.availabilityZone,
      intervalSeconds: config.heartbeatSeconds,
      version: flintVersion(),
      log,
    });
    scope.defer('service heartbeat', () => hb.stop());
    // Only gateways may read every heartbeat: they say which peers still speak an older contract.
    if (role === 'gateway') await warnOlderPeers(bus, config, log);
  });
}

async function warnOlderPeers(bus: Bus, config: FlintConfig, log: Logger): Promise<void> {
  try {
    const older = await peersOfOlderContracts(bus.services, silenceLimitMs(config.heartbeatSeconds));
    for (const p of older) {
      log.warn({ service: p.service, contract: p.version, heartbeatAt: p.heartbeatAt }, `service ${p.service} speaks bus contract v${p.version} and this gateway v${ENVELOPE_VERSION}: they cannot understand each other's messages; upgrade it`);
    }
  } catch (err) {
    log.debug({ err }, 'could not read the services to compare their contract versions');
  }
}

export function runGateway(): Promise<void> {
  return runDbRole('gateway', async (config, bus, db, log) => {
    const gw = await startGateway(config, bus, db, log);
    return { instance: `${config.agentHost}:${gw.port}`, stop: gw.stop };
  });
}

export function runScheduler(): Promise<void> {
  return runDbRole('scheduler', async (config, bus, db, log) => {
    const s = await startScheduler(config, bus, db, log);
    const metrics = await serveRoleMetrics(config, log, { nats: natsCheck(bus), database: databaseCheck(db) });
    return {
      instance: `${config.agentHost}:${process.pid}`,
      stop: async () => {
        await metrics?.stop();
        await s.stop();
      },
    };
  });
}

export async function runAgent(): Promise<void> {
  const config = configOrExit(process.env, (c) => [...needsNats('agent')(c), ...secretKeyProblems(c), ...metricsTokenProblems(c)]);
  const log = roleLogger('agent', config);
  secureDataDir(config, log, { create: true });
  await runRole(log, async (scope) => {
    const bus = await openBus(config, 'agent', `flint-agent-${config.agentHost}`, log, scope.signal);
    scope.defer('NATS connection', () => bus.close());
    // A signal during the start stops what the agent has started so far (tgtd included).
    // A backend host's parts (pools with a backendHost) on a connection with that host's inbox; startAgent closes it.
    const backendBus = (host: string) => openBus({ ...config, agentHost: host }, 'agent', `flint-agent-${config.agentHost}-${host}`, log, scope.signal);
    const agent = await startAgent(config, bus, log, { signal: scope.signal, backendBus });
    scope.defer('agent', () => agent.stop());
    const metrics = await serveRoleMetrics(config, log, { nats: natsCheck(bus) });
    scope.defer('metrics server', async () => metrics?.stop());
    log.info({ host: agent.host, pools: config.pools.map((p) => p.name) }, 'agent ready');
  });
}

export async function runMigrate(): Promise<void> {
  const config = configOrExit();
  const log = roleLogger('migrate', config);
  const db = await openDatabase(config, log, { migrate: true });
  await db.close();
  process.stdout.write(`Database is up to date (${config.database.kind}).\n`);
}
