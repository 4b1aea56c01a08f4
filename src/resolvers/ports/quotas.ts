/** What the quota resolvers need from the gateway (src/gateway/mutations/quota.ts implements it). */
import type { Principal, StatusAudit } from '../../db/index.js';
import type { Held, ProjectLimit, TypeResource } from '../../domain/quotas.js';

/** One limit with what is held against it. */
export interface QuotaLine extends Held {
  /** -1: no limit. */
  limit: number;
}

/** A project's limits and usage. */
export interface QuotaSetView {
  projectId: string;
  projectName: string;
  lines: Record<ProjectLimit, QuotaLine>;
  /** Types with a limit of their own or with something held in them, by name. */
  volumeTypes: Array<{ volumeType: string } & Record<TypeResource, QuotaLine>>;
  /** Whether the project uses only the defaults (no overrides stored). */
  usesDefaults: boolean;
}

/** New limits: a number sets one, null puts the default back, absent leaves it. */
export type LimitChanges = Partial<Record<ProjectLimit, number | null>>;

export interface UpdateQuotaSetRequest extends LimitChanges {
  projectId: string;
  volumeTypes?: Array<{ volumeType: string; volumes?: number | null; gigabytes?: number | null }> | null;
  /** Set limits below what the project holds now. */
  force?: boolean | null;
  reason?: string | null;
}

/** One counter a recount changed. */
export interface QuotaCorrection {
  resource: string;
  volumeType: string | null;
  inUseBefore: number;
  inUseAfter: number;
  reservedBefore: number;
  reservedAfter: number;
}

export interface QuotasPort {
  /** A project's quota set: members read their own project's, admins any (NOT_FOUND otherwise). */
  quotaSet(p: Principal | null, projectId?: string | null): Promise<QuotaSetView>;
  updateQuotaSet(p: Principal | null, input: UpdateQuotaSetRequest): Promise<{ quotaSet: QuotaSetView; audit: StatusAudit }>;
  syncQuotaUsage(p: Principal | null, input: { projectId: string; reason?: string | null }): Promise<{ quotaSet: QuotaSetView; corrections: QuotaCorrection[]; audit: StatusAudit }>;
}
