/** `flint volume migrate` (admins) and `flint volume retype`, like `openstack volume migrate` / `openstack volume set --type`. */
import { InvalidArgumentError, type Command } from 'commander';
import { MigrateVolumeDocument, RetypeVolumeDocument, type MigrationPolicy } from '../../client/index.js';
import { apiAction, type CliContext } from './context.js';
import { resolveVolumeId } from './volume-ref.js';
import { volumeFields } from './views.js';
import { failureOf, waitForAction, type MutationResult, type VolumeAction } from './wait.js';
import { finishMutation, waitable, withExpectedVersion, withIdempotencyKey, type WaitOptions } from './shared.js';

/** `never`, `on-demand` (or `on_demand`), any case, as the API's enum. */
export function parseMigrationPolicy(value: string): MigrationPolicy {
  const v = value.trim().toLowerCase().replace('-', '_');
  if (v === 'never') return 'NEVER';
  if (v === 'on_demand') return 'ON_DEMAND';
  throw new InvalidArgumentError('must be never or on-demand');
}

async function finish(ctx: CliContext, action: VolumeAction, started: MutationResult, o: WaitOptions): Promise<void> {
  await finishMutation(ctx, started, o, {
    waitFor: (c, s, timeoutMs) => waitForAction(c, action, s, timeoutMs),
    failureOf,
    fields: (result) => volumeFields(result.volume, result.operation),
  });
}

/** Registers `flint volume migrate` and `flint volume retype` on the `volume` command. */
export function registerMoveCommands(volume: Command): void {
  waitable(
    volume
      .command('migrate')
      .description('move an AVAILABLE volume without snapshots to another pool (admins); its id stays')
      .argument('<volume>', 'id or name')
      .requiredOption('--host <host>', 'destination storage host (see `flint pool list`)')
      .requiredOption('--pool <pool>', 'destination pool on that host')
      .option('--force', 'skip the scheduler\'s filters for that pool (zone, capacity, capabilities)')
      .option('--idempotency-key <key>', 'repeat the migration safely: the same key and request return the first operation, even after it ended'),
    'volume',
    'it is AVAILABLE again (on the new pool, or on the old one when the migration failed)',
  ).action(
    apiAction<{ host: string; pool: string; force?: boolean; idempotencyKey?: string } & WaitOptions>(async (ctx, [ref], o) => {
      const id = await resolveVolumeId(ctx.client, ref!);
      const input = { id, host: o.host, pool: o.pool, force: o.force === true, ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey }) };
      const { migrateVolume } = await ctx.client.request(MigrateVolumeDocument, { input });
      await finish(ctx, 'migrate', migrateVolume, o);
    }),
  );

  waitable(
    withIdempotencyKey(
      withExpectedVersion(
        volume
          .command('retype')
          .description('change the volume type of an AVAILABLE volume, in place or by migrating it')
          .argument('<volume>', 'id or name')
          .requiredOption('--type <name>', 'the new volume type')
          .option('--migration-policy <policy>', 'never (default: only in place) or on-demand (migrate when the pool does not satisfy the type)', parseMigrationPolicy, 'NEVER'),
        'volume',
      ),
      'retype',
    ),
    'volume',
    'it is AVAILABLE again',
  ).action(
    apiAction<{ type: string; migrationPolicy: MigrationPolicy; expectedVersion?: number; idempotencyKey?: string } & WaitOptions>(async (ctx, [ref], o) => {
      const id = await resolveVolumeId(ctx.client, ref!);
      const input = { id, volumeType: o.type, migrationPolicy: o.migrationPolicy, expectedVersion: o.expectedVersion ?? null, ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey }) };
      const { retypeVolume } = await ctx.client.request(RetypeVolumeDocument, { input });
      await finish(ctx, 'retype', retypeVolume, o);
    }),
  );
}
