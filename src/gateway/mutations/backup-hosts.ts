/**
 * Which agent does a backup's work: the one that made it when it is UP and reaches its
 * repository, else another that reaches it (a shared repository). Pure over the pools'
 * heartbeats (the scheduler's placement rules, src/scheduler/placement/).
 */
import type { PoolStats } from '../../bus/index.js';
import type { Backup } from '../../db/index.js';
import { InvalidStateError, ServiceUnavailableError } from '../../domain/index.js';
import { isSilent, reachesRepository, type BackupLocation } from '../../scheduler/placement/index.js';

/** Where a backup's bytes are, for the placement rules (src/scheduler/placement/backup-repository.ts). */
export function location(b: Pick<Backup, 'repository' | 'repositoryId' | 'host'>): BackupLocation {
  return { repository: b.repository, repositoryId: b.repositoryId ?? null, host: b.host };
}

/** UP agent hosts (pool heartbeats newer than `staleBefore`) that reach the repository, in name order. */
function hostsReaching(pools: readonly PoolStats[], where: BackupLocation, staleBefore: Date): string[] {
  return [...new Set(pools.filter((s) => !isSilent(s, staleBefore) && reachesRepository(s, where).pass).map((s) => s.host))].sort();
}

/** The backup rules' view of the agents: the pools' latest heartbeats and when a pool counts as silent. */
export class BackupHosts {
  constructor(
    private readonly pools: () => PoolStats[],
    /** Pools whose agent has not reported since then are not counted as UP. */
    private readonly staleBefore: () => Date,
  ) {}

  /** The agent host of a record being imported: one UP here that reaches its repository (its own first), else any UP agent. */
  forImport(host: string | null, where: BackupLocation): string {
    const up = this.pools();
    if (host && up.some((s) => s.host === host && reachesRepository(s, where).pass)) return host;
    return hostsReaching(up, where, this.staleBefore())[0] ?? this.anyAgentHost();
  }

  /**
   * The agent to verify or delete a backup: the one that took it when it is UP and reaches
   * its repository, else another UP agent that reaches it (a shared repository), else the
   * one that took it all the same (the command waits for it in its queue).
   */
  reaching(b: Backup): string {
    const reaching = hostsReaching(this.pools(), location(b), this.staleBefore());
    if (b.host && reaching.includes(b.host)) return b.host;
    if (reaching[0]) return reaching[0];
    if (b.host) return b.host;
    if (b.repositoryId) {
      throw new ServiceUnavailableError(`No agent that reaches backup repository ${b.repository} (id ${b.repositoryId}) is UP; start one (\`flint service list\`) and retry.`);
    }
    return this.anyAgentHost();
  }

  /**
   * Refuses a restore into a volume on a host whose agent does not reach the backup's
   * repository (known from its pools' heartbeats; a host not reporting is not judged).
   */
  assertReaches(host: string | null, backup: Backup): void {
    if (!host) return;
    const pools = this.pools().filter((s) => s.host === host);
    if (pools.length === 0) return;
    const checks = pools.map((s) => reachesRepository(s, location(backup)));
    if (checks.some((c) => c.pass)) return;
    throw new InvalidStateError(
      `Host ${host}, which holds the volume, does not reach backup ${backup.id}'s repository ${backup.repository}: ${checks[0]!.reason}. ` +
        `Restore into a new volume (restoreBackup without volumeId; it is placed on a host that reaches the repository), or mount the repository on ${host} (FLINT_BACKUP_REPOSITORY) and restore again.`,
      { host, repository: backup.repository, repositoryId: backup.repositoryId },
    );
  }

  private anyAgentHost(): string {
    const host = this.pools()[0]?.host;
    if (!host) throw new ServiceUnavailableError('No agent is UP to reach the backup repository; start one (`flint service list`) and retry.');
    return host;
  }
}
