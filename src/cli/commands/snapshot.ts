/** `flint snapshot create|list|show|set|delete`, in the shape of `openstack volume snapshot …`. */
import type { Command } from 'commander';
import {
  CreateSnapshotDocument,
  DeleteSnapshotDocument,
  SnapshotDocument,
  SnapshotsDocument,
  UpdateSnapshotDocument,
  type FlintClient,
  type SnapshotStatus,
} from '../../client/index.js';
import { collectProperty, collectStatus, parsePositiveInt } from './args.js';
import { projectId } from './project-ref.js';
import { apiAction, type CliContext } from './context.js';
import { CliError } from './exit-codes.js';
import { resolveSnapshotId } from './snapshot-ref.js';
import { snapshotFailureOf, waitForSnapshotAction, type SnapshotAction, type SnapshotMutationResult } from './snapshot-wait.js';
import { resolveVolumeId } from './volume-ref.js';
import { snapshotFields, snapshotsTable, type SnapshotView } from './views.js';
import { finishMutation, listPages, waitable, withExpectedVersion, withIdempotencyKey, type WaitOptions } from './shared.js';

/** Prints a mutation's result, after waiting for its end with `--wait` (then failing on an ERROR outcome). */
async function finish(ctx: CliContext, action: SnapshotAction, started: SnapshotMutationResult, o: WaitOptions): Promise<void> {
  await finishMutation(ctx, started, o, {
    waitFor: (c, s, timeoutMs) => waitForSnapshotAction(c, action, s, timeoutMs),
    failureOf: snapshotFailureOf,
    fields: (result) => snapshotFields(result.snapshot, result.operation),
  });
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
      .option('--property <key=value>', 'metadata; repeat for more', collectProperty)
      .option('--idempotency-key <key>', 'repeat the create safely: the same key returns the same snapshot'),
    'snapshot',
    'it is AVAILABLE',
  ).action(
    apiAction<{ name: string; description?: string; force?: boolean; property?: Record<string, string>; idempotencyKey?: string } & WaitOptions>(async (ctx, [ref], o) => {
      const volumeId = await resolveVolumeId(ctx.client, ref!);
      const input = {
        volumeId,
        name: o.name,
        ...(o.description !== undefined && { description: o.description }),
        ...(o.force && { force: true }),
        ...(o.property && { metadata: o.property }),
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
    .option('--project <id|name>', 'admins: only snapshots of this project')
    .option('--limit <n>', 'snapshots per page, 1 to 500', parsePositiveInt, 50)
    .option('--all-pages', 'fetch every page, not only the first')
    .action(
      apiAction<{ volume?: string; status?: string[]; name?: string; project?: string; limit: number; allPages?: boolean }>(async (ctx, _args, o) => {
        const project = await projectId(ctx.client, o.project);
        const filter = {
          ...(project !== undefined && { projectId: project }),
          ...(o.volume !== undefined && { volumeId: await resolveVolumeId(ctx.client, o.volume) }),
          ...(o.status && { status: o.status as SnapshotStatus[] }),
          ...(o.name !== undefined && { name: o.name }),
        };
        const snapshots = await listPages(ctx, 'snapshots', o, async (first, after) => (await ctx.client.request(SnapshotsDocument, { first, after, filter })).snapshots);
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

  withIdempotencyKey(
    withExpectedVersion(
      snapshot
        .command('set')
        .description('rename a snapshot, or change its description or properties (merged into the present ones)')
        .argument('<snapshot>', 'id or name')
        .option('--name <name>', 'new name')
        .option('--description <text>', 'new description')
        .option('--property <key=value>', 'set a property; repeat for more', collectProperty),
      'snapshot',
    ),
    'change',
  ).action(
    apiAction<{ name?: string; description?: string; property?: Record<string, string>; expectedVersion?: number; idempotencyKey?: string }>(async (ctx, [ref], o) => {
      if (o.name === undefined && o.description === undefined && o.property === undefined) {
        throw new CliError('BAD_USER_INPUT', 'Nothing to change: give --name, --description or --property.');
      }
      const id = await resolveSnapshotId(ctx.client, ref!);
      // Properties are merged into what was read, so the write is conditional on that read (as `flint volume set`).
      const current = o.property ? await getSnapshot(ctx.client, id) : null;
      const input = {
        id,
        expectedVersion: o.expectedVersion ?? current?.version ?? null,
        ...(o.name !== undefined && { name: o.name }),
        ...(o.description !== undefined && { description: o.description }),
        ...(current && o.property && { metadata: { ...current.metadata, ...o.property } }),
        ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey }),
      };
      const { updateSnapshot } = await ctx.client.request(UpdateSnapshotDocument, { input });
      ctx.print(updateSnapshot, () => snapshotFields(updateSnapshot.snapshot, updateSnapshot.operation));
    }),
  );

  waitable(
    withExpectedVersion(snapshot.command('delete').description('delete a snapshot (AVAILABLE or in an ERROR state)').argument('<snapshot>', 'id or name'), 'snapshot'),
    'snapshot',
    'it is DELETED',
  ).action(
    apiAction<{ expectedVersion?: number } & WaitOptions>(async (ctx, [ref], o) => {
      const id = await resolveSnapshotId(ctx.client, ref!);
      const { deleteSnapshot } = await ctx.client.request(DeleteSnapshotDocument, { input: { id, expectedVersion: o.expectedVersion ?? null } });
      await finish(ctx, 'delete', deleteSnapshot, o);
    }),
  );
}
