/** `flint volume create|list|show|set|unset|delete|extend|migrate|retype`, in the shape of `openstack volume …`. */
import type { Command } from 'commander';
import {
  CreateVolumeDocument,
  DeleteVolumeDocument,
  ExtendVolumeDocument,
  UpdateVolumeDocument,
  VolumeDocument,
  VolumesDocument,
  type FlintClient,
  type UpdateVolumeInput,
  type VolumeStatus,
} from '../../client/index.js';
import { collectProperty, collectStatus, parsePositiveInt } from './args.js';
import { apiAction, type CliContext } from './context.js';
import { CliError } from './exit-codes.js';
import { resolveVolumeId } from './volume-ref.js';
import { registerMoveCommands } from './volume-move.js';
import { registerTransferCommands } from './volume-transfer.js';
import { volumeFields, volumesTable, type VolumeView } from './views.js';
import { failureOf, waitForAction, type MutationResult, type VolumeAction } from './wait.js';
import { finishMutation, listPages, waitable, withExpectedVersion, type WaitOptions } from './shared.js';

/** Prints a mutation's result, after waiting for its end with `--wait` (then failing on an ERROR outcome). */
async function finish(ctx: CliContext, action: VolumeAction, started: MutationResult, o: WaitOptions): Promise<void> {
  await finishMutation(ctx, started, o, {
    waitFor: (c, s, timeoutMs) => waitForAction(c, action, s, timeoutMs),
    failureOf,
    fields: (result) => volumeFields(result.volume, result.operation),
  });
}

async function getVolume(client: FlintClient, ref: string): Promise<VolumeView> {
  const id = await resolveVolumeId(client, ref);
  const { volume } = await client.request(VolumeDocument, { id });
  if (!volume) throw new CliError('NOT_FOUND', `No volume ${id} (or it is not visible to this token).`);
  return volume;
}

/** Registers `flint volume …`. */
export function registerVolumeCommands(program: Command): void {
  const volume = program.command('volume').description('block-storage volumes (like `openstack volume`)');
  volume.configureHelp({ showGlobalOptions: true });

  waitable(
    volume
      .command('create')
      .description('create a volume')
      .argument('<name>', 'name of the new volume')
      .requiredOption('--size <GiB>', 'size in GiB', parsePositiveInt)
      .option('--description <text>', 'description')
      .option('--type <name>', 'volume type (its extra specs choose the pool)')
      .option('--zone <zone>', 'availability zone')
      .option('--property <key=value>', 'metadata; repeat for more', collectProperty)
      .option('--idempotency-key <key>', 'repeat the create safely: the same key returns the same volume'),
    'volume',
    'it is AVAILABLE',
  ).action(
    apiAction<{ size: number; description?: string; type?: string; zone?: string; property?: Record<string, string>; idempotencyKey?: string } & WaitOptions>(
      async (ctx, [name], o) => {
        const input = {
          name: name!,
          sizeGiB: o.size,
          ...(o.description !== undefined && { description: o.description }),
          ...(o.type !== undefined && { volumeType: o.type }),
          ...(o.zone !== undefined && { availabilityZone: o.zone }),
          ...(o.property && { metadata: o.property }),
          ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey }),
        };
        const { createVolume } = await ctx.client.request(CreateVolumeDocument, { input });
        await finish(ctx, 'create', createVolume, o);
      },
    ),
  );

  volume
    .command('list')
    .description('list volumes (your project\'s; every project\'s for admins), oldest first')
    .option('--status <status...>', 'only these states, e.g. AVAILABLE ERROR (default: all but DELETED)', collectStatus)
    .option('--name <name>', 'only volumes with exactly this name')
    .option('--zone <zone>', 'only volumes in this availability zone')
    .option('--limit <n>', 'volumes per page, 1 to 500', parsePositiveInt, 50)
    .option('--all-pages', 'fetch every page, not only the first')
    .action(
      apiAction<{ status?: string[]; name?: string; zone?: string; limit: number; allPages?: boolean }>(async (ctx, _args, o) => {
        const filter = {
          ...(o.status && { status: o.status as VolumeStatus[] }),
          ...(o.name !== undefined && { name: o.name }),
          ...(o.zone !== undefined && { availabilityZone: o.zone }),
        };
        const volumes = await listPages(ctx, 'volumes', o, async (first, after) => (await ctx.client.request(VolumesDocument, { first, after, filter })).volumes);
        ctx.print(volumes, () => volumesTable(volumes));
      }),
    );

  volume
    .command('show')
    .description('show a volume, with its latest failure message')
    .argument('<volume>', 'id or name')
    .action(
      apiAction(async (ctx, [ref]) => {
        const v = await getVolume(ctx.client, ref!);
        ctx.print(v, () => volumeFields(v));
      }),
    );

  registerUpdateCommands(volume);
  registerMoveCommands(volume);
  registerTransferCommands(volume);

  waitable(
    withExpectedVersion(volume.command('delete').description('delete a volume (AVAILABLE or in an ERROR state)').argument('<volume>', 'id or name'), 'volume')
      .option('--cascade', 'delete its snapshots too (without it, a volume with snapshots is refused with INVALID_STATE)'),
    'volume',
    'it is DELETED',
  ).action(
    apiAction<{ expectedVersion?: number; cascade?: boolean } & WaitOptions>(async (ctx, [ref], o) => {
      const id = await resolveVolumeId(ctx.client, ref!);
      const input = { id, expectedVersion: o.expectedVersion ?? null, ...(o.cascade && { cascade: true }) };
      const { deleteVolume } = await ctx.client.request(DeleteVolumeDocument, { input });
      await finish(ctx, 'delete', deleteVolume, o);
    }),
  );

  waitable(
    withExpectedVersion(
      volume
        .command('extend')
        .description('grow an AVAILABLE volume')
        .argument('<volume>', 'id or name')
        .requiredOption('--size <GiB>', 'new size in GiB, larger than the current one', parsePositiveInt),
      'volume',
    ),
    'volume',
    'it is AVAILABLE again',
  ).action(
    apiAction<{ size: number; expectedVersion?: number } & WaitOptions>(async (ctx, [ref], o) => {
      const id = await resolveVolumeId(ctx.client, ref!);
      const { extendVolume } = await ctx.client.request(ExtendVolumeDocument, { input: { id, newSizeGiB: o.size, expectedVersion: o.expectedVersion ?? null } });
      await finish(ctx, 'extend', extendVolume, o);
    }),
  );
}

