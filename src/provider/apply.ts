/**
 * Runs a plan through a provider, one change at a time in the plan's order: a failure is
 * reported and the next change still runs (they are independent volumes); a replacement
 * deletes the old volume before it creates the new one (their labels would otherwise claim
 * one resource twice). Knows no SDK: tests drive it with a fake provider.
 */
import type { ActualVolume, Change, DesiredVolume, FieldChange, Plan } from './plan.js';

/** What the apply needs of a provider (./volume-provider.ts). */
export interface VolumeOps {
  create(stack: string, desired: DesiredVolume): Promise<ActualVolume>;
  update(resource: string, actual: ActualVolume, fields: readonly FieldChange[]): Promise<ActualVolume>;
  delete(resource: string, actual: ActualVolume): Promise<void>;
}

/** The outcome of one change. */
export interface ChangeResult {
  resource: string;
  action: Change['action'];
  /** The volume's id once done (null for a delete, or when the change failed before one existed). */
  id: string | null;
  error: { code: string; message: string } | null;
}

const DOING: Record<Change['action'], [string, string]> = {
  create: ['Creating...', 'Creation complete'],
  update: ['Modifying...', 'Modifications complete'],
  replace: ['Replacing...', 'Replacement complete'],
  delete: ['Deleting...', 'Deletion complete'],
};

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}

async function run(stack: string, c: Change, ops: VolumeOps): Promise<string | null> {
  switch (c.action) {
    case 'create':
      return (await ops.create(stack, c.desired)).id;
    case 'update':
      return (await ops.update(c.resource, c.actual, c.fields)).id;
    case 'replace':
      await ops.delete(c.resource, c.actual);
      return (await ops.create(stack, c.desired)).id;
    case 'delete':
      await ops.delete(c.resource, c.actual);
      return null;
  }
}

/**
 * Applies `plan` (which must have no errors) with `ops`, reporting each change's start and
 * end on `report`; returns one result per change.
 */
export async function applyPlan(plan: Plan, ops: VolumeOps, report: (line: string) => void, now: () => number = Date.now): Promise<ChangeResult[]> {
  if (plan.errors.length) throw new Error(`the plan has errors; nothing was applied:\n${plan.errors.join('\n')}`);
  const results: ChangeResult[] = [];
  for (const c of plan.changes) {
    const [start, done] = DOING[c.action];
    report(`volume.${c.resource}: ${start}`);
    const began = now();
    try {
      const id = await run(plan.stack, c, ops);
      report(`volume.${c.resource}: ${done} after ${Math.round((now() - began) / 1000)}s${id ? ` [id=${id}]` : ''}`);
      results.push({ resource: c.resource, action: c.action, id, error: null });
    } catch (err) {
      const error = { code: codeOf(err), message: err instanceof Error ? err.message : String(err) };
      report(`volume.${c.resource}: Error: ${error.message} (${error.code})`);
      results.push({ resource: c.resource, action: c.action, id: c.action === 'create' ? null : c.actual.id, error });
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
  return failed ? `Apply failed: ${failed} of ${results.length} change${results.length === 1 ? '' : 's'} failed. Resources: ${counts}.` : `Apply complete! Resources: ${counts}.`;
}
