/** A plan as `flint plan` and `flint apply` print it, in the manner of `terraform plan`. Pure. */
import { show } from './diff.js';
import { address, type Change, type Kind, type Plan } from './plan-types.js';

const SIGN: Record<Change['action'], string> = { create: '+', update: '~', replace: '-/+', delete: '-' };
const VERB: Record<Change['action'], string> = { create: 'will be created', update: 'will be updated in place', replace: 'must be replaced', delete: 'will be deleted' };

type Desired = Extract<Change, { desired: unknown }>['desired'];
type Actual = Extract<Change, { actual: unknown }>['actual'];

/** The fields of a desired resource a plan shows, in this order (absent ones are Flint's choice). */
const SHOWN: Record<Kind, readonly string[]> = {
  volume: ['name', 'sizeGiB', 'description', 'metadata', 'volumeType', 'availabilityZone', 'multiattach'],
  snapshot: ['volume', 'name', 'description', 'metadata', 'force'],
  attachment: ['volume', 'instanceId', 'connector', 'mode', 'targetKind'],
  backup: ['volume', 'name', 'incremental', 'force'],
};

function desiredLines(kind: Kind, d: Desired): string[] {
  const values = d as unknown as Record<string, unknown>;
  return SHOWN[kind].filter((k) => values[k] !== undefined).map((k) => `${k}: ${k === 'volume' ? `volume.${String(values[k])}` : show(values[k])}`);
}

/** What a deleted resource was, in one line. */
function describe(kind: Kind, a: Actual): string {
  const v = a as unknown as Record<string, unknown>;
  switch (kind) {
    case 'volume':
      return `${show(v.name)}, ${String(v.sizeGiB)} GiB, ${a.status}`;
    case 'attachment':
      return `instance ${String(v.instanceId)}, ${a.status}`;
    case 'backup':
      return `${show(v.name)}, made ${String(v.createdAt)}, ${a.status}`;
    case 'snapshot':
      return `${show(v.name)}, ${a.status}`;
  }
}

function changeLines(c: Change): string[] {
  const id = 'actual' in c ? ` [id=${c.actual.id}]` : '';
  const head = `  ${SIGN[c.action]} ${address(c)}${id} ${VERB[c.action]}`;
  const reasons = (c.action === 'update' ? [] : (c.reasons ?? [])).map((r) => `# ${r}`);
  const body = (() => {
    switch (c.action) {
      case 'create':
      case 'replace':
        return [...reasons, ...desiredLines(c.kind, c.desired)];
      case 'update':
        return c.fields.map((f) => `${f.field}: ${show(f.from)} → ${show(f.to)} (${f.mutation})`);
      case 'delete':
        return [...reasons, `# was: ${describe(c.kind, c.actual)}`];
    }
  })();
  return [head, ...body.map((l) => `      ${l}`)];
}

/** Counts of a plan's changes, Terraform's summary line. */
export function planSummary(plan: Plan): string {
  const n = (a: Change['action']) => plan.changes.filter((c) => c.action === a).length;
  return `Plan: ${n('create')} to create, ${n('update')} to update, ${n('replace')} to replace, ${n('delete')} to delete.`;
}

/** `2 volumes, 1 snapshot`: what a stack that needs no change holds. */
function holding(unchanged: readonly string[]): string {
  const kinds: Kind[] = ['volume', 'snapshot', 'attachment'];
  const parts = kinds.map((k) => [k, unchanged.filter((a) => a.startsWith(`${k}.`)).length] as const).filter(([k, n]) => n > 0 || k === 'volume');
  return parts.map(([k, n]) => `${n} ${k}${n === 1 ? '' : 's'}`).join(', ');
}

/** The whole plan as text: the changes, the resources kept, the errors, then the summary or "No changes.". */
export function formatPlan(plan: Plan): string {
  const out: string[] = [];
  for (const c of plan.changes) out.push(...changeLines(c), '');
  for (const k of plan.kept) {
    const what = k.kind === 'attachment' ? 'detaches' : 'deletes';
    out.push(`  ${k.kind}.${k.resource} [id=${k.id}] is no longer in the stack file: kept (flint apply --prune ${what} it)`);
  }
  if (plan.kept.length) out.push('');
  for (const e of plan.errors) out.push(`Error: ${e}`);
  if (plan.errors.length) out.push('');
  if (plan.changes.length) out.push(planSummary(plan));
  else if (!plan.errors.length) out.push(`No changes. Stack ${plan.stack} matches its file (${holding(plan.unchanged)}).`);
  return `${out.join('\n')}\n`;
}
