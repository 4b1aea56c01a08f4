/**
 * Runs a plan through a provider in the order its resources depend on each other: first what
 * goes (attachments, then snapshots, then volumes: a volume cannot go while it is attached or
 * has snapshots), then what is made or changed (volumes, then their snapshots, then the
 * policies' backups, then attachments), and last the backups a policy no longer keeps. A replacement is
 * a delete in the first half and a create in the second. A failure is reported and what does
 * not depend on it still runs; what does is skipped, and says why. Knows no SDK: tests drive
 * it with a fake provider.
 */
import { address, type ActualAttachment, type ActualBackup, type ActualSnapshot, type ActualVolume, type Change, type DesiredAttachment, type DesiredBackup, type DesiredSnapshot, type DesiredVolume, type FieldChange, type Kind, type Plan } from './plan-types.js';

/** What the apply needs of a provider for one kind of resource. */
export interface KindOps<A, D> {
  /** Makes `desired`; `volumeId` is the id of the volume it hangs on (null for a volume). */
  create(stack: string, desired: D, volumeId: string | null): Promise<{ id: string }>;
  update(resource: string, actual: A, fields: readonly FieldChange[]): Promise<{ id: string }>;
  delete(resource: string, actual: A): Promise<void>;
}

/** What the apply needs of a provider (./stack-provider.ts). */
export interface StackOps {
  volume: KindOps<ActualVolume, DesiredVolume>;
  snapshot: KindOps<ActualSnapshot, DesiredSnapshot>;
  attachment: KindOps<ActualAttachment, DesiredAttachment>;
  backup: KindOps<ActualBackup, DesiredBackup>;
}

/** The outcome of one change. */
export interface ChangeResult {
  kind: Kind;
  resource: string;
  action: Change['action'];
  /** The resource's id once done (null for a delete, or when the change failed before one existed). */
  id: string | null;
  /** SKIPPED when something it depends on failed. */
  error: { code: string; message: string } | null;
}

type Half = 'delete' | 'make';

/** When each half of each kind runs (lower first). */
const PHASE: Record<Half, Record<Kind, number>> = {
  delete: { attachment: 0, snapshot: 1, volume: 2, backup: 7 },
  // Backups before attachments: a volume an attachment is exporting (ATTACHING) cannot be backed up.
  make: { volume: 3, snapshot: 4, backup: 5, attachment: 6 },
};

interface Step {
  change: Change;
  index: number;
  half: Half;
}

function stepsOf(plan: Plan): Step[] {
  const steps = plan.changes.flatMap((change, index): Step[] => {
    switch (change.action) {
      case 'replace':
        return [{ change, index, half: 'delete' }, { change, index, half: 'make' }];
      case 'delete':
        return [{ change, index, half: 'delete' }];
      default:
        return [{ change, index, half: 'make' }];
    }
  });
  return steps.sort((a, b) => PHASE[a.half][a.change.kind] - PHASE[b.half][b.change.kind] || a.index - b.index);
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}

/** The stack resource (a volume's name) a change hangs on, or null for a volume. */
function volumeOf(c: Change): string | null {
  if (c.kind === 'volume') return null;
  return c.action === 'delete' ? null : c.desired.volume;
}

/** The words of each step, at its start and its end. */
function words(s: Step): [string, string] {
  const replacing = s.change.action === 'replace';
  if (s.half === 'delete') return replacing ? ['Replacing: destroying...', 'Destroyed, for its replacement'] : ['Destroying...', 'Destruction complete'];
  if (replacing) return ['Replacing: creating...', 'Replacement complete'];
  return s.change.action === 'update' ? ['Modifying...', 'Modifications complete'] : ['Creating...', 'Creation complete'];
}

/**
 * Applies `plan` (which must have no errors) with `ops`, reporting each step's start and end
 * on `report`; returns one result per change, in the plan's order.
 */
