/**
 * `flint volume create|list|show|set|unset|delete|extend|migrate|retype|manage|unmanage`,
 * in the shape of `openstack volume …`.
 */
import type { Command } from 'commander';
import {
  ExtendVolumeDocument,
  UpdateVolumeDocument,
  VolumeDocument,
  VolumesDocument,
  type FlintClient,
  type UpdateVolumeInput,
  type VolumeStatus,
} from '../../client/index.js';
import { collectProperty, collectStatus, parsePositiveInt } from './args.js';
import { projectId } from './project-ref.js';
import { registerCreateCommand } from './volume-create.js';
import { DEFAULT_REASON, finishVolumeMutation as finish, registerDeleteCommand, registerManageCommands, resetStatus } from './volume-admin.js';
import { apiAction, type CliContext } from './context.js';
import { CliError } from './exit-codes.js';
import { resolveVolumeId } from './volume-ref.js';
import { registerMoveCommands } from './volume-move.js';
import { registerTransferCommands } from './volume-transfer.js';
import { volumeFields, volumesTable, type VolumeView } from './views.js';
import { listPages, waitable, withExpectedVersion, withIdempotencyKey, type WaitOptions } from './shared.js';

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

  registerCreateCommand(volume);

  volume
    .command('list')
    .description('list volumes (your project\'s; every project\'s for admins), oldest first')
    .option('--status <status...>', 'only these states, e.g. AVAILABLE ERROR (default: all but DELETED)', collectStatus)
    .option('--name <name>', 'only volumes with exactly this name')
    .option('--zone <zone>', 'only volumes in this availability zone')
    .option('--project <id|name>', 'admins: only volumes of this project')
    .option('--limit <n>', 'volumes per page, 1 to 500', parsePositiveInt, 50)
    .option('--all-pages', 'fetch every page, not only the first')
    .action(
      apiAction<{ status?: string[]; name?: string; zone?: string; project?: string; limit: number; allPages?: boolean }>(async (ctx, _args, o) => {
        const project = await projectId(ctx.client, o.project);
        const filter = {
          ...(project !== undefined && { projectId: project }),
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

  registerDeleteCommand(volume);
  registerManageCommands(volume);

  waitable(
    withIdempotencyKey(
      withExpectedVersion(
        volume
          .command('extend')
          .description('grow an AVAILABLE volume')
          .argument('<volume>', 'id or name')
          .requiredOption('--size <GiB>', 'new size in GiB, larger than the current one', parsePositiveInt),
        'volume',
      ),
      'extend',
    ),
    'volume',
    'it is AVAILABLE again',
  ).action(
    apiAction<{ size: number; expectedVersion?: number; idempotencyKey?: string } & WaitOptions>(async (ctx, [ref], o) => {
      const id = await resolveVolumeId(ctx.client, ref!);
      const input = { id, newSizeGiB: o.size, expectedVersion: o.expectedVersion ?? null, ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey }) };
      const { extendVolume } = await ctx.client.request(ExtendVolumeDocument, { input });
      await finish(ctx, 'extend', extendVolume, o);
    }),
  );
}

/**
 * Refuses, before any request, a `flint volume set` with nothing to change, `--state` with
 * other changes (a reset is its own audited act), or `--reason` without `--state`.
 */
export function checkSetOptions(o: { name?: string; description?: string; property?: Record<string, string>; state?: string; reason?: string; expectedVersion?: number; idempotencyKey?: string }): void {
  const changes = o.name !== undefined || o.description !== undefined || o.property !== undefined;
  if (o.state !== undefined && o.idempotencyKey !== undefined) throw new CliError('BAD_USER_INPUT', '--idempotency-key is for changes of name, description or properties, not for --state (a reset is its own audited act).');
  if (o.state !== undefined && (changes || o.expectedVersion !== undefined)) {
    throw new CliError('BAD_USER_INPUT', '--state is a reset of the status alone: give --name, --description, --property or --expected-version in another `flint volume set`.');
  }
  if (o.reason !== undefined && o.state === undefined) throw new CliError('BAD_USER_INPUT', '--reason is recorded only with --state.');
  if (o.state === undefined && !changes) throw new CliError('BAD_USER_INPUT', 'Nothing to change: give --name, --description, --property or --state.');
}

/** `flint volume set` and `flint volume unset`: name, description and properties (metadata), merged like OpenStack's. */
function registerUpdateCommands(volume: Command): void {
  const update = async (
    ctx: CliContext,
    ref: string,
    expectedVersion: number | undefined,
    change: (v: VolumeView) => Omit<UpdateVolumeInput, 'id' | 'expectedVersion' | 'idempotencyKey'>,
    idempotencyKey?: string,
  ) => {
    const current = await getVolume(ctx.client, ref);
    // The properties are merged into what was read, so the write is conditional on that read.
    const input = { id: current.id, expectedVersion: expectedVersion ?? current.version, ...change(current), ...(idempotencyKey !== undefined && { idempotencyKey }) };
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
      .option('--property <key=value>', 'set a property; repeat for more', collectProperty)
      .option('--state <status>', 'admins: record this status by hand (AVAILABLE or an ERROR state; resetVolumeStatus, audited)')
      .option('--reason <text>', `why, for the audit record of --state (default "${DEFAULT_REASON}")`)
      .option('--idempotency-key <key>', 'repeat the change safely: the same key and request return the first operation (not with --state)'),
    'volume',
  ).action(
    apiAction<{ name?: string; description?: string; property?: Record<string, string>; state?: string; reason?: string; expectedVersion?: number; idempotencyKey?: string }>(async (ctx, [ref], o) => {
      checkSetOptions(o);
      if (o.state !== undefined) {
        await resetStatus(ctx, await resolveVolumeId(ctx.client, ref!), o.state, o.reason);
        return;
      }
      await update(ctx, ref!, o.expectedVersion, (v) => ({
        ...(o.name !== undefined && { name: o.name }),
        ...(o.description !== undefined && { description: o.description }),
        ...(o.property && { metadata: { ...v.metadata, ...o.property } }),
      }), o.idempotencyKey);
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
