/**
 * Quotas (issue 12): what a project may hold, and how a resource row is charged to its
 * project. Pure: the database keeps the counters with triggers generated from the charge
 * rules below (src/db/quota-sql.ts), recounts them from the same rules (`syncQuotaUsage`),
 * and the gateway checks a mutation's claim against the limits (`exceededBy`).
 *
 * A resource is either IN USE or RESERVED: reserved while the work that creates it (or
 * grows it) is under way, in use from its outcome on, until it is DELETED. A failed create
 * leaves an ERROR row the user must delete; like Cinder, that row still counts.
 */
import { FlintError } from './errors.js';

/** The limits of a project that count something, by name (GraphQL's and the CLI's). */
export const COUNTED_RESOURCES = ['volumes', 'gigabytes', 'snapshots', 'backups', 'backupGigabytes'] as const;
export type CountedResource = (typeof COUNTED_RESOURCES)[number];
/** What a volume type's own limits count (Cinder's `volumes_<type>`, `gigabytes_<type>`). */
export const TYPE_RESOURCES = ['volumes', 'gigabytes'] as const;
export type TypeResource = (typeof TYPE_RESOURCES)[number];
/** Every project-wide limit: the counted ones, and the largest size of one volume. */
export const PROJECT_LIMITS = [...COUNTED_RESOURCES, 'perVolumeGigabytes'] as const;
export type ProjectLimit = (typeof PROJECT_LIMITS)[number];

/** -1: no limit. */
export const UNLIMITED = -1;

/** A project's limits; `volumeTypes` has the types that have limits of their own. */
export interface QuotaLimits {
  readonly volumes: number;
  readonly gigabytes: number;
  readonly snapshots: number;
  readonly backups: number;
  readonly backupGigabytes: number;
  readonly perVolumeGigabytes: number;
  readonly volumeTypes: Readonly<Record<string, Partial<Record<TypeResource, number>>>>;
}

/** Cinder's defaults (`quota_volumes` 10, `quota_gigabytes` 1000, …); FLINT_QUOTA_DEFAULTS overrides them. */
export const DEFAULT_QUOTA_LIMITS: QuotaLimits = {
  volumes: 10,
  gigabytes: 1000,
  snapshots: 10,
  backups: 10,
  backupGigabytes: 1000,
  perVolumeGigabytes: UNLIMITED,
  volumeTypes: {},
};

/** A project's overrides of the defaults, as stored (`project.quota_limits`); absent keys take the default. */
export type QuotaOverrides = Partial<Omit<QuotaLimits, 'volumeTypes'>> & { volumeTypes?: Record<string, Partial<Record<TypeResource, number>>> };

/** The limits that apply: the defaults, then the project's overrides (per type, per resource). */
export function effectiveLimits(defaults: QuotaLimits, overrides: QuotaOverrides | null | undefined): QuotaLimits {
  if (!overrides) return defaults;
  const volumeTypes: Record<string, Partial<Record<TypeResource, number>>> = { ...defaults.volumeTypes };
  for (const [type, limits] of Object.entries(overrides.volumeTypes ?? {})) volumeTypes[type] = { ...volumeTypes[type], ...limits };
  const merged = { ...defaults, ...overrides, volumeTypes };
  return merged;
}

/** The limit of a type's resource: its own, else none. */
export function typeLimit(limits: QuotaLimits, type: string, resource: TypeResource): number {
  return limits.volumeTypes[type]?.[resource] ?? UNLIMITED;
}

/** Problems with limits given by an admin or the configuration (each an integer ≥ -1). */
export function limitProblems(where: string, values: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [name, v] of Object.entries(values)) {
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < UNLIMITED) problems.push(`${where}${name} must be an integer, -1 (no limit) or more, got ${JSON.stringify(v)}`);
  }
  return problems;
}

// ---- Charges: what one row counts, by its state -------------------------------------------------

/** In use and reserved amounts of one counter. */
export interface Held {
  inUse: number;
  reserved: number;
}