export async function applyPlan(plan: Plan, ops: StackOps, report: (line: string) => void, now: () => number = Date.now): Promise<ChangeResult[]> {
  if (plan.errors.length) throw new Error(`the plan has errors; nothing was applied:\n${plan.errors.join('\n')}`);
  const results: ChangeResult[] = plan.changes.map((c) => ({ kind: c.kind, resource: c.resource, action: c.action, id: 'actual' in c ? c.actual.id : null, error: null }));
  const volumeIds = new Map(Object.entries(plan.volumeIds));
  const failedVolumes = new Set<string>();
  /** Ids of volumes whose snapshot or attachment could not be removed: they cannot go. */
  const heldVolumes = new Set<string>();
  const failedBackupPolicies = new Set<string>();

  const blocker = (s: Step): string | null => {
    const c = s.change;
    if (results[s.index]!.error) return 'the one it replaces could not be destroyed';
    const volume = volumeOf(c);
    if (s.half === 'make' && volume !== null && (failedVolumes.has(volume) || !volumeIds.has(volume))) return `volume.${volume} failed`;
    if (c.kind === 'volume' && 'actual' in c && s.half === 'delete' && heldVolumes.has(c.actual.id)) return 'a snapshot or attachment of it could not be removed';
    if (c.kind === 'backup' && c.action === 'delete' && failedBackupPolicies.has(c.resource)) return `the new backup.${c.resource} failed, so the policy keeps the old ones`;
    return null;
  };

  const run = async (s: Step): Promise<string | null> => {
    const c = s.change;
    const kindOps = ops[c.kind] as KindOps<unknown, unknown>;
    if (s.half === 'delete') {
      await kindOps.delete(c.resource, (c as { actual: unknown }).actual);
      return null;
    }
    if (c.action === 'update') return (await kindOps.update(c.resource, c.actual, c.fields)).id;
    const volume = volumeOf(c);
    return (await kindOps.create(plan.stack, (c as { desired: unknown }).desired, volume === null ? null : volumeIds.get(volume)!)).id;
  };

  for (const s of stepsOf(plan)) {
    const c = s.change;
    const result = results[s.index]!;
    const [start, done] = words(s);
    const fail = (error: { code: string; message: string }) => {
      result.error = error;
      if (c.kind === 'volume') failedVolumes.add(c.resource);
      if ((c.kind === 'snapshot' || c.kind === 'attachment') && 'actual' in c && s.half === 'delete') heldVolumes.add(c.actual.volumeId);
      if (c.kind === 'backup' && c.action === 'create') failedBackupPolicies.add(c.resource);
    };
    const skipped = blocker(s);
    if (skipped) {
      if (!result.error) report(`${address(c)}: Skipped: ${skipped}`);
      fail(result.error ?? { code: 'SKIPPED', message: `not attempted: ${skipped}` });
      continue;
    }
    report(`${address(c)}: ${start}`);
    const began = now();
    try {
      const id = await run(s);
      result.id = id;
      if (c.kind === 'volume' && id) volumeIds.set(c.resource, id);
      report(`${address(c)}: ${done} after ${Math.round((now() - began) / 1000)}s${id ? ` [id=${id}]` : ''}`);
    } catch (err) {
      const error = { code: codeOf(err), message: err instanceof Error ? err.message : String(err) };
      report(`${address(c)}: Error: ${error.message} (${error.code})`);
      fail(error);
    }
  }
  return results;
}

/** Terraform's closing line: `Apply complete! Resources: 1 created, 0 updated, 0 replaced, 0 deleted.` (or how many failed). */
export function applySummary(results: readonly ChangeResult[]): string {
  const ok = results.filter((r) => !r.error);
  const n = (a: Change['action']) => ok.filter((r) => r.action === a).length;
  const counts = `${n('create')} created, ${n('update')} updated, ${n('replace')} replaced, ${n('delete')} deleted`;
  const failed = results.length - ok.length;
  const skipped = results.filter((r) => r.error?.code === 'SKIPPED').length;
  const of = `${failed} of ${results.length} change${results.length === 1 ? '' : 's'} failed${skipped ? ` (${skipped} skipped)` : ''}`;
  return failed ? `Apply failed: ${of}. Resources: ${counts}.` : `Apply complete! Resources: ${counts}.`;
}