/** `flint volume set` and `flint volume unset`: name, description and properties (metadata), merged like OpenStack's. */
function registerUpdateCommands(volume: Command): void {
  const update = async (ctx: CliContext, ref: string, expectedVersion: number | undefined, change: (v: VolumeView) => Omit<UpdateVolumeInput, 'id' | 'expectedVersion'>) => {
    const current = await getVolume(ctx.client, ref);
    // The properties are merged into what was read, so the write is conditional on that read.
    const input = { id: current.id, expectedVersion: expectedVersion ?? current.version, ...change(current) };
    const { updateVolume } = await ctx.client.request(UpdateVolumeDocument, { input });
    ctx.print(updateVolume, () => volumeFields(updateVolume.volume, updateVolume.operation));
  };

  withExpectedVersion(
    volume
      .command('set')
      .description('rename a volume, or change its description or properties (merged into the present ones)')
      .argument('<volume>', 'id or name')
      .option('--name <name>', 'new name')
      .option('--description <text>', 'new description')
      .option('--property <key=value>', 'set a property; repeat for more', collectProperty),
    'volume',
  ).action(
    apiAction<{ name?: string; description?: string; property?: Record<string, string>; expectedVersion?: number }>(async (ctx, [ref], o) => {
      if (o.name === undefined && o.description === undefined && !o.property) {
        throw new CliError('BAD_USER_INPUT', 'Nothing to change: give --name, --description or --property.');
      }
      await update(ctx, ref!, o.expectedVersion, (v) => ({
        ...(o.name !== undefined && { name: o.name }),
        ...(o.description !== undefined && { description: o.description }),
        ...(o.property && { metadata: { ...v.metadata, ...o.property } }),
      }));
    }),
  );

  withExpectedVersion(
    volume
      .command('unset')
      .description('remove properties of a volume')
      .argument('<volume>', 'id or name')
      .requiredOption('--property <key...>', 'property keys to remove'),
    'volume',
  ).action(
    apiAction<{ property: string[]; expectedVersion?: number }>(async (ctx, [ref], o) => {
      await update(ctx, ref!, o.expectedVersion, (v) => ({
        metadata: Object.fromEntries(Object.entries(v.metadata).filter(([k]) => !o.property.includes(k))),
      }));
    }),
  );
}
