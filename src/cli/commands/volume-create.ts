/**
 * `flint volume create`: a blank volume, or one made from a snapshot (`--snapshot`), a
 * copy of a volume (`--source`) or a restore of a backup into a new volume (`--backup`),
 * like `openstack volume create`. The options are checked before any request.
 */
import type { Command } from 'commander';
import { CreateVolumeFromDocument, OperationDocument, RestoreBackupDocument, type CreateVolumeInput } from '../../client/index.js';
import { collectProperty, parsePositiveInt } from './args.js';
import { apiAction, type CliContext } from './context.js';
import { CliError } from './exit-codes.js';
import { startProgress } from './progress.js';
import { waitable, type WaitOptions } from './shared.js';
import { resolveSnapshotId } from './snapshot-ref.js';
import { volumeFields } from './views.js';
import { failureOf, type MutationResult } from './wait.js';
import { resolveVolumeId } from './volume-ref.js';

/** The options of `flint volume create`, as commander parses them. */
export interface CreateOptions {
  size?: number;
  snapshot?: string;
  source?: string;
  backup?: string;
  multiattach?: boolean;
  description?: string;
  type?: string;
  zone?: string;
  property?: Record<string, string>;
  idempotencyKey?: string;
}

/** Where a new volume's data comes from. */
export type CreateSource = { kind: 'blank' } | { kind: 'snapshot'; ref: string } | { kind: 'source'; ref: string } | { kind: 'backup'; id: string };

/** What a restore into a new volume cannot honour: `restoreBackup` takes only a name. */
const NOT_WITH_BACKUP: ReadonlyArray<[keyof CreateOptions, string]> = [
  ['size', '--size'],
  ['multiattach', '--multiattach'],
  ['description', '--description'],
  ['type', '--type'],
  ['zone', '--zone'],
  ['property', '--property'],
  ['idempotencyKey', '--idempotency-key'],
];

/**
 * Which source the options name, or a CliError BAD_USER_INPUT (exit 2) that says what
 * is wrong: more than one of `--snapshot`, `--source`, `--backup`; no `--size` for a
 * blank volume; an option a restore of a backup cannot take (it makes a volume of the
 * backup's size, in the backup's pool, with no type or properties of your choosing).
 */
export function createSource(o: CreateOptions): CreateSource {
  const given = (
    [
      ['--snapshot', o.snapshot],
      ['--source', o.source],
      ['--backup', o.backup],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (given.length > 1) {
    throw new CliError('BAD_USER_INPUT', `${given.map(([f]) => f).join(' and ')} are exclusive: a volume is made from one source (or none, with --size).`);
  }
  if (o.backup !== undefined) {
    const extra = NOT_WITH_BACKUP.filter(([k]) => o[k] !== undefined).map(([, f]) => f);
    if (extra.length) {
      throw new CliError('BAD_USER_INPUT', `${extra.join(', ')} cannot be used with --backup: the restore makes a volume of the backup's size; change it afterwards (flint volume set/extend/retype).`);
    }
    return { kind: 'backup', id: o.backup };
  }
  if (o.snapshot !== undefined) return { kind: 'snapshot', ref: o.snapshot };
  if (o.source !== undefined) return { kind: 'source', ref: o.source };
  if (o.size === undefined) throw new CliError('BAD_USER_INPUT', '--size is required for a blank volume (with --snapshot, --source or --backup it defaults to the source\'s size).');
  return { kind: 'blank' };
}

/** Statuses a new volume passes through before its create (or restore) is over. */
const BUSY = ['CREATING', 'RESTORING_BACKUP'];

/** Follows a new volume until it is no longer CREATING or RESTORING_BACKUP, then reads its operation again. */
async function waitCreated(ctx: CliContext, started: MutationResult, timeoutMs: number): Promise<MutationResult> {
  if (!started.operation) return started;
  let volume = started.volume;
  if (BUSY.includes(volume.status)) {
    const progress = startProgress(ctx.stderr, `volume ${volume.name}`, volume.status);
    try {
      // Keeps what only the create selected (snapshotId, sourceVolumeId).
      volume = { ...volume, ...(await ctx.client.waitForVolume(volume.id, (v) => (progress.update(v.status), !BUSY.includes(v.status)), timeoutMs)) };
    } finally {
      progress.stop();
    }
  }
  const { operation } = await ctx.client.request(OperationDocument, { id: started.operation.id });
  if (!operation) return { volume, operation: started.operation };
  const { resourceType: _t, resourceId: _r, ...op } = operation;
  return { volume, operation: op };
}

/** Registers `flint volume create`. */
export function registerCreateCommand(volume: Command): void {
  waitable(
    volume
      .command('create')
      .description('create a volume: blank (--size), from a snapshot, as a copy of a volume, or restored from a backup')
      .argument('<name>', 'name of the new volume')
      .option('--size <GiB>', 'size in GiB; required for a blank volume, default the source\'s size with --snapshot or --source', parsePositiveInt)
      .option('--snapshot <snapshot>', 'make it from this AVAILABLE snapshot (id or name)')
      .option('--source <volume>', 'make it a copy of this AVAILABLE volume (id or name)')
      .option('--backup <id>', 'restore this AVAILABLE backup into the new volume (of the backup\'s size)')
      .option('--multiattach', 'allow several attachments at once (the consumers must coordinate their writes)')
      .option('--description <text>', 'description')
      .option('--type <name>', 'volume type (its extra specs choose the pool)')
      .option('--zone <zone>', 'availability zone')
      .option('--property <key=value>', 'metadata; repeat for more', collectProperty)
      .option('--idempotency-key <key>', 'repeat the create safely: the same key returns the same volume'),
    'volume',
    'it is AVAILABLE',
  ).action(
    apiAction<CreateOptions & WaitOptions>(async (ctx, [name], o) => {
      const source = createSource(o);
      let started: MutationResult;
      if (source.kind === 'backup') {
        const { restoreBackup } = await ctx.client.request(RestoreBackupDocument, { input: { backupId: source.id, name: name! } });
        started = { volume: restoreBackup.volume, operation: restoreBackup.operation };
      } else {
        const input: CreateVolumeInput = {
          name: name!,
          ...(o.size !== undefined && { sizeGiB: o.size }),
          ...(source.kind === 'snapshot' && { snapshotId: await resolveSnapshotId(ctx.client, source.ref) }),
          ...(source.kind === 'source' && { sourceVolumeId: await resolveVolumeId(ctx.client, source.ref) }),
          ...(o.multiattach && { multiattach: true }),
          ...(o.description !== undefined && { description: o.description }),
          ...(o.type !== undefined && { volumeType: o.type }),
          ...(o.zone !== undefined && { availabilityZone: o.zone }),
          ...(o.property && { metadata: o.property }),
          ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey }),
        };
        const { createVolume } = await ctx.client.request(CreateVolumeFromDocument, { input });
        started = { volume: createVolume.volume, operation: createVolume.operation };
      }
      const result = o.wait ? await waitCreated(ctx, started, o.waitTimeout * 1000) : started;
      ctx.print(result, () => volumeFields(result.volume, result.operation));
      const failure = o.wait ? await failureOf(ctx, result) : undefined;
      if (failure) throw failure;
    }),
  );
}
