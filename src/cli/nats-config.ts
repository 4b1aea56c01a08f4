/**
 * `flint nats-config --agents storage-1,storage-2 --out DIR`: the NATS credentials of a
 * deployment (docs/operations.md, "The bus"). Writes one nkey seed per role into DIR (gateway.nk,
 * scheduler.nk, agent-<host>.nk; kept when they exist, so adding an agent changes no other
 * key) and the nats-server configuration with each role's permissions (nats-server.conf),
 * and prints the configuration and which seed goes to which role. `--backend shared1=storage-1,storage-2`
 * gives those agents the permissions of backend host shared1 too (pools with backendHost "shared1").
 */
import { provisionNats } from '../bus/index.js';
import { HOST_NAME } from '../config/index.js';
import { EXIT_CONFIG } from './runtime.js';

export interface NatsConfigOptions {
  agents: string;
  out: string;
  backupBucket?: string[];
  /** `BACKEND=HOST,HOST…`: the agents that serve a backend host. */
  backend?: string[];
  storeDir?: string;
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  quiet?: boolean;
}

export function runNatsConfig(opts: NatsConfigOptions): void {
  const agents = opts.agents.split(',').map((h) => h.trim()).filter(Boolean);
  const bad = agents.filter((h) => !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(h));
  const problems: string[] = [];
  if (agents.length === 0) problems.push('--agents: name at least one agent host (FLINT_AGENT_HOST of each storage host), comma-separated');
  if (bad.length) problems.push(`--agents: ${bad.map((h) => `"${h}"`).join(', ')} is not a host name (letters, digits, ".", "-" and "_")`);
  const agentBackends = parseBackends(opts.backend ?? [], agents, problems);
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) problems.push('--tls-cert and --tls-key: give both or neither');
  if (opts.tlsCa && !opts.tlsCert) problems.push('--tls-ca needs --tls-cert and --tls-key (the server\'s certificate)');
  if (problems.length === 0) {
    try {
      const p = provisionNats({
        dir: opts.out,
        agents,
        backupBuckets: opts.backupBucket ?? [],
        agentBackends,
        ...(opts.storeDir ? { storeDir: opts.storeDir } : {}),
        ...(opts.listen ? { listen: opts.listen } : {}),
        ...(opts.tlsCert && opts.tlsKey ? { tls: { certFile: opts.tlsCert, keyFile: opts.tlsKey, ...(opts.tlsCa ? { caFile: opts.tlsCa } : {}) } } : {}),
      });
      if (!opts.quiet) process.stdout.write(p.config);
      const lines = [
        '',
        `Wrote ${p.configFile} (start NATS with: nats-server -c ${p.configFile}) and one seed per role (mode 0600):`,
        `  gateways and \`flint token revoke\`: FLINT_NATS_NKEY_SEED_FILE=${p.gatewaySeedFile}`,
        `  schedulers:                        FLINT_NATS_NKEY_SEED_FILE=${p.schedulerSeedFile}`,
        ...[...p.agentSeedFiles].map(([host, f]) => `  agent ${host}: FLINT_AGENT_HOST=${host} FLINT_NATS_NKEY_SEED_FILE=${f}`),
        'Copy each seed only to the hosts of its role. Give every NATS node of a cluster the same users (this file\'s authorization block).',
        '',
      ];
      process.stderr.write(lines.join('\n'));
      return;
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  process.stderr.write(`flint nats-config: ${problems.join('\nflint nats-config: ')}\n`);
  process.exit(EXIT_CONFIG);
}

/**
 * The backend hosts of each agent from `--backend BACKEND=HOST,HOST…` options: every host must
 * be among `agents` and every name a host name. Problems go to `problems`.
 */
export function parseBackends(specs: readonly string[], agents: readonly string[], problems: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const spec of specs) {
    const [backend, list, ...rest] = spec.split('=');
    const hosts = (list ?? '').split(',').map((h) => h.trim()).filter(Boolean);
    if (!backend || rest.length > 0 || hosts.length === 0 || !HOST_NAME.test(backend.trim())) {
      problems.push(`--backend: "${spec}" is not BACKEND=HOST,HOST… (the backendHost of the shared pools, then the agents that serve them)`);
      continue;
    }
    for (const h of hosts) {
      if (!agents.includes(h)) problems.push(`--backend ${backend}: "${h}" is not among --agents`);
      else out[h] = [...new Set([...(out[h] ?? []), backend.trim()])];
    }
  }
  return out;
}
