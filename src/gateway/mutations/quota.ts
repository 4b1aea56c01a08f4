/**
 * Quota sets (issue 12): a project's limits with what it holds against them; admins change
 * the limits (`updateQuotaSet`, refused below what is held unless forced) and recount the
 * counters from the tables (`syncQuotaUsage`), both audited in the same transaction. The
 * check itself is in every mutation's transaction (the kernel's `quota` step).
 */
import type { EntityManager } from '@mikro-orm/knex';
import { addAudit, holdingsOfProject, largestVolumeGiB, Project, recountUsage, storeOverrides, type Holdings, type Principal, type StatusAudit } from '../../db/index.js';
import { canSee, InvalidStateError, NotFoundError, requireAdmin, requirePrincipal, type Problems } from '../../domain/index.js';
import {
  applyLimitChanges,
  COUNTED_RESOURCES,
  describeLimitChanges,
  effectiveLimits,
  limitProblems,
  limitsBelowUse,
  NOTHING_HELD,
  PROJECT_LIMITS,
  splitKey,
  typeKey,
  typeLimit,
  TYPE_RESOURCES,
  type Held,
  type QuotaLimits,
} from '../../domain/quotas.js';
import { checkReason } from '../../domain/admin-rules.js';
import type { QuotaCorrection, QuotaLine, QuotaSetView, QuotasPort, UpdateQuotaSetRequest } from '../../resolvers/ports/quotas.js';
import type { GatewayDeps } from '../deps.js';
import { runMutation } from './kernel.js';

export class QuotaMutations implements QuotasPort {
  constructor(private readonly deps: GatewayDeps) {}

  async quotaSet(principal: Principal | null, projectId?: string | null): Promise<QuotaSetView> {
    const p = requirePrincipal(principal);
    const id = projectId ?? p.projectId;
    // Another project's quota is as invisible as its volumes.
    if (!canSee(p, id)) throw new NotFoundError('Project', id);
    return quotaSetOf(this.deps.db.fork(), this.deps.config.quotaDefaults, id);
  }

  updateQuotaSet(principal: Principal | null, input: UpdateQuotaSetRequest): Promise<{ quotaSet: QuotaSetView; audit: StatusAudit }> {
    const defaults = this.deps.config.quotaDefaults;
    const limits = Object.fromEntries(PROJECT_LIMITS.filter((r) => input[r] !== undefined).map((r) => [r, input[r]]));
    const volumeTypes = input.volumeTypes ?? [];
    let audit: StatusAudit;
    return runMutation<{ project: Project }, { quotaSet: QuotaSetView; changes: string[] }, { quotaSet: QuotaSetView; audit: StatusAudit }>(this.deps, principal, {
      resourceType: 'quota set',
      authorize: (p) => requireAdmin(p, 'Changing quota limits'),
      validate: (problems) => {
        if (!input.projectId) problems.add('projectId is required: the id of the project (viewer.projectId, or a token\'s projectId)');
        for (const m of limitProblems('', limits)) problems.add(m);
        for (const [i, t] of volumeTypes.entries()) {
          if (!t.volumeType?.trim()) problems.add(`volumeTypes[${i}].volumeType is required: a volume type's name`);
          for (const m of limitProblems(`volumeTypes[${i}].`, { volumes: t.volumes, gigabytes: t.gigabytes })) problems.add(m);
        }
        if (Object.keys(limits).length === 0 && volumeTypes.length === 0) problems.add('give at least one limit to change (a number, -1 for no limit, or null for the default)');
        reasonProblems(problems, input.reason);
      },
      load: async (em) => ({ project: await mustFindProject(em, input.projectId) }),
      transition: async (tx, { project }) => {
        const before = effectiveLimits(defaults, project.quotaLimits);
        const overrides = applyLimitChanges(project.quotaLimits, { limits, volumeTypes });
        const after = effectiveLimits(defaults, overrides);
        if (!input.force) {
          const held = await holdingsOfProject(tx, project.id);
          const below = limitsBelowUse(before, after, (k) => held.get(k) ?? NOTHING_HELD, await largestVolumeGiB(tx, project.id));
          if (below.length > 0) {
            throw new InvalidStateError(`Limits below what project ${project.id} holds: ${below.join('; ')}. Free some first, or pass force: true to set them anyway (new creates are then refused until usage drops).`, {
              problems: below,
            });
          }
        }
        await storeOverrides(tx, project.id, overrides);
        return { quotaSet: await quotaSetOf(tx, defaults, project.id), changes: describeLimitChanges(before, after) };
      },
      alsoRecord: (tx, changed, { project }, p) => {
        const what = changed.changes.length > 0 ? changed.changes.join(', ') : 'no limit changed';
        audit = addAudit(tx, quotaAudit(project.id, 'update_quota_set', `${what}${input.force ? ' (forced)' : ''}`, input.reason, p));
        return changed;
      },
      announce: (deps, { changes }, { project }) => deps.log.info({ projectId: project.id, changes, force: !!input.force }, 'quota limits changed'),
      result: ({ quotaSet }) => ({ quotaSet, audit }),
    });
  }

