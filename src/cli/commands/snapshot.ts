/** `flint snapshot create|list|show|set|delete`, in the shape of `openstack volume snapshot …`. */
import type { Command } from 'commander';
import {
  CreateSnapshotDocument,
  DeleteSnapshotDocument,
  SnapshotDocument,
  SnapshotsDocument,
  UpdateSnapshotDocument,
  type FlintClient,
  type SnapshotFieldsFragment,
  type SnapshotStatus,
  type SnapshotsQuery,
} from '../../client/index.js';
import { collectStatus, parsePositiveInt, parseVersion } from './args.js';
import { apiAction, type CliContext } from './context.js';
import { CliError } from './exit-codes.js';
import { resolveSnapshotId } from './snapshot-ref.js';
import { snapshotFailureOf, waitForSnapshotAction, type SnapshotAction, type SnapshotMutationResult } from './snapshot-wait.js';
import { resolveVolumeId } from './volume-ref.js';
import { snapshotFields, snapshotsTable, type SnapshotView } from './views.js';

interface WaitOptions {
  wait?: boolean;
  waitTimeout: number;
}

/** Adds `--wait` and `--wait-timeout` to an asynchronous mutation. */
function waitable(cmd: Command, until: string): Command {
  return cmd
    .option('--wait', `follow the snapshot until ${until}; exit 1 if it ends in an ERROR state or the operation fails`)
    .option('--wait-timeout <seconds>', 'give up waiting after this long (exit 1)', parsePositiveInt, 120);
}

/** Prints a mutation's result, after waiting for its end with `--wait` (then failing on an ERROR outcome). */
async function finish(ctx: CliContext, action: SnapshotAction, started: SnapshotMutationResult, o: WaitOptions): Promise<void> {
  const result = o.wait ? await waitForSnapshotAction(ctx, action, started, o.waitTimeout * 1000) : started;
  ctx.print(result, () => snapshotFields(result.snapshot, result.operation));
  const failure = o.wait ? await snapshotFailureOf(ctx, result) : undefined;
  if (failure) throw failure;
}

async function getSnapshot(client: FlintClient, ref: string): Promise<SnapshotView> {
  const id = await resolveSnapshotId(client, ref);
  const { snapshot } = await client.request(SnapshotDocument, { id });
  if (!snapshot) throw new CliError('NOT_FOUND', `No snapshot ${id} (or it is not visible to this token).`);
  return snapshot;
}

/** Registers `flint snapshot …`. */
export function registerSnapshotCommands(program: Command): void {
  const snapshot = program.command('snapshot').description('point-in-time snapshots of volumes (like `openstack volume snapshot`)');
  snapshot.configureHelp({ showGlobalOptions: true });

  waitable(
    snapshot
      .command('create')
      .description('snapshot a volume')
      .argument('<volume>', 'id or name of the volume to snapshot')
      .requiredOption('--name <name>', 'name of the new snapshot')
      .option('--description <text>', 'description')
      .option('--force', 'snapshot the volume even if it is not AVAILABLE (e.g. attached)')
      .option('--idempotency-key <key>', 'repeat the create safely: the same key returns the same snapshot'),
    'it is AVAILABLE',
  ).action(
    apiAction<{ name: string; description?: string; force?: boolean; idempotencyKey?: string } & WaitOptions>(async (ctx, [ref], o) => {
      const volumeId = await resolveVolumeId(ctx.client, ref!);
      const input = {
        volumeId,
        name: o.name,
        ...(o.description !== undefined && { description: o.description }),
        ...(o.force && { force: true }),
        ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey }),
      };
      const { createSnapshot } = await ctx.client.request(CreateSnapshotDocument, { input });
      await finish(ctx, 'create', createSnapshot, o);
    }),
  );

  snapshot
    .command('list')
    .description('list snapshots (your project\'s; every project\'s for admins), oldest first')
    .option('--volume <volume>', 'only snapshots of this volume (id or name)')
    .option('--status <status...>', 'only these states, e.g. AVAILABLE ERROR (default: all but DELETED)', collectStatus)
    .option('--name <name>', 'only snapshots with exactly this name')
    .option('--limit <n>', 'snapshots per page, 1 to 500', parsePositiveInt, 50)
    .option('--all-pages', 'fetch every page, not only the first')
    .action(
      apiAction<{ volume?: string; status?: string[]; name?: string; limit: number; allPages?: boolean }>(async (ctx, _args, o) => {
        const filter = {
          ...(o.volume !== undefined && { volumeId: await resolveVolumeId(ctx.client, o.volume) }),
          ...(o.status && { status: o.status as SnapshotStatus[] }),
          ...(o.name !== undefined && { name: o.name }),
        };
        const snapshots: SnapshotFieldsFragment[] = [];
        let after: string | null = null;
        for (;;) {
          const page: SnapshotsQuery['snapshots'] = (await ctx.client.request(SnapshotsDocument, { first: o.limit, after, filter })).snapshots;
          snapshots.push(...page.edges.map((e) => e.node));
          after = page.pageInfo.endCursor;
          if (!page.pageInfo.hasNextPage || !after) break;
          if (!o.allPages) {
            ctx.stderr.write(`(${snapshots.length} of ${page.totalCount} snapshots shown; --all-pages lists them all)\n`);
            break;
          }
        }
        ctx.print(snapshots, () => snapshotsTable(snapshots));
      }),
    );

  snapshot
    .command('show')
    .description('show a snapshot, with its volume and latest failure message')
    .argument('<snapshot>', 'id or name')
    .action(
      apiAction(async (ctx, [ref]) => {
        const s = await getSnapshot(ctx.client, ref!);
        ctx.print(s, () => snapshotFields(s));
      }),
    );

  snapshot
    .command('set')
    .description('rename a snapshot or change its description')
    .argument('<snapshot>', 'id or name')
    .option('--name <name>', 'new name')
    .option('--description <text>', 'new description')
    .option('--expected-version <n>', 'fail with CONFLICT unless the snapshot is still at this version', parseVersion)
    .action(
      apiAction<{ name?: string; description?: string; expectedVersion?: number }>(async (ctx, [ref], o) => {
        if (o.name === undefined && o.description === undefined) {
          throw new CliError('BAD_USER_INPUT', 'Nothing to change: give --name or --description.');
        }
        const id = await resolveSnapshotId(ctx.client, ref!);
        const input = {
          id,
          expectedVersion: o.expectedVersion ?? null,
          ...(o.name !== undefined && { name: o.name }),
          ...(o.description !== undefined && { description: o.description }),
        };
        const { updateSnapshot } = await ctx.client.request(UpdateSnapshotDocument, { input });
        ctx.print(updateSnapshot, () => snapshotFields(updateSnapshot.snapshot, updateSnapshot.operation));
      }),
    );

  waitable(
    snapshot
      .command('delete')
      .description('delete a snapshot (AVAILABLE or in an ERROR state)')
      .argument('<snapshot>', 'id or name')
      .option('--expected-version <n>', 'fail with CONFLICT unless the snapshot is still at this version', parseVersion),
    'it is DELETED',
  ).action(
    apiAction<{ expectedVersion?: number } & WaitOptions>(async (ctx, [ref], o) => {
      const id = await resolveSnapshotId(ctx.client, ref!);
      const { deleteSnapshot } = await ctx.client.request(DeleteSnapshotDocument, { input: { id, expectedVersion: o.expectedVersion ?? null } });
      await finish(ctx, 'delete', deleteSnapshot, o);
    }),
  );
}
