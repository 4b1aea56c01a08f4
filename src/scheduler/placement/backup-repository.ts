/**
 * Restores read their backup from its repository, so a restore into a new volume goes to
 * a pool whose agent reaches that repository. A `dir:` repository is usually one host's
 * disk; a shared mount or a NATS bucket is reached by several. Agents advertise the
 * identity of the repository they reach with every pool (`PoolStats.backupRepositoryId`).
 */
import type { PlacementRequest, PoolStats } from '../../bus/contract/index.js';
import type { FilterResult, PoolFilter } from './types.js';

/** The backup's side: what the backup row recorded. */
export interface BackupLocation {
  repository: string;
  /** Null for a backup recorded before repository identities existed. */
  repositoryId: string | null;
  /** The host that took it (null for an imported record). */
  host: string | null;
}

/**
 * Whether a pool's agent reaches the backup's repository: the same repository identity;
 * for a backup without one, the host that took it (the only one known to reach it); a
 * backup that has neither cannot be placed better than anywhere.
 */
export function reachesRepository(pool: Pick<PoolStats, 'host' | 'backupRepository' | 'backupRepositoryId'>, backup: BackupLocation): FilterResult {
  if (backup.repositoryId !== null) {
    if (pool.backupRepositoryId === backup.repositoryId) return { pass: true };
    const has = pool.backupRepositoryId
      ? `its agent reaches backup repository ${pool.backupRepository ?? '?'} (id ${pool.backupRepositoryId})`
      : 'its agent reports no backup repository identity (an older agent, or its repository could not be opened)';
    return { pass: false, reason: `${has}, not the backup's repository ${backup.repository} (id ${backup.repositoryId})` };
  }
  if (backup.host !== null) {
    if (pool.host === backup.host) return { pass: true };
    return { pass: false, reason: `the backup was recorded without a repository identity, so only host ${backup.host}, which took it, is known to reach ${backup.repository}` };
  }
  return { pass: true };
}

/** Keeps, for a restore into a new volume (`nearBackupRepository`), the pools whose agent reaches the backup's repository. */
export const BackupRepositoryFilter: PoolFilter = {
  name: 'BackupRepositoryFilter',
  filter(pool, req: PlacementRequest) {
    const want = req.nearBackupRepository;
    if (want === undefined) return { pass: true };
    return reachesRepository(pool, want);
  },
};

/** What to do when no pool reaches the repository, for the NO_VALID_BACKEND message. */
export function repositoryAdvice(want: NonNullable<PlacementRequest['nearBackupRepository']>): string {
  return (
    `Backup ${want.backupId} is in repository ${want.repository}${want.repositoryId ? ` (id ${want.repositoryId})` : ''}, ` +
    'and a restore into a new volume must run on a host whose agent reaches it: mount that repository on a storage host ' +
    'and point its agent at it (FLINT_BACKUP_REPOSITORY), or start the agent that took the backup, then restore again.'
  );
}