  syncQuotaUsage(principal: Principal | null, input: { projectId: string; reason?: string | null }): Promise<{ quotaSet: QuotaSetView; corrections: QuotaCorrection[]; audit: StatusAudit }> {
    let audit: StatusAudit;
    return runMutation<{ project: Project }, { quotaSet: QuotaSetView; corrections: QuotaCorrection[] }, { quotaSet: QuotaSetView; corrections: QuotaCorrection[]; audit: StatusAudit }>(this.deps, principal, {
      resourceType: 'quota set',
      authorize: (p) => requireAdmin(p, 'Recounting quota usage'),
      validate: (problems) => {
        if (!input.projectId) problems.add('projectId is required: the id of the project to recount');
        reasonProblems(problems, input.reason);
      },
      load: async (em) => ({ project: await mustFindProject(em, input.projectId) }),
      transition: async (tx, { project }) => {
        const { before, after } = await recountUsage(tx, project.id);
        return { quotaSet: await quotaSetOf(tx, this.deps.config.quotaDefaults, project.id), corrections: corrections(before, after) };
      },
      alsoRecord: (tx, changed, { project }, p) => {
        const what = changed.corrections.length === 0 ? 'counters matched the tables' : changed.corrections.map(describeCorrection).join(', ');
        audit = addAudit(tx, quotaAudit(project.id, 'sync_quota_usage', what, input.reason, p));
        return changed;
      },
      announce: (deps, { corrections }, { project }) => {
        if (corrections.length > 0) deps.log.warn({ projectId: project.id, corrections }, 'quota usage recounted: the counters had drifted');
        else deps.log.info({ projectId: project.id }, 'quota usage recounted: no drift');
      },
      result: (changed) => ({ ...changed, audit }),
    });
  }
}

/** A project's limits and holdings, read with `em` (inside a transaction: as it sees them). */
export async function quotaSetOf(em: EntityManager, defaults: QuotaLimits, projectId: string): Promise<QuotaSetView> {
  const project = await mustFindProject(em, projectId);
  const limits = effectiveLimits(defaults, project.quotaLimits);
  const held = await holdingsOfProject(em, projectId);
  const line = (limit: number, h: Held | undefined): QuotaLine => ({ limit, inUse: h?.inUse ?? 0, reserved: h?.reserved ?? 0 });
  const lines = Object.fromEntries(COUNTED_RESOURCES.map((r) => [r, line(limits[r], held.get(r))])) as QuotaSetView['lines'];
  lines.perVolumeGigabytes = line(limits.perVolumeGigabytes, { inUse: await largestVolumeGiB(em, projectId), reserved: 0 });
  const typesHeld = [...held.entries()].filter(([, h]) => h.inUse !== 0 || h.reserved !== 0).flatMap(([k]) => splitKey(k).volumeType ?? []);
  const types = [...new Set([...Object.keys(limits.volumeTypes), ...typesHeld])].sort();
  return {
    projectId,
    projectName: project.name,
    lines,
    volumeTypes: types.map((t) => ({
      volumeType: t,
      ...(Object.fromEntries(TYPE_RESOURCES.map((r) => [r, line(typeLimit(limits, t, r), held.get(typeKey(r, t)))])) as Record<(typeof TYPE_RESOURCES)[number], QuotaLine>),
    })),
    usesDefaults: project.quotaLimits === null,
  };
}

async function mustFindProject(em: EntityManager, id: string): Promise<Project> {
  const project = await em.findOne(Project, { id }, { disableIdentityMap: true });
  if (!project) throw new NotFoundError('Project', id);
  return project;
}

/** A reason is optional here, but when given it follows the audit's rules. */
function reasonProblems(problems: Problems, reason: string | null | undefined): void {
  if (reason !== undefined && reason !== null) checkReason(problems, reason);
}

function quotaAudit(projectId: string, action: 'update_quota_set' | 'sync_quota_usage', what: string, reason: string | null | undefined, actor: Principal) {
  return { resourceType: 'quota_set' as const, resourceId: projectId, projectId, action, fromStatus: '-', toStatus: '-', reason: reason ? `${reason}: ${what}` : what, actor };
}

/** The counters a recount changed. */
function corrections(before: Holdings, after: Holdings): QuotaCorrection[] {
  const out: QuotaCorrection[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(key) ?? NOTHING_HELD;
    const a = after.get(key) ?? NOTHING_HELD;
    if (a.inUse === b.inUse && a.reserved === b.reserved) continue;
    const { resource, volumeType } = splitKey(key);
    out.push({ resource, volumeType, inUseBefore: b.inUse, inUseAfter: a.inUse, reservedBefore: b.reserved, reservedAfter: a.reserved });
  }
  return out.sort((x, y) => `${x.resource}@${x.volumeType ?? ''}`.localeCompare(`${y.resource}@${y.volumeType ?? ''}`));
}

function describeCorrection(c: QuotaCorrection): string {
  const key = c.volumeType ? `${c.resource}@${c.volumeType}` : c.resource;
  return `${key} in use ${c.inUseBefore} → ${c.inUseAfter}, reserved ${c.reservedBefore} → ${c.reservedAfter}`;
}
