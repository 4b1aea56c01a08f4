/**
 * `flint dev`: Flint on one machine in one command (devstack's job). Starts its own
 * nats-server under the data dir (4222, or a free port when taken) unless
 * FLINT_NATS_URL is set, opens and migrates the SQLite database, makes an admin token,
 * and runs a gateway, a scheduler and one agent with the file driver in this process.
 * The agent exports attachments on iSCSI 3260 and NBD 10809-10899, or on free ports when
 * those are taken (dev/export-ports.ts), and the welcome shows which.
 * Its nats-server is as locked as a production one: `nats-auth/` in the data dir (0700)
 * holds one nkey seed per role and the server configuration (0600 each, made on the first
 * start and kept), the server refuses anonymous clients, and each role connects with its
 * own credentials and permissions (src/bus/nats/permissions.ts).
 * With `--ceph` (`FLINT_DEV_CEPH=1 npm start`) it also boots a single-node Ceph cluster
 * under `<dataDir>/ceph` and adds an rbd pool `ceph` and a volume type `ceph` (dev/ceph-dev.ts).
 * Ctrl-C stops everything, nats-server and Ceph included (Ceph after the agent: tgtd, then
 * the OSD, then the mon), and so does a step that fails to start.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { provisionNats, startServiceHeartbeat, type Bus, type BusRole } from '../bus/index.js';
import { createToken, resolveToken, type Db } from '../db/index.js';
import { startGateway } from '../gateway/index.js';
import { databaseCheck, metricsTokenProblems, natsCheck, serveRoleMetrics } from '../metrics/index.js';
import { startAgent } from '../node-agent/index.js';
import { startScheduler } from '../scheduler/index.js';
import { backendHostsOf, flintVersion, natsAuthProblems, type FlintConfig, type Logger } from '../config/index.js';
import { freePort, isPortFree, pickPort } from '../net/free-port.js';
import { FlintApiError, FlintClient, CreateVolumeTypeDocument } from '../client/index.js';
import { devExportPorts, ExportPortsError, preferredExportPorts, type ChosenExportPorts } from './dev/export-ports.js';
import { DEV_CEPH_EXTRA_SPECS, DEV_CEPH_VOLUME_TYPE, startDevCeph, withDevCephPool } from './dev/ceph-dev.js';
import { startNatsServer } from './dev/nats-server.js';
import { configOrExit, EXIT_CONFIG, natsCredentialProblems, openBus, openDatabase, roleLogger, runRole, secureDataDir, type RoleScope } from './runtime.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface DevOptions {
  /** Boot a single-node Ceph cluster and add an rbd pool and a volume type `ceph`. @default false */
  ceph?: boolean;
}

export async function runDev(opts: DevOptions = {}): Promise<void> {
  ensureSystemTools(opts.ceph === true);
  // With FLINT_NATS_URL (someone else's NATS), every role uses the configured credentials.
  const config0 = configOrExit(process.env, (c) => [...metricsTokenProblems(c), ...(c.natsUrl ? [...natsAuthProblems(c, 'dev'), ...natsCredentialProblems(c)] : [])]);
  const log = roleLogger('dev', config0);
  secureDataDir(config0, log, { create: true });
  const ports = await exportPortsOrExit(config0, log);
  // Everything below is stopped, newest first, on Ctrl-C or when a later step fails: a dev
  // session that cannot start leaves no nats-server or tgtd behind.
  await runRole(log, async (scope) => {
    let natsUrl = config0.natsUrl;
    let seeds: Record<BusRole, string> | undefined;
    if (!natsUrl) {
      const port = await pickPort(4222);
      if (port !== 4222) log.info({ port }, 'port 4222 is taken; NATS gets a free port');
      const buckets = config0.backupRepository.startsWith('nats:') ? [config0.backupRepository.slice('nats:'.length)] : [];
      const auth = provisionNats({ dir: join(config0.dataDir, 'nats-auth'), agents: [config0.agentHost], agentBackends: { [config0.agentHost]: backendHostsOf(config0.pools) }, backupBuckets: buckets });
      seeds = { gateway: auth.gatewaySeedFile, scheduler: auth.schedulerSeedFile, agent: auth.agentSeedFiles.get(config0.agentHost)! };
      const nats = await startNatsServer({ storeDir: join(config0.dataDir, 'nats'), port, logFile: join(config0.dataDir, 'nats-server.log'), configFile: auth.configFile });
      scope.defer('nats-server', () => nats.stop());
      natsUrl = nats.url;
    }
    let pools = config0.pools;
    let cephConf: string | undefined;
    if (opts.ceph) {
      log.info({ dir: join(config0.dataDir, 'ceph') }, 'starting the dev Ceph cluster');
      const ceph = await startDevCeph(config0.dataDir);
      // Registered before the agent, so stopped after it (its tgtd and exports of rbd volumes end first).
      scope.defer('Ceph (OSD, then mon)', () => ceph.cluster.stop());
      pools = withDevCephPool(pools, ceph.pool);
      cephConf = ceph.cluster.conf;
    }
    const config = { ...config0, natsUrl, pools, iscsiPort: ports.iscsiPort, nbdPorts: ports.nbdPorts };
    // Each role on a connection of its own, with its own credentials (the dev server's, or the configured ones).
    const busFor = (role: BusRole): FlintConfig => (seeds ? { ...config, natsAuth: { nkeySeedFile: seeds[role], insecure: false } } : config);
    const connect = async (role: BusRole, s: RoleScope): Promise<Bus> => {
      const bus = await openBus(busFor(role), role, `flint-dev-${role}`, log, s.signal);
      s.defer(`NATS connection (${role})`, () => bus.close());
      return bus;
    };

    const db = await openDatabase(config, log, { migrate: true });
    scope.defer('database', () => db.close());
    const token = await adminToken(db, join(config.dataDir, 'admin-token'));

    // The gateway's connection first: it makes the streams and buckets the others bind to.
    const gatewayBus = await connect('gateway', scope);
    const schedulerBus = await connect('scheduler', scope);
    const agentBus = await connect('agent', scope);
    // A backend host's parts (pools with a backendHost) on a connection with that host's inbox.
    const backendBus = (host: string) => openBus({ ...busFor('agent'), agentHost: host }, 'agent', `flint-dev-agent-${host}`, log, scope.signal);
    const agent = await startAgent(config, agentBus, log.child({ role: 'agent' }), { signal: scope.signal, backendBus });
    scope.defer('agent', () => agent.stop());
    const scheduler = await startScheduler(config, schedulerBus, db, log.child({ role: 'scheduler' }));
    scope.defer('scheduler', () => scheduler.stop());
    const gateway = await startGateway(config, gatewayBus, db, log.child({ role: 'gateway' }));
    scope.defer('gateway', () => gateway.stop());
    // One process, one registry: the gateway's /metrics shows every role; FLINT_METRICS_LISTEN serves them on a port of their own too.
    const metrics = await serveRoleMetrics(config, log, { nats: natsCheck(gatewayBus), database: databaseCheck(db) });
    if (metrics) scope.defer('metrics server', () => metrics.stop());
    for (const [role, bus] of [['gateway', gatewayBus], ['scheduler', schedulerBus]] as const) {
      const hb = await startServiceHeartbeat(bus, {
        role,
        host: config.agentHost,
        zone: config.availabilityZone,
        intervalSeconds: config.heartbeatSeconds,
        version: flintVersion(),
        log,
      });
      scope.defer(`${role} heartbeat`, () => hb.stop());
    }
    if (cephConf !== undefined) await ensureCephVolumeType(gateway.url, token);
    printWelcome(gateway.url, token, natsUrl, config.dataDir, log, cephConf, exportsText(config.agentAddress, ports));
  });
}

