/**
 * The faults the chaos suite injects, each with its recovery. Processes are killed with -9
 * (no chance to clean up) and started again with their settings; a partition is a SIGSTOP
 * (the process neither sends nor answers, its TCP connections stay open) and a SIGCONT; a
 * PostgreSQL restart stops the suite's own server in immediate mode and starts it again
 * (own-postgres.ts; where it has none, the cluster's database ends every connection and
 * refuses new ones for a while instead); a full disk is a file that takes every free byte of
 * one pool's filesystem (pool-disks.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningCluster } from '../../src/cli/cluster/cluster.js';
import { setDatabaseAvailable } from '../../src/db/pg-admin.js';
import type { PoolDisks } from './pool-disks.js';
import type { OwnPostgres } from './own-postgres.js';

export const FAULT_KINDS = ['kill-gateway', 'kill-scheduler', 'kill-agent', 'kill-nats', 'partition-agent', 'postgres-restart', 'kill-2-nats', 'full-disk'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Injected {
  kind: FaultKind;
  /** What was done, e.g. `kill -9 agent-2`. */
  what: string;
  /** Undoes it (starts what was killed, continues what was stopped) and waits until it answers. */
  recover(): Promise<void>;
}

function pick<T>(list: readonly T[], rng: () => number): T {
  return list[Math.floor(rng() * list.length)]!;
}

function named(cluster: RunningCluster, role: string): string[] {
  return cluster.state.processes.filter((p) => p.role === role).map((p) => p.name);
}

async function kill(cluster: RunningCluster, names: string[]): Promise<void> {
  for (const n of names) cluster.signal(n, 'SIGKILL');
  for (const n of names) await cluster.waitGone(n);
}

/** What some faults act on besides the cluster's processes. */
export interface FaultTargets {
  disks?: PoolDisks;
  postgres?: OwnPostgres;
}

export async function inject(cluster: RunningCluster, kind: FaultKind, rng: () => number, targets: FaultTargets = {}): Promise<Injected> {
  const { disks, postgres } = targets;
  switch (kind) {
    case 'kill-gateway':
    case 'kill-scheduler':
    case 'kill-agent':
    case 'kill-nats': {
      const name = pick(named(cluster, kind.slice('kill-'.length)), rng);
      await kill(cluster, [name]);
      return { kind, what: `kill -9 ${name}`, recover: () => cluster.start(name) };
    }
    case 'kill-2-nats': {
      // Two of three: JetStream loses its quorum until they are back.
      const nodes = named(cluster, 'nats');
      const first = pick(nodes, rng);
      const second = pick(nodes.filter((n) => n !== first), rng);
      await kill(cluster, [first]);
      await sleep(500);
      await kill(cluster, [second]);
      return {
        kind,
        what: `kill -9 ${first}, then ${second} (quorum lost)`,
        recover: async () => {
          await Promise.all([cluster.start(first), cluster.start(second)]);
        },
      };
    }
    case 'partition-agent': {
      const name = pick(named(cluster, 'agent'), rng);
      cluster.signal(name, 'SIGSTOP');
      return { kind, what: `SIGSTOP ${name}`, recover: async () => cluster.signal(name, 'SIGCONT') };
    }
    case 'postgres-restart': {
      if (postgres) {
        await postgres.crash();
        return { kind, what: 'PostgreSQL stopped in immediate mode (a crash), then started again', recover: () => postgres.start() };
      }
      const db = cluster.state.madeDatabase;
      if (!db) throw new Error('postgres-restart needs the database `flint cluster up` made');
      await setDatabaseAvailable(db.adminUrl, db.name, false);
      return { kind, what: `PostgreSQL: database ${db.name} refuses and ends every connection`, recover: () => setDatabaseAvailable(db.adminUrl, db.name, true) };
    }
    case 'full-disk': {
      if (!disks) throw new Error('full-disk needs the pools on their own filesystems (mountPoolDisks)');
      const directory = pick(disks.directories, rng);
      const filler = await disks.fill(directory);
      return { kind, what: `disk full: ${directory} (${Math.round(filler.bytes / 2 ** 20)} MiB taken)`, recover: filler.release };
    }
  }
}
