/** A plan as `flint plan` and `flint apply` print it, in the manner of `terraform plan`. Pure. */
import { show, type Change, type DesiredVolume, type Plan } from './plan.js';

const SIGN: Record<Change['action'], string> = { create: '+', update: '~', replace: '-/+', delete: '-' };
const VERB: Record<Change['action'], string> = { create: 'will be created', update: 'will be updated in place', replace: 'must be replaced', delete: 'will be deleted' };

function desiredLines(d: DesiredVolume): string[] {
  const fields: [string, unknown][] = [
    ['name', d.name],
    ['sizeGiB', d.sizeGiB],
    ['description', d.description],
    ['metadata', d.metadata],
    ['volumeType', d.volumeType],
    ['availabilityZone', d.availabilityZone],
    ['multiattach', d.multiattach],
  ];
  return fields.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${show(v)}`);
}

function changeLines(c: Change): string[] {
  const id = c.action === 'create' ? '' : ` [id=${c.actual.id}]`;
  const head = `  ${SIGN[c.action]} volume.${c.resource}${id} ${VERB[c.action]}`;
  const body = (() => {
    switch (c.action) {
      case 'create':
        return desiredLines(c.desired);
      case 'update':
        return c.fields.map((f) => `${f.field}: ${show(f.from)} → ${show(f.to)} (${f.mutation})`);
      case 'replace':
        return [...c.reasons.map((r) => `# ${r}`), ...desiredLines(c.desired)];
      case 'delete':
        return [`# not in the stack file (--prune): ${show(c.actual.name)}, ${c.actual.sizeGiB} GiB, ${c.actual.status}`];
    }
  })();
  return [head, ...body.map((l) => `      ${l}`)];
}

/** Counts of a plan's changes, Terraform's summary line. */
export function planSummary(plan: Plan): string {
  const n = (a: Change['action']) => plan.changes.filter((c) => c.action === a).length;
  return `Plan: ${n('create')} to create, ${n('update')} to update, ${n('replace')} to replace, ${n('delete')} to delete.`;
}

/** The whole plan as text: the changes, the volumes kept, the errors, then the summary or "No changes.". */
export function formatPlan(plan: Plan): string {
  const out: string[] = [];
  for (const c of plan.changes) out.push(...changeLines(c), '');
  for (const k of plan.kept) out.push(`  volume.${k.resource} [id=${k.id}] is no longer in the stack file: kept (flint apply --prune deletes it)`);
  if (plan.kept.length) out.push('');
  for (const e of plan.errors) out.push(`Error: ${e}`);
  if (plan.errors.length) out.push('');
  if (plan.changes.length) out.push(planSummary(plan));
  else if (!plan.errors.length) out.push(`No changes. Stack ${plan.stack} matches its file (${plan.unchanged.length} volume${plan.unchanged.length === 1 ? '' : 's'}).`);
  return `${out.join('\n')}\n`;
}
