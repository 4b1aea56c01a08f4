/**
 * `flint volume delete` of one or several volumes (with `--force`: the admin's
 * `forceDeleteVolume`), and the admins' `flint volume manage|unmanage`.
 */
import type { Command } from 'commander';
import {
  DeleteVolumeDocument,
  ForceDeleteVolumeDocument,
  ManageVolumeDocument,
  ResetVolumeStatusDocument,
  UnmanageVolumeDocument,
  type VolumeStatus,
} from '../../client/index.js';
import { renderTable } from '../output.js';
import { collectProperty } from './args.js';
import { apiAction, type CliContext } from './context.js';
import { CliError, describeFailure, formatFailure } from './exit-codes.js';
import { projectId } from './project-ref.js';
import { finishMutation, waitable, withExpectedVersion, type WaitOptions } from './shared.js';
import { volumeFields } from './views.js';
import { failureOf, waitForAction, type MutationResult, type VolumeAction } from './wait.js';
import { resolveVolumeId } from './volume-ref.js';

/** The audit reason of `--force` and `set --state` when `--reason` is not given. */
export const DEFAULT_REASON = 'by hand with the flint CLI (no --reason given)';

/** The options of `flint volume delete`. */
export interface DeleteOptions extends WaitOptions {
  expectedVersion?: number;
  cascade?: boolean;
  force?: boolean;
  reason?: string;
}

/**
 * Refuses, before any request, what `flint volume delete` cannot do (CliError
 * BAD_USER_INPUT): `--expected-version` for several volumes or with `--force` (a forced
 * delete takes none), `--reason` without `--force`.
 */
export function checkDeleteOptions(refs: readonly string[], o: DeleteOptions): void {
  if (o.expectedVersion !== undefined && refs.length > 1) throw new CliError('BAD_USER_INPUT', '--expected-version applies to one volume; delete the volumes one by one to give each its version.');
  if (o.expectedVersion !== undefined && o.force) throw new CliError('BAD_USER_INPUT', '--expected-version cannot be used with --force (a forced delete takes the volume as it is).');
  if (o.reason !== undefined && !o.force) throw new CliError('BAD_USER_INPUT', '--reason is recorded only by --force.');
}

/** One line of the report of a delete of several volumes. */
export interface DeleteReport {
  volume: string;
  id: string | null;
  status: string | null;
  operation: string | null;
  error: string | null;
}

/** The table of a delete of several volumes: one row per volume named, in the order named. */
export function deleteReportTable(rows: readonly DeleteReport[]): string {
  return renderTable(
    ['Volume', 'ID', 'Status', 'Operation', 'Error'],
    rows.map((r) => [r.volume, r.id ?? '-', r.status ?? '-', r.operation ?? '-', r.error ?? '-']),
  );
}

async function startDelete(ctx: CliContext, ref: string, o: DeleteOptions): Promise<MutationResult> {
  const id = await resolveVolumeId(ctx.client, ref);
  if (o.force) {
    const { forceDeleteVolume } = await ctx.client.request(ForceDeleteVolumeDocument, { input: { id, reason: o.reason ?? DEFAULT_REASON } });
    return forceDeleteVolume;
  }
  const input = { id, expectedVersion: o.expectedVersion ?? null, ...(o.cascade && { cascade: true }) };
  return (await ctx.client.request(DeleteVolumeDocument, { input })).deleteVolume;
}

/** Prints a volume mutation's result, after waiting for its end with `--wait` (then failing on an ERROR outcome). */
export async function finishVolumeMutation(ctx: CliContext, action: VolumeAction, started: MutationResult, o: WaitOptions): Promise<void> {
  await finishMutation(ctx, started, o, {
    waitFor: (c, s, timeoutMs) => waitForAction(c, action, s, timeoutMs),
    failureOf,
    fields: (result) => volumeFields(result.volume, result.operation),
  });
}

/**
 * Deletes every volume named, each on its own: a failure is reported (on stderr and in
 * the report) and the next one is tried. Fails at the end, with the exit code of the
 * first failure, when any did.
 */
async function deleteSeveral(ctx: CliContext, refs: readonly string[], o: DeleteOptions): Promise<void> {
  const rows: DeleteReport[] = [];
  let firstFailure: ReturnType<typeof describeFailure> | undefined;
  for (const ref of refs) {
    try {
      const started = await startDelete(ctx, ref, o);
      const result = o.wait ? await waitForAction(ctx, 'delete', started, o.waitTimeout * 1000) : started;
      const failure = o.wait ? await failureOf(ctx, result) : undefined;
      if (failure) throw failure;
      rows.push({ volume: ref, id: result.volume.id, status: result.volume.status, operation: result.operation?.id ?? null, error: null });
    } catch (err) {
      const f = describeFailure(err);
      firstFailure ??= f;
      ctx.stderr.write(`${formatFailure({ ...f, message: `${ref}: ${f.message}` })}\n`);
      rows.push({ volume: ref, id: null, status: null, operation: null, error: f.code ? `${f.code}: ${f.message}` : f.message });
    }
  }
  ctx.print(rows, () => deleteReportTable(rows));
  if (firstFailure) {
    const failed = rows.filter((r) => r.error).map((r) => r.volume);
    throw new CliError(firstFailure.code ?? 'ERROR', `${failed.length} of ${refs.length} volumes were not deleted: ${failed.join(', ')}.`, firstFailure.exitCode);
  }
}

