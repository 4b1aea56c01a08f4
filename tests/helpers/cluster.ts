/**
 * A whole Flint for end-to-end tests, every role in its own process as in production:
 * its own nats-server, a database (SQLite file or a temporary PostgreSQL database),
 * `flint migrate`, one gateway (or several, on PostgreSQL), one scheduler (or several) and one
 * agent per declared host, started
 * through the real CLI (`bin/flint.js`). Each process's stderr goes to a log file that
 * is printed when a test fails. The nats-server refuses anonymous clients, and every role
 * connects with its own credentials and permissions, as `flint nats-config` makes them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/net/free-port.js';
import type { FlintClient } from '../../src/client/index.js';
import type { PoolConfigInput } from '../../src/config/pool-config.js';
import { withSecureNats } from './nats.js';
import { agentPortsEnv } from './ports.js';
import { processMarker } from './processes.js';
import { createTempDatabase } from './postgres.js';
import { ClientPool } from './sdk.js';
import { tempDir } from './tmp.js';
import { pollUntil } from './wait.js';
import { UNLIMITED_QUOTAS } from './quota-env.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FLINT = join(ROOT, 'bin', 'flint.js');

export interface AgentSpec {
  host: string;
  zone?: string;
  pools: Array<Omit<PoolConfigInput, 'directory'>>;
  /** Extra environment for this agent only, e.g. `{ FLINT_NBD_TLS_DIR: dir }` or its own FLINT_BACKUP_REPOSITORY. */
  env?: NodeJS.ProcessEnv;
}

export interface ClusterOptions {
  database: 'sqlite' | 'postgresql';
  agents: AgentSpec[];
  heartbeatSeconds?: number;
  /** Scheduler processes (they share one durable consumer). @default 1 */
  schedulers?: number;
  /** Extra environment for every role, e.g. `{ FLINT_LOG_LEVEL: 'debug' }`. */
  env?: NodeJS.ProcessEnv;
  /** Give each scheduler and agent a FLINT_METRICS_LISTEN port of its own (see `Cluster.metricsUrl`). */
  metrics?: boolean;
  /**
   * Gateway processes, each on its own port (`Cluster.urls`). More than one needs PostgreSQL:
   * SQLite is one file on one machine (src/db/orm.ts), so the harness refuses it. @default 1
   */
  gateways?: number;
}

export interface Cluster {
  /** The first gateway's `/graphql` URL (`urls[0]`). */
  url: string;
  /** Every gateway's `/graphql` URL, by index. */
  urls: string[];
  adminToken: string;
  dataDir: string;
  /** Directory of a pool's images on its agent (`host`: a backend host for a shared pool). */
  poolDir(host: string, pool: string): string;
  token(project: string, role: 'admin' | 'member' | 'reader'): Promise<string>;
  /**
   * The typed SDK with a token, one client per token; `stop` closes them. No token: the
   * admin's; `null`: a client that sends none. `gateway`: which gateway it talks to (default the first).
   */
  client(token?: string | null, gateway?: number): FlintClient;
  /** Stops an agent process (SIGTERM) and starts it again with the same settings. */
  restartAgent(host: string): Promise<void>;
  /** Stops an agent process (SIGTERM); `startAgent` brings it back with the same settings. */
  stopAgent(host: string): Promise<void>;
  startAgent(host: string): void;
  /**
   * Stops a gateway process (SIGTERM; default the first) and starts it again on the same port,
   * with `env` added to its environment (kept for later restarts); resolves when `/healthz` answers.
   */
  restartGateway(env?: NodeJS.ProcessEnv, index?: number): Promise<void>;
  /** Kills a gateway process at once (SIGKILL), as a crash would; `startGateway` brings it back. */
  killGateway(index: number): Promise<void>;
  /** Starts a stopped gateway again on its port with its last settings; resolves when `/healthz` answers. */
  startGateway(index: number): Promise<void>;
  /** The cluster's own nats-server: `kill()` it (the store stays) and `restart()` it on the same port. */
  nats: { url: string; kill(): Promise<void>; restart(): Promise<void> };
  logs(): string;
  /** Every process's log file (JSON lines), e.g. for the bench's per-hop breakdown. */
  logFiles(): string[];
  /** The NATS seed file of a role (an agent: of its host), to connect as it in a test. */
  natsSeed(role: 'gateway' | 'scheduler' | 'agent' | 'observer', host?: string): string;
  /** `http://127.0.0.1:PORT` of a process's metrics server (`scheduler-0`, `agent-<host>`); needs `metrics: true`. */
  metricsUrl(name: string): string;
  stop(): Promise<void>;
}

