/**
 * Quota counters and limits (issue 12). The counters (`quota_usage`, one row per project;
 * `quota_type_usage`, one per project and volume type) are written only by the triggers of
 * quota-sql.ts and by a recount; this store reads them, checks a mutation's claim inside its
 * transaction, and keeps each project's overrides of the default limits
 * (`project.quota_limits`).
 */
import type { EntityManager } from '@mikro-orm/knex';
import { NotFoundError } from '../domain/errors.js';
import {
  claimIsLimited,
  COUNTED_RESOURCES,
  effectiveLimits,
  exceededBy,
  QuotaExceededError,
  typeKey,
  TYPE_RESOURCES,
  NOTHING_HELD,
  splitKey,
  type Held,
  type QuotaClaim,
  type QuotaLimits,
  type QuotaOverrides,
} from '../domain/quotas.js';
import { Project, Volume } from './entities.js';
import { QuotaTypeUsage, QuotaUsage } from './quota-entities.js';
import { recountStatements, USAGE_COLUMNS } from './quota-sql.js';
import { dialectOf, knexOf } from './entity-rows.js';
import { queryPrepared } from './prepared.js';
import { statementOf } from './sql-lists.js';

/** What a project holds, by counter key (`gigabytes`, `gigabytes@gold`). */
export type Holdings = Map<string, Held>;

function holdingsOf(usage: QuotaUsage | null, types: QuotaTypeUsage[]): Holdings {
  const h: Holdings = new Map();
  for (const r of COUNTED_RESOURCES) h.set(r, usage ? { inUse: usage[r], reserved: usage[`${r}Reserved`] } : { ...NOTHING_HELD });
  for (const t of types) for (const r of TYPE_RESOURCES) h.set(typeKey(r, t.volumeType), { inUse: t[r], reserved: t[`${r}Reserved`] });
  return h;
}

/** What a project holds now, from its counters; `types` limits the type rows read (all when absent). */
export async function holdingsOfProject(em: EntityManager, projectId: string, types?: readonly string[]): Promise<Holdings> {
  const usage = await em.findOne(QuotaUsage, { projectId }, { disableIdentityMap: true });
  const typeRows = types && types.length === 0 ? [] : await em.find(QuotaTypeUsage, types ? { projectId, volumeType: { $in: [...types] } } : { projectId }, { disableIdentityMap: true });
  return holdingsOf(usage, typeRows);
}

/** A project's stored overrides; null when the defaults apply (also for a project without a row, which has none). */
export async function projectOverrides(em: EntityManager, projectId: string): Promise<QuotaOverrides | null> {
  const p = await em.findOne(Project, { id: projectId }, { fields: ['quotaLimits'], disableIdentityMap: true });
  return p?.quotaLimits ?? null;
}

/** The counter columns of `quota_usage`, in `COUNTED_RESOURCES` order, and of `quota_type_usage`. */
const USAGE_SELECT = COUNTED_RESOURCES.flatMap((r) => USAGE_COLUMNS[r].map((c) => `u.${c} AS ${c}`)).join(', ');
const TYPE_SELECT = TYPE_RESOURCES.flatMap((r) => USAGE_COLUMNS[r].map((c) => `t.${c} AS type_${c}`)).join(', ');

/** The project's limits and its counters (one row, nulls where the project has none yet). */
const CLAIM_READ = statementOf(
  () =>
    `SELECT p.quota_limits AS limits, ${USAGE_SELECT}, ${TYPE_SELECT} FROM (SELECT CAST(? AS TEXT) AS pid) x ` +
    'LEFT JOIN project p ON p.id = x.pid LEFT JOIN quota_usage u ON u.project_id = x.pid ' +
    'LEFT JOIN quota_type_usage t ON t.project_id = x.pid AND t.volume_type = ?',
);

/**
 * Checks a claim in the caller's transaction, after the claim's rows were written (so the
 * triggers have counted them). One query reads the project's limits and its counters (it
 * runs with every create, so it skips the ORM, and is prepared once per connection).
 * @throws QuotaExceededError naming the first limit it goes over; the caller's transaction then rolls back.
 */
export async function enforceClaim(tx: EntityManager, defaults: QuotaLimits, claim: QuotaClaim): Promise<void> {
  const [row] = await queryPrepared(knexOf(tx), dialectOf(tx), CLAIM_READ, [claim.projectId, claim.volumeType?.name ?? '']);
  const stored = row?.limits;
  const limits = effectiveLimits(defaults, (typeof stored === 'string' ? JSON.parse(stored) : (stored ?? null)) as QuotaOverrides | null);
  if (!claimIsLimited(claim, limits)) return;
  const num = (k: string) => Number(row?.[k] ?? 0);
  const held = (key: string): Held => {
    const { resource, volumeType } = splitKey(key);
    const [inUse, reserved] = USAGE_COLUMNS[resource].map((c) => (volumeType === null ? c : `type_${c}`));
    return { inUse: num(inUse!), reserved: num(reserved!) };
  };
  const excess = exceededBy(claim, limits, held);
  if (excess) throw new QuotaExceededError(claim.projectId, excess);
}

/** The size of a project's largest volume that is not deleted (what a `perVolumeGigabytes` limit must not go under). */
export async function largestVolumeGiB(em: EntityManager, projectId: string): Promise<number> {
  const [row] = await em.find(Volume, { projectId, status: { $ne: 'deleted' } }, { fields: ['sizeGiB'], orderBy: { sizeGiB: 'desc' }, limit: 1, disableIdentityMap: true });
  return row?.sizeGiB ?? 0;
}

/** Stores a project's overrides (null: back to the defaults). */
export async function storeOverrides(tx: EntityManager, projectId: string, overrides: QuotaOverrides | null): Promise<void> {
  const n = await tx.nativeUpdate(Project, { id: projectId }, { quotaLimits: overrides });
  if (n !== 1) throw new NotFoundError('Project', projectId);
}

/**
 * Sets a project's counters to what its rows say, in the caller's transaction, and returns
 * what they were and what they are.
 */
export async function recountUsage(tx: EntityManager, projectId: string): Promise<{ before: Holdings; after: Holdings }> {
  // Lock the project's counters first: every trigger takes this row before any other, so no count moves under the recount.
  const run = (sql: string, params: string[]) => tx.getConnection().execute(sql, params, 'run', tx.getTransactionContext());
  await run('UPDATE quota_usage SET volumes = volumes WHERE project_id = ?', [projectId]);
  const before = await holdingsOfProject(tx, projectId);
  for (const s of recountStatements(projectId)) await run(s.sql, s.params);
  const after = await holdingsOfProject(tx, projectId);
  return { before, after };
}
