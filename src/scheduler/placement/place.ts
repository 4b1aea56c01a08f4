/**
 * The scheduler's decision for one request: drop the pools that cannot take the
 * volume (saying why), rank the rest. Pure: the caller brings the pools and
 * reserves capacity on the winner.
 */
import { poolId, type PlacementRequest } from '../../bus/contract/index.js';
import { DEFAULT_FILTERS } from './filters.js';
import { repositoryAdvice } from './backup-repository.js';
import type { PoolFilter, PoolState } from './types.js';
import { DEFAULT_WEIGHERS, type WeigherSetting, weighPools } from './weighers.js';

/** Filter name of pools skipped because they already failed this request (Cinder's RetryFilter). */
export const RETRY_FILTER = 'RetryFilter';
/** Filter name of pools whose agent stopped reporting (Cinder skips backends whose service is down). */
export const HEARTBEAT_FILTER = 'HeartbeatFilter';

export interface PlaceOptions {
  /** @default DEFAULT_FILTERS */
  filters?: readonly PoolFilter[];
  /** @default DEFAULT_WEIGHERS, each with its default multiplier */
  weighers?: readonly WeigherSetting[];
  /** Pools (`host@pool`) not to try again, e.g. those a previous attempt failed on. */
  exclude?: readonly string[];
  /** Pools whose last heartbeat (`updatedAt`) is older than this are not used. */
  staleBefore?: Date;
}

export interface Candidate {
  pool: PoolState;
  weight: number;
}

export interface Rejection {
  /** `host@pool` */
  pool: string;
  filter: string;
  reason: string;
}

export interface Placement {
  /** Pools that passed every filter, best first; equal weights in pool id order. */
  candidates: Candidate[];
  /** Every other pool, in pool id order, with the first filter that refused it. */
  rejections: Rejection[];
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Whether a pool's last heartbeat is older than `staleBefore` (or unreadable). */
export function isSilent(pool: Pick<PoolState, 'updatedAt'>, staleBefore: Date): boolean {
  const at = Date.parse(pool.updatedAt);
  return Number.isNaN(at) || at < staleBefore.getTime();
}

function firstRejection(pool: PoolState, req: PlacementRequest, filters: readonly PoolFilter[], opts: PlaceOptions): Omit<Rejection, 'pool'> | undefined {
  if (opts.exclude?.includes(poolId(pool.host, pool.pool))) {
    return { filter: RETRY_FILTER, reason: 'already tried for this volume and failed' };
  }
  if (opts.staleBefore !== undefined) {
    if (isSilent(pool, opts.staleBefore)) {
      return { filter: HEARTBEAT_FILTER, reason: `no heartbeat since ${pool.updatedAt}; is \`flint agent\` running on ${pool.host}?` };
    }
  }
  for (const filter of filters) {
    const result = filter.filter(pool, req);
    if (!result.pass) return { filter: filter.name, reason: result.reason ?? 'rejected' };
  }
  return undefined;
}

/** Filters and weighs `pools` for `req` (Cinder's FilterScheduler, without I/O). */
export function place(req: PlacementRequest, pools: readonly PoolState[], opts: PlaceOptions = {}): Placement {
  const filters = opts.filters ?? DEFAULT_FILTERS;
  const weighers = opts.weighers ?? DEFAULT_WEIGHERS.map((weigher) => ({ weigher }));
  const passed: PoolState[] = [];
  const rejections: Rejection[] = [];
  for (const pool of pools) {
    const rejection = firstRejection(pool, req, filters, opts);
    if (rejection === undefined) passed.push(pool);
    else rejections.push({ pool: poolId(pool.host, pool.pool), ...rejection });
  }
  const weights = weighPools(passed, req, weighers);
  const candidates = passed
    .map((pool, i) => ({ pool, weight: weights[i] ?? 0, id: poolId(pool.host, pool.pool) }))
    .sort((a, b) => b.weight - a.weight || byId(a.id, b.id))
    .map(({ pool, weight }) => ({ pool, weight }));
  rejections.sort((a, b) => byId(a.pool, b.pool));
  return { candidates, rejections };
}

/** "a 5 GiB", "an 8 GiB", "an 11 GiB", "an 18000 GiB": the article as the number is read aloud. */
function aSize(size: number): string {
  const digits = String(size);
  const an = digits.startsWith('8') || (digits.length % 3 === 2 && /^1[18]/.test(digits));
  return `${an ? 'an' : 'a'} ${digits} GiB`;
}

/**
 * The user's message for NO_VALID_BACKEND: what was asked, every pool and why it
 * was refused, and what to do about it.
 */
export function explainNoValidBackend(req: PlacementRequest, rejections: readonly Rejection[]): string {
  const type = req.volumeType === null ? '' : ` of type ${req.volumeType.name}`;
  const zone = req.availabilityZone === null ? '' : ` in zone ${req.availabilityZone}`;
  const head = `No pool can hold ${aSize(req.sizeGiB)} volume${type}${zone}`;
  if (rejections.length === 0) {
    return `${head}: no agent has reported a pool yet. Start \`flint agent\` on a storage host (or \`flint dev\` on one machine) and try again.`;
  }
  const why = rejections.map((r) => `${r.pool} rejected by ${r.filter} (${r.reason})`).join('; ');
  const near = req.nearBackupRepository;
  if (near && rejections.every((r) => r.filter === 'BackupRepositoryFilter')) return `${head}: ${why}. ${repositoryAdvice(near)}`;
  return `${head}: ${why}. Ask for a smaller size, another zone or volume type, or add capacity.${near ? ` ${repositoryAdvice(near)}` : ''}`;
}
