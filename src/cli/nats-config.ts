/**
 * `flint nats-config --agents storage-1,storage-2 --out DIR`: the NATS credentials of a
 * deployment (docs/operations.md, "The bus"). Writes one nkey seed per role into DIR (gateway.nk,
 * scheduler.nk, agent-<host>.nk; kept when they exist, so adding an agent changes no other
 * key) and the nats-server configuration with each role's permissions (nats-server.conf),
 * and prints the configuration and which seed goes to which role.
 */
import { provisionNats } from '../bus/index.js';
import { EXIT_CONFIG } from './runtime.js';

export interface NatsConfigOptions {
  agents: string;
  out: string;
  backupBucket?: string[];
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
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) problems.push('--tls-cert and --tls-key: give both or neither');
  if (opts.tlsCa && !opts.tlsCert) problems.push('--tls-ca needs --tls-cert and --tls-key (the server\'s certificate)');
  if (problems.length === 0) {
    try {
      const p = provisionNats({
        dir: opts.out,
        agents,
        backupBuckets: opts.backupBucket ?? [],
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