/** Reuses the admin token in the data dir while it is valid; makes a new one otherwise. */
async function adminToken(db: Db, file: string): Promise<string> {
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token && (await resolveToken(db.fork(), token))?.role === 'admin') return token;
  }
  const { token } = await createToken(db.fork(), 'admin', 'admin', 'dev admin');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** Makes the volume type `ceph` (driver rbd) through the API, unless it exists. */
async function ensureCephVolumeType(url: string, token: string): Promise<void> {
  const client = new FlintClient({ url, token });
  try {
    await client.request(CreateVolumeTypeDocument, {
      input: { name: DEV_CEPH_VOLUME_TYPE, isPublic: true, description: 'Volumes in the dev Ceph cluster (rbd pool "ceph").', extraSpecs: { ...DEV_CEPH_EXTRA_SPECS } },
    });
  } catch (err) {
    if (!(err instanceof FlintApiError && err.code === 'CONFLICT')) throw err;
  } finally {
    await client.close();
  }
}

/** The agent's iSCSI port and NBD range: the defaults, or free ones when those are taken (dev/export-ports.ts); a taken FLINT_ISCSI_PORT exits 2. */
async function exportPortsOrExit(config: FlintConfig, log: Logger): Promise<ChosenExportPorts> {
  const isFree = (port: number) => isPortFree(port, config.agentAddress).catch(() => isPortFree(port));
  try {
    const ports = await devExportPorts(preferredExportPorts(process.env, config), { isFree, freePort: () => freePort() });
    const fields = { iscsiPort: ports.iscsiPort, nbdPorts: ports.nbdPorts.join('-') };
    for (const note of ports.notes) log.info(fields, note);
    log.info(fields, 'attachments are exported on these ports');
    return ports;
  } catch (err) {
    if (!(err instanceof ExportPortsError)) throw err;
    process.stderr.write(`flint: ${err.message}\nNothing was started.\n`);
    process.exit(EXIT_CONFIG);
  }
}

function exportsText(address: string, ports: ChosenExportPorts): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `iSCSI ${host}:${ports.iscsiPort}, NBD ${host}:${ports.nbdPorts[0]}-${ports.nbdPorts[1]}`;
}

function ensureSystemTools(ceph: boolean): void {
  const script = join(ROOT, 'scripts', 'ensure-system.mjs');
  if (!existsSync(script)) return;
  const r = spawnSync(process.execPath, [script, ...(ceph ? ['--ceph'] : [])], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function printWelcome(url: string, token: string, natsUrl: string, dataDir: string, _log: Logger, cephConf: string | undefined, exports: string): void {
  const query = JSON.stringify({ query: 'mutation { createVolume(input: {name: "first", sizeGiB: 1}) { volume { id status } operation { id status } } }' });
  process.stdout.write(
    [
      '',
      'Flint is running (dev mode).',
      `  GraphQL (HTTP + WebSocket): ${url}`,
      `  IDE (GraphiQL):             ${url}   (open it in a browser)`,
      `  Dashboard:                  ${url.replace(/\/graphql$/, '/dashboard')}`,
      `  Admin token:                ${token}   (also in ${join(dataDir, 'admin-token')})`,
      `  NATS:                       ${natsUrl}`,
      `  Exports (attachments):      ${exports}`,
      `  Data:                       ${dataDir}`,
      ...(cephConf === undefined
        ? []
        : [
            `  Ceph:                       ${cephConf}   (rbd -c ${cephConf} ls volumes)`,
            `                              pool "ceph" (rbd pool volumes, user client.flint); volume type "ceph" places volumes there`,
          ]),
      '',
      'Try it:',
      `  curl -s ${url} -H 'content-type: application/json' -H "authorization: Bearer ${token}" \\`,
      `    -d '${query}'`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}
