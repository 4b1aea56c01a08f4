/** `flint backup create|restore|delete|verify|list|show`, in the shape of `openstack volume backup …`. */
import type { Command } from 'commander';
import {
  BackupDocument,
  BackupsDocument,
  CreateBackupDocument,
  DeleteBackupDocument,
  RestoreBackupDocument,
  VerifyBackupDocument,
  type BackupFieldsFragment,
  type BackupStatus,
  type FlintClient,
  type OperationFieldsFragment,
} from '../../client/index.js';
import { cell, formatGiB, renderFields, renderTable } from '../output.js';
import { collectStatus, parsePositiveInt } from './args.js';
import { projectId } from './project-ref.js';
import { apiAction, type CliContext } from './context.js';
import { CliError } from './exit-codes.js';
import { listPages, waitable, type WaitOptions } from './shared.js';
import { operationSummary } from './views.js';
import { waitForOperationEnd } from './wait.js';
import { resolveVolumeId } from './volume-ref.js';

const TRANSITIONAL = ['CREATING', 'RESTORING', 'DELETING'];

function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

export function backupsTable(rows: readonly BackupFieldsFragment[]): string {
  return renderTable(
    ['ID', 'Name', 'Status', 'Volume', 'Size', 'Incremental', 'Stored', 'Created'],
    rows.map((b) => [b.id, b.name, b.status, b.volumeId, formatGiB(b.sizeGiB), b.isIncremental ? 'yes' : 'no', bytes(b.storedBytes), cell(b.createdAt)]),
  );
}

export function backupFields(b: BackupFieldsFragment, op?: OperationFieldsFragment | null): string {
  const fields: Array<[string, string]> = [
    ['id', b.id],
    ['name', b.name],
    ['status', b.status],
    ['volume', b.volumeId],
    ['size', formatGiB(b.sizeGiB)],
    ['incremental', b.isIncremental ? `yes (parent ${b.parentId})` : b.incrementalNote ? `no: ${b.incrementalNote}` : 'no'],
    ['data', bytes(b.dataBytes)],
    ['stored', bytes(b.storedBytes)],
    ['deduplicated', bytes(b.dedupBytes)],
    ['read', b.readBytes === null || b.readBytes === undefined ? '-' : `${bytes(b.readBytes)} (${changeTracking(b.changeTracking)})`],
    ['duration', b.durationSeconds === null || b.durationSeconds === undefined ? '-' : `${b.durationSeconds.toFixed(1)} s`],
    ['repository', b.repository],
    ['sha256', b.sha256 ?? '-'],
    ['version', String(b.version)],
  ];
  if (b.snapshotId) fields.push(['snapshot', b.snapshotId]);
  if (b.description) fields.push(['description', b.description]);
  if (b.messages[0]) fields.push(['message', b.messages[0].message]);
  if (op) fields.push(['operation', operationSummary(op)]);
  return renderFields(fields);
}

/** How the backup found what changed, in words. */
function changeTracking(c: BackupFieldsFragment['changeTracking']): string {
  if (c === 'DIRTY_BITMAP') return 'only chunks a dirty bitmap marks';
  if (c === 'RBD_DIFF') return 'only chunks rbd diff lists as changed';
  if (c === 'COMPARE') return 'every allocated chunk, compared with the parent';
  if (c === 'FULL') return 'every allocated chunk';
  return 'change tracking unknown';
}

async function getBackup(client: FlintClient, id: string): Promise<BackupFieldsFragment> {
  const { backup } = await client.request(BackupDocument, { id });
  if (!backup) throw new CliError('NOT_FOUND', `No backup ${id} (or it is not visible to this token).`);
  return backup;
}

/** Polls the operation (and the backup) until the operation ends; fails on a FAILED operation. */
async function follow(ctx: CliContext, backupId: string, op: OperationFieldsFragment, timeoutMs: number): Promise<{ backup: BackupFieldsFragment | null; operation: OperationFieldsFragment }> {
  const until = Date.now() + timeoutMs;
  const operation = await waitForOperationEnd(ctx, `backup ${backupId}`, op, timeoutMs);
  for (;;) {
    // The backup's row may follow its operation by a moment (a cancelled create ends that operation first).
    const { backup } = await ctx.client.request(BackupDocument, { id: backupId });
    if (!backup || !TRANSITIONAL.includes(backup.status)) return { backup, operation };
    if (Date.now() > until) throw new CliError('SERVICE_UNAVAILABLE', `Gave up waiting after ${Math.round(timeoutMs / 1000)} s; the operation ${op.id} is ${operation.status}.`);
    await new Promise((r2) => setTimeout(r2, 200));
  }
}

async function finish(ctx: CliContext, started: { backup: BackupFieldsFragment; operation: OperationFieldsFragment | null }, o: WaitOptions): Promise<void> {
  // Nothing started (deleted already): nothing to wait for.
  if (!o.wait || !started.operation) {
    ctx.print(started, () => backupFields(started.backup, started.operation));
    return;
  }
  const done = await follow(ctx, started.backup.id, started.operation, o.waitTimeout * 1000);
  const b = done.backup ?? { ...started.backup, status: 'DELETED' as BackupStatus };
  ctx.print({ backup: done.backup, operation: done.operation }, () => backupFields(b, done.operation));
  if (done.operation.status === 'FAILED') throw new CliError(done.operation.error?.code ?? 'INTERNAL', done.operation.error?.message ?? 'The operation failed.', 1);
}