interface Proc {
  name: string;
  role: string;
  child: ChildProcess;
  env: NodeJS.ProcessEnv;
  log: string;
}

/**
 * Whether a role logged that it is ready (`gateway ready`, `scheduler ready`, `agent ready`):
 * its pools may be UP well before that, while it still creates its consumers, and a test that
 * then stops NATS would catch it half-started. Below info level the line is not written: then
 * the pools being UP has to do.
 */
function loggedReady(p: Proc, level: string): boolean {
  if (!['trace', 'debug', 'info'].includes(level)) return true;
  try {
    return readFileSync(p.log, 'utf8').includes(`"msg":"${p.role} ready"`);
  } catch {
    return false;
  }
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const dir = await tempDir('flint-e2e-');
  // Agents that keep backups in NATS need that bucket in their permissions.
  const buckets = [opts.env, ...opts.agents.map((a) => a.env)]
    .map((e) => e?.FLINT_BACKUP_REPOSITORY)
    .filter((r): r is string => typeof r === 'string' && r.startsWith('nats:'))
    .map((r) => r.slice('nats:'.length));
  // Agents with shared pools (a backendHost) get that backend host's permissions too.
  const agentBackends = Object.fromEntries(opts.agents.map((a) => [a.host, [...new Set(a.pools.flatMap((p) => (p.backendHost ? [p.backendHost] : [])))]]));
  const secure = await withSecureNats({ agents: opts.agents.map((a) => a.host), backupBuckets: [...new Set(buckets)], agentBackends });
  const nats = secure.server;
  const gatewayCount = opts.gateways ?? 1;
  if (gatewayCount > 1 && opts.database !== 'postgresql') throw new Error(`gateways: ${gatewayCount} needs database: 'postgresql' (SQLite is for one gateway on one machine)`);
  const pg = opts.database === 'postgresql' ? await createTempDatabase() : undefined;
  const ports: number[] = [];
  for (let i = 0; i < gatewayCount; i++) ports.push(await freePort());
  const port = ports[0]!;
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    FLINT_DATA_DIR: dir.path,
    FLINT_NATS_URL: nats.url,
    // The gateways' credentials (also what `flint token revoke` uses); schedulers and agents get their own below.
    FLINT_NATS_NKEY_SEED_FILE: secure.seedFile('gateway'),
    FLINT_DATABASE_URL: pg ? pg.url : `sqlite:${join(dir.path, 'flint.sqlite')}`,
    FLINT_LISTEN: `127.0.0.1:${port}`,
    FLINT_HEARTBEAT_SECONDS: String(opts.heartbeatSeconds ?? 1),
    FLINT_LOG_LEVEL: process.env.FLINT_TEST_LOG_LEVEL ?? 'info',
    // Their children (tgtd…) are found by the leftover check even if a role process is killed.
    ...processMarker(),
    FLINT_QUOTA_DEFAULTS: UNLIMITED_QUOTAS,
    ...opts.env,
  };
  const procs: Proc[] = [];
  const logFiles: string[] = [];
  // A backend host's pool is one directory every agent that serves it shares (as NFS would be).
  const backendHosts = new Set(opts.agents.flatMap((a) => a.pools.flatMap((p) => (p.backendHost ? [p.backendHost] : []))));
  const poolDir = (host: string, pool: string) => (backendHosts.has(host) ? join(dir.path, 'backends', host, pool) : join(dir.path, 'agents', host, pool));

  const start = (name: string, role: string, env: NodeJS.ProcessEnv): Proc => {
    const log = join(dir.path, `${name}.log`);
    logFiles.push(log);
    const out = createWriteStream(log, { flags: 'a' });
    const child = spawn(process.execPath, [FLINT, role], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    const p = { name, role, child, env, log };
    procs.push(p);
    return p;
  };

  const metricsPorts = new Map<string, number>();
  const metricsEnv = (name: string): NodeJS.ProcessEnv => (metricsPorts.has(name) ? { FLINT_METRICS_LISTEN: `127.0.0.1:${metricsPorts.get(name)}` } : {});

  // Each agent's export ports (its own tgtd portal, a range for NBD servers), kept across restarts.
  const exportPorts = new Map<string, NodeJS.ProcessEnv>();
  for (const a of opts.agents) exportPorts.set(a.host, await agentPortsEnv());
  const agentEnv = (a: AgentSpec): NodeJS.ProcessEnv => ({
    ...base,
    ...exportPorts.get(a.host),
    FLINT_AGENT_HOST: a.host,
    FLINT_NATS_NKEY_SEED_FILE: secure.seedFile('agent', a.host),
    FLINT_AVAILABILITY_ZONE: a.zone ?? 'nova',
    // A directory for file pools only: an rbd pool's volumes are in its Ceph pool.
    FLINT_POOLS: JSON.stringify(a.pools.map((p) => (p.driver === 'rbd' ? p : { ...p, directory: poolDir(p.backendHost ?? a.host, p.name) }))),
    ...metricsEnv(`agent-${a.host}`),
    ...a.env,
  });

  const urls = ports.map((p) => `http://127.0.0.1:${p}/graphql`);
  const url = urls[0]!;
  const clients = urls.map((u) => new ClientPool(u));
  const gatewayName = (i: number) => (i === 0 ? 'gateway' : `gateway-${i}`);
  const gatewayEnv = (i: number): NodeJS.ProcessEnv => ({ ...base, FLINT_LISTEN: `127.0.0.1:${ports[i]}`, FLINT_AGENT_HOST: i === 0 ? 'gw' : `gw-${i}` });
  const gatewayProc = (i: number): Proc => {
    if (!Number.isInteger(i) || i < 0 || i >= gatewayCount) throw new Error(`no gateway ${i} (the cluster has ${gatewayCount})`);
    return procs.filter((x) => x.name === gatewayName(i)).at(-1)!;
  };
  const startGateway = async (i: number, env: NodeJS.ProcessEnv): Promise<void> => {
    start(gatewayName(i), 'gateway', env);
    const healthz = urls[i]!.replace(/\/graphql$/, '/healthz');
    await waitFor(async () => (await fetch(healthz).catch(() => undefined))?.ok === true, 30_000, () => `gateway ${i} did not come back:\n${readLogs(logFiles)}`);
  };
  const stop = async (): Promise<void> => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(procs.map((p) => stopProc(p.child)));
    await secure.stop();
    await pg?.drop();
    await dir.cleanup();
  };

  try {
    mkdirSync(dir.path, { recursive: true });
    const migrate = spawnSync(process.execPath, [FLINT, 'migrate'], { env: base, encoding: 'utf8' });
    if (migrate.status !== 0) throw new Error(`flint migrate failed: ${migrate.stderr}`);
    const adminToken = createTokenSync(base, 'admin', 'admin');
    if (opts.metrics) {
      const names = [...Array.from({ length: opts.schedulers ?? 1 }, (_, i) => `scheduler-${i}`), ...opts.agents.map((a) => `agent-${a.host}`)];
      for (const name of names) metricsPorts.set(name, await freePort());
    }
    for (let i = 0; i < (opts.schedulers ?? 1); i++) start(`scheduler-${i}`, 'scheduler', { ...base, FLINT_AGENT_HOST: `sched-${i}`, FLINT_NATS_NKEY_SEED_FILE: secure.seedFile('scheduler'), ...metricsEnv(`scheduler-${i}`) });
    for (let i = 0; i < gatewayCount; i++) start(gatewayName(i), 'gateway', gatewayEnv(i));
    for (const a of opts.agents) start(`agent-${a.host}`, 'agent', agentEnv(a));
    // A backend host's pool is one pool, however many agents serve it.
    const expectedPools = new Set(opts.agents.flatMap((a) => a.pools.map((p) => `${p.backendHost ?? a.host}@${p.name}`))).size;
    await waitFor(async () => {
      const dead = procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
      if (dead) throw new Error(`${dead.name} exited while the cluster started:\n${readLogs(logFiles)}`);
      const r = await gql(url, adminToken, '{ pools { id state } }').catch(() => undefined);
      const pools = (r?.data as { pools?: Array<{ state: string }> } | undefined)?.pools;
      if (pools === undefined || pools.filter((p) => p.state === 'UP').length !== expectedPools || !procs.every((p) => loggedReady(p, base.FLINT_LOG_LEVEL!))) return false;
      for (const u of urls.slice(1)) if ((await fetch(u.replace(/\/graphql$/, '/healthz')).catch(() => undefined))?.ok !== true) return false;
      return true;
    }, 90_000, () => `cluster did not come up:\n${readLogs(logFiles)}`);

    return {
      url,
      urls,
      adminToken,
      dataDir: dir.path,
      poolDir,
      token: async (project, role) => createTokenSync(base, project, role),
      client: (token, gateway = 0) => {
        const pool = clients[gateway];
        if (!pool) throw new Error(`no gateway ${gateway} (the cluster has ${gatewayCount})`);
        return pool.as(token === undefined ? adminToken : (token ?? undefined));
      },
      stopAgent: async (host) => {
        const p = procs.findLast((x) => x.name === `agent-${host}`);
        if (!p) throw new Error(`no agent ${host}`);
        await stopProc(p.child);
      },
      startAgent: (host) => {
        const spec = opts.agents.find((a) => a.host === host);
        if (!spec) throw new Error(`no agent ${host}`);
        start(`agent-${host}`, 'agent', agentEnv(spec));
      },
      restartAgent: async (host) => {
        const p = procs.findLast((x) => x.name === `agent-${host}`);
        if (p) await stopProc(p.child);
        const spec = opts.agents.find((a) => a.host === host)!;
        start(`agent-${host}`, 'agent', agentEnv(spec));
      },
      restartGateway: async (env = {}, index = 0) => {
        const p = gatewayProc(index);
        await stopProc(p.child);
        await startGateway(index, { ...p.env, ...env });
      },
      killGateway: async (index) => {
        const { child } = gatewayProc(index);
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGKILL');
        await exited;
      },
      startGateway: async (index) => {
        const p = gatewayProc(index);
        if (p.child.exitCode === null && p.child.signalCode === null) throw new Error(`gateway ${index} is running`);
        await startGateway(index, p.env);
      },
      nats: { url: nats.url, kill: () => nats.kill(), restart: () => nats.restart() },
      logs: () => readLogs(logFiles),
      logFiles: () => [...logFiles],
      natsSeed: (role, host) => secure.seedFile(role, host),
      metricsUrl: (name) => {
        const p = metricsPorts.get(name);
        if (p === undefined) throw new Error(`no metrics port for ${name} (start the cluster with metrics: true)`);
        return `http://127.0.0.1:${p}`;
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

function createTokenSync(env: NodeJS.ProcessEnv, project: string, role: string): string {
  const r = spawnSync(process.execPath, [FLINT, 'token', 'create', '--project', project, '--role', role], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`flint token create failed: ${r.stderr}`);
  return r.stdout.trim();
}

async function stopProc(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function readLogs(files: string[]): string {
  return files
    .map((f) => {
      try {
        return `--- ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-40).join('\n')}`;
      } catch {
        return `--- ${f} (none)`;
      }
    })
    .join('\n');
}

/**
 * A bare GraphQL POST, for harness checks that must not depend on the SDK under test. Like
 * a well-behaved client (and the SDK), it waits and retries a request the gateway refused
 * with RATE_LIMITED (nothing ran), a few times: tests that share one token across many
 * concurrent calls are not about the rate limits, which tests/security/ checks.
 */
export async function gql(url: string, token: string | undefined, query: string, variables?: unknown): Promise<{ data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> }> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string; retryAfterSeconds?: number } }> };
    const limited = body.errors?.find((e) => e.extensions?.code === 'RATE_LIMITED');
    if (!limited || attempt > 5) return body;
    await new Promise((r) => setTimeout(r, 1000 * Math.min(5, limited.extensions?.retryAfterSeconds ?? 1)));
  }
}

/** Polls `check` until it holds (see wait.ts for the waits on resources and events). */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, message: () => string): Promise<void> {
  await pollUntil(async () => ((await check()) ? true : undefined), timeoutMs, message);
}
