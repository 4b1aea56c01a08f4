/** `flint cluster up|down|status`: the production topology on this machine (src/cli/cluster/cluster.ts). */
import type { Command } from 'commander';
import { parsePositiveInt } from '../commands/args.js';
import { isAlive } from './processes.js';

// Loaded when a cluster command runs, so `flint volume …` does not load NATS and the ORM.
const impl = () => import('./cluster.js');
const topology = () => import('./topology.js');

const DEFAULT_DIR = '.flint-cluster';

export function registerClusterTopology(program: Command): void {
  const cluster = program.command('cluster').description('the production topology on this machine: a NATS cluster, PostgreSQL, gateways, schedulers and agents, each its own process');
  cluster
    .command('up')
    .description('start it (3 NATS nodes with streams at replicas 3, 2 gateways, 2 schedulers, 3 agents in 2 zones, a database on the local PostgreSQL) and return once every pool is UP')
    .option('--dir <dir>', 'where its data, logs, credentials and state file go', DEFAULT_DIR)
    .option('--nats <n>', 'NATS nodes', parsePositiveInt, 3)
    .option('--gateways <n>', 'gateway processes', parsePositiveInt, 2)
    .option('--schedulers <n>', 'scheduler processes', parsePositiveInt, 2)
    .option('--agents <n>', 'agents (hosts agent-1…N, alternating zones az-1 and az-2)', parsePositiveInt, 3)
    .option('--capacity <GiB>', 'capacity of each agent\'s pool', parsePositiveInt, 100)
    .option('--database-url <url>', 'an existing PostgreSQL database (default: one made on the local PostgreSQL, dropped by `down --purge`)')
    .option('--log-level <level>', 'FLINT_LOG_LEVEL of every role', 'info')
    .action(async (o: { dir: string; nats: number; gateways: number; schedulers: number; agents: number; capacity: number; databaseUrl?: string; logLevel: string }) => {
      const { clusterUp } = await impl();
      const { agentsIn2Zones, defaultSpec } = await topology();
      const spec = { ...defaultSpec(o.dir), natsNodes: o.nats, gateways: o.gateways, schedulers: o.schedulers, agents: agentsIn2Zones(o.agents, o.capacity), databaseUrl: o.databaseUrl, logLevel: o.logLevel };
      const started = Date.now();
      const c = await clusterUp({ spec, say: (line) => process.stderr.write(`${line}\n`) });
      const s = c.state;
      process.stdout.write(
        [
          `Flint cluster is up in ${s.dir} (${((Date.now() - started) / 1000).toFixed(1)} s).`,
          `  GraphQL:     ${s.gatewayUrls.join('  ')}   (any of them; clients pick one)`,
          `  Admin token: ${c.adminToken()}   (also in ${s.adminTokenFile})`,
          `  NATS:        ${s.natsUrls.join(',')}   (JetStream, replicas ${Math.min(3, o.nats)})`,
          `  Processes:   flint cluster status --dir ${o.dir}   (logs: ${s.dir}/<name>.log)`,
          `  Stop:        flint cluster down --dir ${o.dir}   (--purge also drops its database and directory)`,
          '',
        ].join('\n'),
      );
    });
  cluster
    .command('down')
    .description('stop every process of the cluster, and what its agents started (tgtd, qemu); nothing is left running')
    .option('--dir <dir>', 'the cluster\'s directory', DEFAULT_DIR)
    .option('--purge', 'also drop the database `up` made and delete the directory')
    .action(async (o: { dir: string; purge?: boolean }) => {
      const { clusterDown, readState } = await impl();
      if (!readState(o.dir)) {
        process.stderr.write(`no cluster in ${o.dir}\n`);
        return;
      }
      const { stopped } = await clusterDown(o.dir, { purge: o.purge === true });
      process.stdout.write(`stopped ${stopped} processes${o.purge ? '; database and directory removed' : ''}\n`);
    });
  cluster
    .command('status')
    .description('the cluster\'s processes: name, role, pid, whether it runs')
    .option('--dir <dir>', 'the cluster\'s directory', DEFAULT_DIR)
    .option('--json', 'as JSON')
    .action(async (o: { dir: string; json?: boolean }) => {
      const s = (await impl()).readState(o.dir);
      if (!s) {
        process.stderr.write(`no cluster in ${o.dir}: flint cluster up --dir ${o.dir}\n`);
        process.exitCode = 3;
        return;
      }
      const rows = s.processes.map((p) => ({ name: p.name, role: p.role, pid: p.pid, running: p.pid > 0 && isAlive(p.pid), log: p.log }));
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...s, processes: rows }, null, 2)}\n`);
        return;
      }
      const lines = rows.map((r) => `${r.name.padEnd(14)}${r.role.padEnd(11)}${String(r.pid).padEnd(9)}${r.running ? 'running' : 'down'}`);
      process.stdout.write([`${'NAME'.padEnd(14)}${'ROLE'.padEnd(11)}${'PID'.padEnd(9)}STATE`, ...lines, '', `GraphQL: ${s.gatewayUrls.join('  ')}`, `NATS:    ${s.natsUrls.join(',')}`, ''].join('\n'));
    });
}