/** Registers `flint volume delete`. */
export function registerDeleteCommand(volume: Command): void {
  waitable(
    withExpectedVersion(
      volume
        .command('delete')
        .description('delete volumes (AVAILABLE or in an ERROR state); with several, each is tried and reported')
        .argument('<volume...>', 'ids or names'),
      'volume',
    )
      .option('--cascade', 'delete its snapshots too (without it, a volume with snapshots is refused with INVALID_STATE)')
      .option('--force', 'admins: delete in any status but DELETED, with its snapshots (forceDeleteVolume; audited)')
      .option('--reason <text>', `why, for the audit record of --force (default "${DEFAULT_REASON}")`),
    'volume',
    'it is DELETED',
  ).action(
    apiAction<DeleteOptions>(async (ctx, args, o) => {
      // A variadic argument arrives as one array.
      const refs = args[0] as unknown as string[];
      checkDeleteOptions(refs, o);
      if (refs.length === 1) await finishVolumeMutation(ctx, 'delete', await startDelete(ctx, refs[0]!, o), o);
      else await deleteSeveral(ctx, refs, o);
    }),
  );
}

/** Registers `flint volume manage` and `flint volume unmanage` (admins). */
export function registerManageCommands(volume: Command): void {
  waitable(
    volume
      .command('manage')
      .description('admins: adopt an existing image of a pool as a volume (see `manageableVolumes`)')
      .argument('<name>', 'name of the new volume')
      .requiredOption('--host <host>', 'storage host of the pool')
      .requiredOption('--pool <pool>', 'pool on that host')
      .requiredOption('--reference <file>', 'the image: a file name inside the pool directory')
      .option('--project <id|name>', 'the project it goes to (default: yours)')
      .option('--description <text>', 'description')
      .option('--type <name>', 'volume type to record')
      .option('--zone <zone>', 'availability zone (default and only choice: the pool\'s)')
      .option('--property <key=value>', 'metadata; repeat for more', collectProperty)
      .option('--idempotency-key <key>', 'repeat the request safely'),
    'volume',
    'it is AVAILABLE',
  ).action(
    apiAction<
      { host: string; pool: string; reference: string; project?: string; description?: string; type?: string; zone?: string; property?: Record<string, string>; idempotencyKey?: string } & WaitOptions
    >(async (ctx, [name], o) => {
      const project = await projectId(ctx.client, o.project);
      const input = {
        name: name!,
        host: o.host,
        pool: o.pool,
        reference: o.reference,
        ...(project !== undefined && { projectId: project }),
        ...(o.description !== undefined && { description: o.description }),
        ...(o.type !== undefined && { volumeType: o.type }),
        ...(o.zone !== undefined && { availabilityZone: o.zone }),
        ...(o.property && { metadata: o.property }),
        ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey }),
      };
      const { manageVolume } = await ctx.client.request(ManageVolumeDocument, { input });
      await finishVolumeMutation(ctx, 'create', manageVolume, o);
    }),
  );

  waitable(
    withExpectedVersion(volume.command('unmanage').description('admins: forget a volume and keep its image on the pool').argument('<volume>', 'id or name'), 'volume'),
    'volume',
    'it is DELETED',
  ).action(
    apiAction<{ expectedVersion?: number } & WaitOptions>(async (ctx, [ref], o) => {
      const id = await resolveVolumeId(ctx.client, ref!);
      const { unmanageVolume } = await ctx.client.request(UnmanageVolumeDocument, { input: { id, expectedVersion: o.expectedVersion ?? null } });
      await finishVolumeMutation(ctx, 'delete', unmanageVolume, o);
    }),
  );
}

/** `flint volume set --state`: the admin's reset of a volume's status (audited). */
export async function resetStatus(ctx: CliContext, id: string, state: string, reason: string | undefined): Promise<void> {
  const { resetVolumeStatus } = await ctx.client.request(ResetVolumeStatusDocument, {
    input: { id, status: state.toUpperCase() as VolumeStatus, reason: reason ?? DEFAULT_REASON },
  });
  ctx.print(resetVolumeStatus, () => volumeFields(resetVolumeStatus.volume));
}
