/**
 * Makes the credentials of a Flint deployment's NATS: one nkey seed per role (the gateways
 * share one, the schedulers one, every agent host has its own) and the nats-server
 * configuration that lets each do only its part (src/bus/nats/permissions.ts). Seeds already in
 * the directory are kept, so running it again with one more agent adds that agent and
 * changes nobody else's key. The directory is 0700 and every file in it 0600.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureUserSeed } from './credentials.js';
import { collidingHosts, renderServerConfig, rolePermissions, type NatsUser, type ServerConfigOptions } from './permissions.js';
import { token } from '../contract/index.js';

export interface ProvisionOptions {
  /** Where the seeds and the server configuration go. */
  dir: string;
  /** Every agent host the deployment runs (FLINT_AGENT_HOST of each). */
  agents: readonly string[];
  /**
   * The backend hosts each agent host serves (the backendHost of its pools), by agent host: that
   * agent also gets their permissions. Agents not named serve none.
   */
  agentBackends?: Readonly<Record<string, readonly string[]>>;
  /** NATS backup repositories (`nats:<bucket>`) agents use. */
  backupBuckets?: readonly string[];
  storeDir?: string;
  listen?: string;
  tls?: ServerConfigOptions['tls'];
  /** More users with permissions of their own (e.g. a read-only monitoring identity); added as given. */
  extraUsers?: readonly NatsUser[];
}

export interface Provisioned {
  /** The nats-server configuration file. */
  configFile: string;
  /** Its text. */
  config: string;
  gatewaySeedFile: string;
  schedulerSeedFile: string;
  /** By host, as given. */
  agentSeedFiles: Map<string, string>;
}

/** The seed file of an agent host in a provisioned directory. */
export function agentSeedFileName(host: string): string {
  return `agent-${token(host)}.nk`;
}

/** Writes (or completes) the credentials in `opts.dir`; see the module's documentation. */
export function provisionNats(opts: ProvisionOptions): Provisioned {
  const hosts = [...new Set(opts.agents)];
  const clashes = collidingHosts(hosts);
  if (clashes.length > 0) {
    throw new Error(`agent hosts ${clashes.map((g) => g.join(' and ')).join(', ')} have the same subject token, so they would share permissions: rename one`);
  }
  const backends = opts.agentBackends ?? {};
  const hostTokens = new Set(hosts.map(token));
  for (const [host, list] of Object.entries(backends)) {
    const own = list.filter((b) => hostTokens.has(token(b)));
    if (own.length > 0) throw new Error(`agent ${host}: backend host ${own.map((b) => `"${b}"`).join(', ')} is also an agent host; a backend host needs a name of its own, or it would get that agent's permissions`);
  }
  for (const b of opts.backupBuckets ?? []) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(b)) throw new Error(`backup bucket "${b}": letters, digits, "-" and "_" only`);
  }
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const gatewaySeedFile = join(dir, 'gateway.nk');
  const schedulerSeedFile = join(dir, 'scheduler.nk');
  const users: NatsUser[] = [
    { label: 'gateways (and `flint token revoke`)', nkey: ensureUserSeed(gatewaySeedFile), permissions: rolePermissions('gateway') },
    { label: 'schedulers', nkey: ensureUserSeed(schedulerSeedFile), permissions: rolePermissions('scheduler') },
  ];
  const agentSeedFiles = new Map<string, string>();
  for (const host of hosts) {
    const file = join(dir, agentSeedFileName(host));
    agentSeedFiles.set(host, file);
    const served = backends[host] ?? [];
    const label = `agent of host ${host}${served.length > 0 ? `, serving backend ${served.join(', ')}` : ''}`;
    users.push({ label, nkey: ensureUserSeed(file), permissions: rolePermissions('agent', { host, backupBuckets: opts.backupBuckets ?? [], backends: served }) });
  }
  users.push(...(opts.extraUsers ?? []));
  const config = renderServerConfig({ users, storeDir: opts.storeDir, listen: opts.listen, tls: opts.tls });
  const configFile = join(dir, 'nats-server.conf');
  writeFileSync(configFile, config, { mode: 0o600 });
  chmodSync(configFile, 0o600);
  return { configFile, config, gatewaySeedFile, schedulerSeedFile, agentSeedFiles };
}
