/** `flint quota show|set|sync`: a project's limits and usage; changing and recounting them (admins). */
import { InvalidArgumentError, type Command } from 'commander';
import { QuotaSetDocument, SyncQuotaUsageDocument, UpdateQuotaSetDocument, type QuotaSetFieldsFragment, type QuotaUsageFieldsFragment } from '../../client/index.js';
import { apiAction } from './context.js';
import { projectId } from './project-ref.js';
import { renderTable } from '../output.js';

const LIMITS = ['volumes', 'gigabytes', 'snapshots', 'backups', 'backupGigabytes', 'perVolumeGigabytes'] as const;
const FLAG: Record<(typeof LIMITS)[number], string> = {
  volumes: 'volumes',
  gigabytes: 'gigabytes',
  snapshots: 'snapshots',
  backups: 'backups',
  backupGigabytes: 'backup-gigabytes',
  perVolumeGigabytes: 'per-volume-gigabytes',
};

/** A limit on the command line: an integer ≥ -1, or `default`. */
function limitArg(value: string): number | null {
  if (value === 'default') return null;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < -1) throw new InvalidArgumentError('an integer, -1 for no limit, or "default"');
  return n;
}

/** `TYPE:RESOURCE=N`, e.g. `gold:gigabytes=100`, repeatable. */
function typeLimitArg(value: string, previous: Array<{ volumeType: string; volumes?: number | null; gigabytes?: number | null }> = []) {
  const m = /^([^:=]+):(volumes|gigabytes)=(.+)$/.exec(value);
  if (!m) throw new InvalidArgumentError('TYPE:volumes=N or TYPE:gigabytes=N (N an integer, -1, or "default")');
  const limit = limitArg(m[3]!);
  const entry = previous.find((p) => p.volumeType === m[1]) ?? { volumeType: m[1]! };
  entry[m[2] as 'volumes' | 'gigabytes'] = limit;
  return previous.includes(entry) ? previous : [...previous, entry];
}

const show = (n: number | null) => (n === null || n === -1 ? 'unlimited' : String(n));

/** The quota set as a table: one line per limit, then one per type's limit. */
export function quotaTable(q: QuotaSetFieldsFragment): string {
  const row = (name: string, u: QuotaUsageFieldsFragment) => [name, show(u.limit), String(u.inUse), String(u.reserved), show(u.available)];
  const rows = [
    ...LIMITS.map((r) => row(r, q[r])),
    ...q.volumeTypes.flatMap((t) => [row(`volumes@${t.volumeType}`, t.volumes), row(`gigabytes@${t.volumeType}`, t.gigabytes)]),
  ];
  const head = `Project ${q.projectName} (${q.projectId})${q.usesDefaults ? ', default limits' : ''}\n`;
  return head + renderTable(['Resource', 'Limit', 'In use', 'Reserved', 'Available'], rows, ['left', 'right', 'right', 'right', 'right']);
}

export function registerQuotaCommands(program: Command): void {
  const quota = program.command('quota').description('quotas: what a project may hold, and what it holds');
  quota.configureHelp({ showGlobalOptions: true });
  quota
    .command('show')
    .description("show a project's limits with what is in use and reserved (default: your token's project)")
    .option('--project <id|name>', 'another project (admins)')
    .action(
      apiAction(async (ctx, _args, opts: { project?: string }) => {
        const { quotaSet } = await ctx.client.request(QuotaSetDocument, { projectId: (await projectId(ctx.client, opts.project)) ?? null });
        ctx.print(quotaSet, () => quotaTable(quotaSet));
      }),
    );

  const set = quota
    .command('set')
    .description("set a project's own limits (admins): an integer, -1 for no limit, or \"default\"")
    .requiredOption('--project <id|name>', 'the project')
    .option('--type <type:resource=N>', 'a volume type\'s limit, e.g. gold:gigabytes=100 (repeatable)', typeLimitArg)
    .option('--force', 'set limits below what the project holds now')
    .option('--reason <text>', 'why, for the audit trail');
  for (const r of LIMITS) set.option(`--${FLAG[r]} <n>`, `limit of ${r}`, limitArg);
  set.action(
    apiAction(async (ctx, _args, opts: Record<string, unknown>) => {
      const limits = Object.fromEntries(LIMITS.filter((r) => opts[r] !== undefined).map((r) => [r, opts[r] as number | null]));
      const input = {
        projectId: (await projectId(ctx.client, opts.project as string))!,
        ...limits,
        ...(opts.type ? { volumeTypes: opts.type as Array<{ volumeType: string }> } : {}),
        ...(opts.force ? { force: true } : {}),
        ...(opts.reason ? { reason: opts.reason as string } : {}),
      };
      const { updateQuotaSet } = await ctx.client.request(UpdateQuotaSetDocument, { input });
      ctx.print(updateQuotaSet, () => quotaTable(updateQuotaSet.quotaSet));
    }),
  );

  quota
    .command('sync')
    .description("recount a project's usage from its volumes, snapshots and backups, and correct the counters (admins)")
    .requiredOption('--project <id|name>', 'the project')
    .option('--reason <text>', 'why, for the audit trail')
    .action(
      apiAction(async (ctx, _args, opts: { project: string; reason?: string }) => {
        const input = { projectId: (await projectId(ctx.client, opts.project))!, ...(opts.reason ? { reason: opts.reason } : {}) };
        const { syncQuotaUsage } = await ctx.client.request(SyncQuotaUsageDocument, { input });
        ctx.print(syncQuotaUsage, () => {
          const fixed = syncQuotaUsage.corrections.map((c) => `corrected ${c.volumeType ? `${c.resource}@${c.volumeType}` : c.resource}: in use ${c.inUseBefore} → ${c.inUseAfter}, reserved ${c.reservedBefore} → ${c.reservedAfter}\n`);
          return (fixed.length ? fixed.join('') : 'no drift: the counters matched the tables\n') + quotaTable(syncQuotaUsage.quotaSet);
        });
      }),
    );
}
