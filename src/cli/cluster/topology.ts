/**
 * The production topology on one machine, as a plan (pure: no ports are probed and nothing
 * starts here). A 3-node NATS cluster, gateways, schedulers and agents, each a process of
 * its own with its own data directory and ports, and the environment a production host
 * would give it: its role's NATS seed, the shared secret key, PostgreSQL. Agents are
 * distinct hosts (FLINT_AGENT_HOST) in availability zones. `flint cluster up` starts the
 * plan; the chaos suite kills, pauses and restarts its processes by name.
 */
import { join } from 'node:path';
import { agentSeedFileName } from '../../bus/index.js';

export type ClusterRole = 'nats' | 'gateway' | 'scheduler' | 'agent';

export interface ClusterAgentSpec {
  host: string;
  zone: string;
  /** Capacity of the agent's one file pool (`pool`). @default 100 */
  capacityGiB?: number;
  /** @default qcow2 */
  imageFormat?: 'qcow2' | 'raw';
  /** Where the pool's images live (its own filesystem, say). @default `<dir>/<host>/pool` */
  poolDirectory?: string;
}

export interface ClusterSpec {
  /** Everything lives under it: data dirs, logs, NATS stores and credentials, the state file. */
  dir: string;
  natsNodes: number;
  gateways: number;
  schedulers: number;
  agents: ClusterAgentSpec[];
  /** postgres://… of the cluster's database (made before the plan is started). */
  databaseUrl: string;
  /** Replicas of the streams and buckets: min(3, natsNodes) by default. */
  natsReplicas?: number;
  /** @default 2 */
  heartbeatSeconds?: number;
  /** @default info */
  logLevel?: string;
  /** Environment every role gets on top of the plan's (e.g. FLINT_OPERATION_TIMEOUT_SECONDS). */
  env?: Record<string, string>;
}

/** Agents `agent-1`…`agent-N`, alternating between zones az-1 and az-2. */
export function agentsIn2Zones(n: number, capacityGiB?: number): ClusterAgentSpec[] {
  return Array.from({ length: n }, (_, i) => ({ host: `agent-${i + 1}`, zone: `az-${(i % 2) + 1}`, ...(capacityGiB === undefined ? {} : { capacityGiB }) }));
}

/** The default: 3 NATS nodes, 2 gateways, 2 schedulers, 3 agents in 2 zones. */
export function defaultSpec(dir: string): Omit<ClusterSpec, 'databaseUrl'> {
  return { dir, natsNodes: 3, gateways: 2, schedulers: 2, agents: agentsIn2Zones(3) };
}

export interface PlannedProcess {
  /** `nats-1`, `gateway-1`, `scheduler-2`, `agent-3`… (the agent's host for an agent). */
  name: string;
  role: ClusterRole;
  /** For an agent: its host. */
  host?: string;
  /** Arguments after the binary (`flint <role>`, or nats-server's). */
  args: string[];
  env: Record<string, string>;
  log: string;
  /** What answers when it is up: a NATS client port, or an HTTP /healthz. */
  ready: { kind: 'nats'; port: number } | { kind: 'http'; url: string };
}

export interface ClusterPlan {
  spec: ClusterSpec;
  natsUrls: string[];
  gatewayUrls: string[];
  /** Started in this order (NATS, then gateways: they make the streams; then the rest). */
  processes: PlannedProcess[];
  /** Files the plan expects to exist when it starts: seeds, the secret key. */
  files: { natsAuthDir: string; natsConfig: string; secretKey: string; adminToken: string };
}

/** Ports a plan takes, in the order `planCluster` asks for them. */
export function portsNeeded(spec: ClusterSpec): number {
  return spec.natsNodes * 2 + spec.gateways + spec.schedulers + spec.agents.length * 3;
}

/** NBD ports per agent (a range from the agent's picked port). */
export const NBD_PORTS_PER_AGENT = 16;

/**
 * Lays out every process. `port()` hands out distinct free ports (`portsNeeded` of them):
 * NATS client and route ports, gateway listen ports, metrics ports of schedulers and agents,
 * agents' iSCSI and first NBD ports.
 */