/** Volume states in which the volume is reserved (its create is under way). Every other state but DELETED is in use. */
export const VOLUME_RESERVED_STATUSES = ['creating'] as const;
/** The state in which a volume also reserves the growth it asked for (`pending_size_gib − size_gib`). */
export const VOLUME_GROWING_STATUS = 'extending';
/** The state in which a volume also reserves its place in the type it is becoming (`pending_volume_type`). */
export const VOLUME_RETYPING_STATUS = 'retyping';
/** Snapshot and backup states in which they are reserved; every other state but DELETED is in use. */
export const CHILD_RESERVED_STATUSES = ['creating'] as const;
/** The state that charges nothing. */
export const RELEASED_STATUS = 'deleted';

/** The columns of a volume that its charge depends on. */
export interface VolumeChargeRow {
  projectId: string;
  status: string;
  sizeGiB: number;
  volumeType: string | null;
  pendingSizeGiB: number | null;
  pendingVolumeType: string | null;
}

/** What one counted row holds, keyed `resource` or `resource@type`. */
export type Charges = Map<string, Held>;

function add(c: Charges, key: string, inUse: number, reserved: number): void {
  const h = c.get(key) ?? { inUse: 0, reserved: 0 };
  h.inUse += inUse;
  h.reserved += reserved;
  c.set(key, h);
}

/** What a project holds of a resource it has never used. */
export const NOTHING_HELD: Readonly<Held> = { inUse: 0, reserved: 0 };

/** The counter key of a type's resource. */
export function typeKey(resource: TypeResource, type: string): string {
  return `${resource}@${type}`;
}

/** A counter key taken apart: `gigabytes` → (gigabytes, null), `gigabytes@gold` → (gigabytes, gold). */
export function splitKey(key: string): { resource: CountedResource; volumeType: string | null } {
  const at = key.indexOf('@');
  return at < 0 ? { resource: key as CountedResource, volumeType: null } : { resource: key.slice(0, at) as CountedResource, volumeType: key.slice(at + 1) };
}

/** Adds what a volume holds: in the project, in its type, and in the type it is becoming. */
export function chargeVolume(c: Charges, v: VolumeChargeRow): void {
  if (v.status === RELEASED_STATUS) return;
  const reserved = (VOLUME_RESERVED_STATUSES as readonly string[]).includes(v.status);
  const count = reserved ? [0, 1] : [1, 0];
  const size = reserved ? [0, v.sizeGiB] : [v.sizeGiB, 0];
  const growth = v.status === VOLUME_GROWING_STATUS && v.pendingSizeGiB !== null && v.pendingSizeGiB > v.sizeGiB ? v.pendingSizeGiB - v.sizeGiB : 0;
  add(c, 'volumes', count[0]!, count[1]!);
  add(c, 'gigabytes', size[0]!, size[1]! + growth);
  if (v.volumeType !== null) {
    add(c, typeKey('volumes', v.volumeType), count[0]!, count[1]!);
    add(c, typeKey('gigabytes', v.volumeType), size[0]!, size[1]! + growth);
  }
  if (v.status === VOLUME_RETYPING_STATUS && v.pendingVolumeType !== null && v.pendingVolumeType !== v.volumeType) {
    add(c, typeKey('volumes', v.pendingVolumeType), 0, 1);
    add(c, typeKey('gigabytes', v.pendingVolumeType), 0, v.sizeGiB);
  }
}

/** Adds what a snapshot (`snapshots`, and its size in `gigabytes`, as Cinder counts it) or a backup holds. */
export function chargeChild(c: Charges, kind: 'snapshot' | 'backup', row: { status: string; sizeGiB: number }): void {
  if (row.status === RELEASED_STATUS) return;
  const reserved = (CHILD_RESERVED_STATUSES as readonly string[]).includes(row.status);
  const [count, size] = kind === 'snapshot' ? ['snapshots', 'gigabytes'] : ['backups', 'backupGigabytes'];
  add(c, count, reserved ? 0 : 1, reserved ? 1 : 0);
  add(c, size, reserved ? 0 : row.sizeGiB, reserved ? row.sizeGiB : 0);
}

// ---- Claims: what a mutation asks for, checked after its rows are written -----------------------

