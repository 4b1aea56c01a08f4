/**
 * The plan of a stack: what to create, update in place, replace and delete so Flint holds
 * what the stack file declares. Volumes are planned here; their snapshots and attachments
 * (./plan-dependents.ts) and backup policies (./plan-backups.ts) follow what happens to
 * their volume. Pure: the state read from Flint comes in as plain objects.
 */
import { rulesOf, VOLUME_MODEL } from '../domain/resources/index.js';
import { diffFields } from './diff.js';
import { labelsFor } from './labels.js';
import { byLabel, claimedTwice, type VolumeFates } from './plan-common.js';
import { planBackups } from './plan-backups.js';
import { planAttachments, planSnapshots } from './plan-dependents.js';
import type { ActualVolume, Change, DesiredVolume, Plan, StackState } from './plan-types.js';
import { STACK_VOLUME_FIELDS, type Stack } from './stack-schema.js';

const RULES = rulesOf(VOLUME_MODEL);

/** Each volume of `stack` as it should be: defaults filled in, the stack's labels added. */
export function desiredVolumes(stack: Stack): DesiredVolume[] {
  return Object.entries(stack.volumes).map(([resource, { backupPolicy: _policy, ...spec }]) => ({
    ...spec,
    resource,
    name: spec.name ?? `${stack.stack}-${resource}`,
    description: spec.description ?? null,
    metadata: { ...spec.metadata, ...labelsFor(stack.stack, resource) },
    sizeGiB: spec.sizeGiB,
  }));
}

/** How `actual` differs from `desired`, field by field, by each field's lifecycle. */
export function diffVolume(desired: DesiredVolume, actual: ActualVolume) {
  // retypeVolume takes a type's name: there is no way back to "no type".
  const refuse = (field: string, _from: unknown, to: unknown) => (to === null && RULES[field]?.mutation === 'retypeVolume' ? 'a volume cannot be retyped to no type; name one' : null);
  return diffFields(`volume.${desired.resource}`, RULES, STACK_VOLUME_FIELDS, desired, actual, refuse);
}

function planVolumes(stack: Stack, actual: readonly ActualVolume[], plan: Plan, prune: boolean): VolumeFates {
  const keptIds = new Map<string, string>();
  const leaving = new Map<string, { resource: string; replaced: boolean }>();
  const found = byLabel(stack.stack, actual);
  for (const [resource, vs] of found) if (vs.length > 1) plan.errors.push(claimedTwice('volume', resource, vs.map((v) => v.id)));
  for (const desired of desiredVolumes(stack)) {
    const resource = desired.resource;
    const vs = found.get(resource);
    if (!vs) {
      plan.changes.push({ kind: 'volume', action: 'create', resource, desired });
      continue;
    }
    if (vs.length > 1) continue;
    const current = vs[0]!;
    const { fields, reasons, errors } = diffVolume(desired, current);
    plan.errors.push(...errors);
    if (reasons.length) {
      plan.changes.push({ kind: 'volume', action: 'replace', resource, actual: current, desired, reasons });
      leaving.set(current.id, { resource, replaced: true });
      continue;
    }
    keptIds.set(resource, current.id);
    if (fields.length) plan.changes.push({ kind: 'volume', action: 'update', resource, actual: current, desired, fields });
    else if (!errors.length) plan.unchanged.push(`volume.${resource}`);
  }
  for (const [resource, vs] of found) {
    if (resource in stack.volumes) continue;
    for (const v of vs) {
      if (prune) {
        plan.changes.push({ kind: 'volume', action: 'delete', resource, actual: v, reasons: ['not in the stack file (--prune)'] });
        leaving.set(v.id, { resource, replaced: false });
      } else plan.kept.push({ kind: 'volume', resource, id: v.id });
    }
  }
  return { keptIds, leaving };
}

/**
 * The plan that makes `state` (what Flint holds of the stack: see {@link StackState}) into
 * what `stack` declares. Resources the file does not name are deleted with `prune`, else
 * listed in `kept`. `now` (ms) dates the backup policies.
 */
export function planStack(stack: Stack, state: Partial<StackState>, opts: { prune?: boolean; now?: number } = {}): Plan {
  const plan: Plan = { stack: stack.stack, changes: [], unchanged: [], kept: [], volumeIds: {}, errors: [] };
  const prune = opts.prune === true;
  const fates = planVolumes(stack, state.volumes ?? [], plan, prune);
  plan.volumeIds = Object.fromEntries(fates.keptIds);
  const more: Change[][] = [
    planSnapshots(stack, state.snapshots ?? [], fates, plan, prune),
    planAttachments(stack, state.attachments ?? [], fates, plan, prune),
    planBackups(stack, state.backups ?? [], fates, plan, opts.now ?? Date.now()),
  ];
  // Volumes first (as planned: the file's order, then deletes), then what hangs on them.
  for (const changes of more) plan.changes.push(...changes);
  return plan;
}

/** Whether applying `plan` changes anything. */
export function hasChanges(plan: Plan): boolean {
  return plan.changes.length > 0;
}