export function planCluster(spec: ClusterSpec, port: () => number): ClusterPlan {
  const d = (...p: string[]) => join(spec.dir, ...p);
  const natsAuthDir = d('nats-auth');
  const files = { natsAuthDir, natsConfig: join(natsAuthDir, 'nats-server.conf'), secretKey: d('secret.key'), adminToken: d('admin-token') };
  const nodes = Array.from({ length: spec.natsNodes }, (_, i) => ({ name: `nats-${i + 1}`, client: port(), route: port() }));
  const natsUrls = nodes.map((n) => `nats://127.0.0.1:${n.client}`);
  const processes: PlannedProcess[] = nodes.map((n) => ({
    name: n.name,
    role: 'nats',
    args: [
      '-c', files.natsConfig, '-a', '127.0.0.1', '-p', String(n.client), '-js', '-sd', d(n.name, 'store'), '-n', n.name,
      ...(spec.natsNodes > 1
        ? ['--cluster', `nats://127.0.0.1:${n.route}`, '--cluster_name', 'flint', '--routes', nodes.filter((o) => o !== n).map((o) => `nats://127.0.0.1:${o.route}`).join(',')]
        : []),
      '-l', d(`${n.name}.log`),
    ],
    env: {},
    log: d(`${n.name}.log`),
    ready: { kind: 'nats', port: n.client },
  }));
  const common: Record<string, string> = {
    FLINT_NATS_URL: natsUrls.join(','),
    FLINT_NATS_REPLICAS: String(spec.natsReplicas ?? Math.min(3, spec.natsNodes)),
    FLINT_DATABASE_URL: spec.databaseUrl,
    FLINT_SECRET_KEY_FILE: files.secretKey,
    FLINT_HEARTBEAT_SECONDS: String(spec.heartbeatSeconds ?? 2),
    FLINT_LOG_LEVEL: spec.logLevel ?? 'info',
    ...spec.env,
  };
  const seed = (file: string) => join(natsAuthDir, file);
  const gatewayUrls: string[] = [];
  for (let i = 1; i <= spec.gateways; i++) {
    const listen = port();
    const url = `http://127.0.0.1:${listen}/graphql`;
    gatewayUrls.push(url);
    processes.push({
      name: `gateway-${i}`,
      role: 'gateway',
      args: ['gateway'],
      env: { ...common, FLINT_DATA_DIR: d(`gateway-${i}`), FLINT_AGENT_HOST: `gateway-${i}`, FLINT_LISTEN: `127.0.0.1:${listen}`, FLINT_NATS_NKEY_SEED_FILE: seed('gateway.nk') },
      log: d(`gateway-${i}.log`),
      ready: { kind: 'http', url: url.replace(/\/graphql$/, '/healthz') },
    });
  }
  for (let i = 1; i <= spec.schedulers; i++) {
    const metrics = port();
    processes.push({
      name: `scheduler-${i}`,
      role: 'scheduler',
      args: ['scheduler'],
      env: { ...common, FLINT_DATA_DIR: d(`scheduler-${i}`), FLINT_AGENT_HOST: `scheduler-${i}`, FLINT_METRICS_LISTEN: `127.0.0.1:${metrics}`, FLINT_NATS_NKEY_SEED_FILE: seed('scheduler.nk') },
      log: d(`scheduler-${i}.log`),
      ready: { kind: 'http', url: `http://127.0.0.1:${metrics}/healthz` },
    });
  }
  for (const a of spec.agents) {
    const [metrics, iscsi, nbd] = [port(), port(), port()];
    processes.push({
      name: a.host,
      role: 'agent',
      host: a.host,
      args: ['agent'],
      env: {
        ...common,
        FLINT_DATA_DIR: d(a.host),
        FLINT_AGENT_HOST: a.host,
        FLINT_AVAILABILITY_ZONE: a.zone,
        FLINT_METRICS_LISTEN: `127.0.0.1:${metrics}`,
        FLINT_ISCSI_PORT: String(iscsi),
        FLINT_NBD_PORTS: `${nbd}-${Math.min(65535, nbd + NBD_PORTS_PER_AGENT - 1)}`,
        FLINT_NATS_NKEY_SEED_FILE: seed(agentSeedFileName(a.host)),
        FLINT_POOLS: JSON.stringify([{ name: 'pool', directory: a.poolDirectory ?? d(a.host, 'pool'), imageFormat: a.imageFormat ?? 'qcow2', capacityGiB: a.capacityGiB ?? 100 }]),
      },
      log: d(`${a.host}.log`),
      ready: { kind: 'http', url: `http://127.0.0.1:${metrics}/healthz` },
    });
  }
  return { spec, natsUrls, gatewayUrls, processes, files };
}