/** Registers `flint backup …`. */
export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('backups of volumes into a backup repository (like `openstack volume backup`)');
  backup.configureHelp({ showGlobalOptions: true });

  waitable(
    backup
      .command('create')
      .description('back up a volume (AVAILABLE, or IN_USE with --force)')
      .argument('<volume>', 'id or name of the volume')
      .option('--name <name>', 'name of the backup')
      .option('--description <text>', 'description')
      .option('--snapshot <id>', 'back up this snapshot of the volume')
      .option('--incremental', 'store only what changed since the volume\'s latest AVAILABLE backup')
      .option('--force', 'back up an IN_USE volume (through a temporary snapshot)')
      .option('--idempotency-key <key>', 'repeat the create safely: the same key returns the same backup'),
    'backup',
    'it is AVAILABLE',
  ).action(
    apiAction<{ name?: string; description?: string; snapshot?: string; incremental?: boolean; force?: boolean; idempotencyKey?: string } & WaitOptions>(async (ctx, [ref], o) => {
      const volumeId = await resolveVolumeId(ctx.client, ref!);
      const input = {
        volumeId,
        ...(o.name !== undefined && { name: o.name }),
        ...(o.description !== undefined && { description: o.description }),
        ...(o.snapshot !== undefined && { snapshotId: o.snapshot }),
        ...(o.incremental && { incremental: true }),
        ...(o.force && { force: true }),
        ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey }),
      };
      const { createBackup } = await ctx.client.request(CreateBackupDocument, { input });
      await finish(ctx, createBackup, o);
    }),
  );

  waitable(
    backup
      .command('restore')
      .description('restore a backup into an existing AVAILABLE volume (--volume) or into a new one')
      .argument('<backup>', 'id of the backup')
      .option('--volume <volume>', 'id or name of an AVAILABLE volume at least as large as the backup')
      .option('--name <name>', 'name of the new volume (without --volume)'),
    'restore',
    'it ends',
  ).action(
    apiAction<{ volume?: string; name?: string } & WaitOptions>(async (ctx, [id], o) => {
      const input = {
        backupId: id!,
        ...(o.volume !== undefined && { volumeId: await resolveVolumeId(ctx.client, o.volume) }),
        ...(o.name !== undefined && { name: o.name }),
      };
      const { restoreBackup } = await ctx.client.request(RestoreBackupDocument, { input });
      if (!o.wait) {
        ctx.print(restoreBackup, () => `${backupFields(restoreBackup.backup, restoreBackup.operation)}volume: ${restoreBackup.volume.id} (${restoreBackup.volume.status})\n`);
        return;
      }
      const done = await follow(ctx, id!, restoreBackup.operation, o.waitTimeout * 1000);
      ctx.print({ ...restoreBackup, operation: done.operation }, () => `${operationSummary(done.operation)}\nvolume: ${restoreBackup.volume.id}\n`);
      if (done.operation.status === 'FAILED') throw new CliError(done.operation.error?.code ?? 'INTERNAL', done.operation.error?.message ?? 'The restore failed.', 1);
    }),
  );

  waitable(backup.command('delete').description('delete a backup, or cancel one being taken').argument('<backup>', 'id of the backup'), 'backup', 'it is DELETED').action(
    apiAction<WaitOptions>(async (ctx, [id], o) => {
      const { deleteBackup } = await ctx.client.request(DeleteBackupDocument, { input: { id: id! } });
      await finish(ctx, deleteBackup, o);
    }),
  );

  waitable(backup.command('verify').description('re-read every chunk of a backup and check its hash').argument('<backup>', 'id of the backup'), 'verification', 'it ends').action(
    apiAction<WaitOptions>(async (ctx, [id], o) => {
      const { verifyBackup } = await ctx.client.request(VerifyBackupDocument, { input: { id: id! } });
      await finish(ctx, verifyBackup, o);
    }),
  );

  backup
    .command('list')
    .description('list backups (your project\'s; every project\'s for admins), oldest first')
    .option('--volume <volume>', 'only backups of this volume (id or name)')
    .option('--status <status...>', 'only these states, e.g. AVAILABLE ERROR (default: all but DELETED)', collectStatus)
    .option('--name <name>', 'only backups with exactly this name')
    .option('--project <id|name>', 'admins: only backups of this project')
    .option('--limit <n>', 'backups per page, 1 to 500', parsePositiveInt, 50)
    .option('--all-pages', 'fetch every page, not only the first')
    .action(
      apiAction<{ volume?: string; status?: string[]; name?: string; project?: string; limit: number; allPages?: boolean }>(async (ctx, _args, o) => {
        const project = await projectId(ctx.client, o.project);
        const filter = {
          ...(project !== undefined && { projectId: project }),
          ...(o.volume !== undefined && { volumeId: await resolveVolumeId(ctx.client, o.volume) }),
          ...(o.status && { status: o.status as BackupStatus[] }),
          ...(o.name !== undefined && { name: o.name }),
        };
        const rows = await listPages(ctx, 'backups', o, async (first, after) => (await ctx.client.request(BackupsDocument, { first, after, filter })).backups);
        ctx.print(rows, () => backupsTable(rows));
      }),
    );

  backup
    .command('show')
    .description('show a backup, with its figures and latest failure message')
    .argument('<backup>', 'id of the backup')
    .action(
      apiAction(async (ctx, [id]) => {
        const b = await getBackup(ctx.client, id!);
        ctx.print(b, () => backupFields(b));
      }),
    );
}