/** What a mutation adds to a project (amounts > 0 are checked), and the size of the one volume it makes or grows. */
export interface QuotaClaim {
  projectId: string;
  volumes?: number;
  gigabytes?: number;
  snapshots?: number;
  backups?: number;
  backupGigabytes?: number;
  /** What it adds to one volume type's own limits (a create of that type, a retype into it). */
  volumeType?: ({ name: string } & Partial<Record<TypeResource, number>>) | null;
  /** The size one volume will have (create, extend, manage, accept): checked against `perVolumeGigabytes`. */
  volumeSizeGiB?: number;
  /** Where the claimed amounts are counted now: RESERVED (work under way, the default) or IN USE (an accepted transfer). */
  heldAs?: keyof Held;
}

/** What went over: the resource, the amount asked for, what was held before (in use, reserved), and the limit. */
export interface Excess {
  resource: ProjectLimit;
  volumeType: string | null;
  requested: number;
  inUse: number;
  reserved: number;
  limit: number;
}

/**
 * The first limit the claim goes over, or null. `held` is what the project holds with the
 * claim's rows already written (the counters as the transaction sees them), so the amount
 * held before is `held − requested`, and the claim fits when `held ≤ limit`.
 */
export function exceededBy(claim: QuotaClaim, limits: QuotaLimits, held: (key: string) => Held): Excess | null {
  if (claim.volumeSizeGiB !== undefined && limits.perVolumeGigabytes !== UNLIMITED && claim.volumeSizeGiB > limits.perVolumeGigabytes) {
    return { resource: 'perVolumeGigabytes', volumeType: null, requested: claim.volumeSizeGiB, inUse: 0, reserved: 0, limit: limits.perVolumeGigabytes };
  }
  for (const resource of COUNTED_RESOURCES) {
    const requested = claim[resource] ?? 0;
    if (requested > 0) {
      const over = overLimit(claim, resource, null, requested, limits[resource], held(resource));
      if (over) return over;
    }
  }
  const type = claim.volumeType;
  if (type) {
    for (const resource of TYPE_RESOURCES) {
      const requested = type[resource] ?? 0;
      if (requested > 0) {
        const over = overLimit(claim, resource, type.name, requested, typeLimit(limits, type.name, resource), held(typeKey(resource, type.name)));
        if (over) return over;
      }
    }
  }
  return null;
}

function overLimit(claim: QuotaClaim, resource: ProjectLimit, volumeType: string | null, requested: number, limit: number, now: Held): Excess | null {
  if (limit === UNLIMITED || now.inUse + now.reserved <= limit) return null;
  // The claim's own rows are in `now`: what was held before is without them.
  const before = { ...now };
  const as = claim.heldAs ?? 'reserved';
  before[as] = Math.max(0, before[as] - requested);
  return { resource, volumeType, requested, inUse: before.inUse, reserved: before.reserved, limit };
}

/** Whether a limit matters at all (limits of -1 need no counters read). */
export function claimIsLimited(claim: QuotaClaim, limits: QuotaLimits): boolean {
  if (claim.volumeSizeGiB !== undefined && limits.perVolumeGigabytes !== UNLIMITED) return true;
  if (COUNTED_RESOURCES.some((r) => (claim[r] ?? 0) > 0 && limits[r] !== UNLIMITED)) return true;
  const type = claim.volumeType;
  return !!type && TYPE_RESOURCES.some((r) => (type[r] ?? 0) > 0 && typeLimit(limits, type.name, r) !== UNLIMITED);
}

/** How a resource is said in an error: `gigabytes`, or `gigabytes of volume type gold`. */
function resourceWords(e: Excess): string {
  return e.volumeType ? `${e.resource} of volume type ${e.volumeType}` : e.resource;
}

/** QUOTA_EXCEEDED: which resource, how much was asked, how much is held, the limit, and what to do. */
export class QuotaExceededError extends FlintError {
  constructor(projectId: string, e: Excess) {
    const message =
      e.resource === 'perVolumeGigabytes'
        ? `Quota exceeded: a volume of ${e.requested} GiB is larger than project ${projectId}'s perVolumeGigabytes limit of ${e.limit}. Ask for a smaller volume, or ask an admin to raise the limit (updateQuotaSet).`
        : `Quota exceeded for ${resourceWords(e)} in project ${projectId}: requested ${e.requested}, in use ${e.inUse}, reserved ${e.reserved}, limit ${e.limit}. ` +
          `Delete what the project no longer needs, or ask an admin to raise the limit (updateQuotaSet).`;
    super('QUOTA_EXCEEDED', message, { details: { projectId, resource: e.resource, volumeType: e.volumeType, requested: e.requested, inUse: e.inUse, reserved: e.reserved, limit: e.limit } });
  }
}

// ---- An admin's changes to a project's limits ---------------------------------------------------

/** A change of limits: a number sets one, null puts the default back, absent leaves it. */
export interface LimitChangeSet {
  limits: Partial<Record<ProjectLimit, number | null>>;
  volumeTypes: Array<{ volumeType: string } & Partial<Record<TypeResource, number | null>>>;
}

/** The overrides after a change; null when none is left (the project uses the defaults). */
export function applyLimitChanges(current: QuotaOverrides | null, change: LimitChangeSet): QuotaOverrides | null {
  const next: Record<string, unknown> = { ...current };
  const types: Record<string, Partial<Record<TypeResource, number>>> = {};
  for (const [t, l] of Object.entries(current?.volumeTypes ?? {})) types[t] = { ...l };
  for (const r of PROJECT_LIMITS) {
    const v = change.limits[r];
    if (v === null) delete next[r];
    else if (v !== undefined) next[r] = v;
  }
  for (const { volumeType, ...l } of change.volumeTypes) {
    const t = { ...types[volumeType] };
    for (const r of TYPE_RESOURCES) {
      const v = l[r];
      if (v === null) delete t[r];
      else if (v !== undefined) t[r] = v;
    }
    if (Object.keys(t).length === 0) delete types[volumeType];
    else types[volumeType] = t;
  }
  delete next.volumeTypes;
  if (Object.keys(types).length > 0) next.volumeTypes = types;
  return Object.keys(next).length === 0 ? null : (next as QuotaOverrides);
}

/** Every limit as `key` → value (`gigabytes`, `gigabytes@gold`), for comparing two sets of limits. */
function flatLimits(l: QuotaLimits): Map<string, number> {
  const m = new Map<string, number>(PROJECT_LIMITS.map((r) => [r, l[r]]));
  for (const [t, tl] of Object.entries(l.volumeTypes)) for (const r of TYPE_RESOURCES) m.set(typeKey(r, t), tl[r] ?? UNLIMITED);
  return m;
}

const show = (n: number) => (n === UNLIMITED ? 'unlimited' : String(n));

/** What changed, in words for the audit record: `gigabytes 1000 → 100`. */
export function describeLimitChanges(before: QuotaLimits, after: QuotaLimits): string[] {
  const a = flatLimits(after);
  const b = flatLimits(before);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return keys.filter((k) => (a.get(k) ?? UNLIMITED) !== (b.get(k) ?? UNLIMITED)).map((k) => `${k} ${show(b.get(k) ?? UNLIMITED)} → ${show(a.get(k) ?? UNLIMITED)}`);
}

/**
 * Limits set below what the project holds now (in use + reserved), each in words; a
 * `perVolumeGigabytes` below its largest volume too. Empty when every new limit fits.
 */
export function limitsBelowUse(before: QuotaLimits, after: QuotaLimits, held: (key: string) => Held, largestVolumeGiB: number): string[] {
  const a = flatLimits(after);
  const b = flatLimits(before);
  const out: string[] = [];
  for (const [key, limit] of a) {
    if (limit === UNLIMITED || limit === b.get(key)) continue;
    if (key === 'perVolumeGigabytes') {
      if (largestVolumeGiB > limit) out.push(`perVolumeGigabytes ${limit} is below the project's largest volume (${largestVolumeGiB} GiB)`);
      continue;
    }
    const h = held(key);
    if (h.inUse + h.reserved > limit) out.push(`${key} ${limit} is below what the project holds (${h.inUse} in use, ${h.reserved} reserved)`);
  }
  return out;
}
