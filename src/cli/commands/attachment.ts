/**
 * `flint attachment create|complete|delete|show|list`, in the shape of `openstack volume
 * attachment …` (Cinder's v3 attachments). The CHAP secret is printed only where the
 * API shows it (members of the project and admins).
 */
import type { Command } from 'commander';
import {
  AttachmentDocument,
  AttachmentsDocument,
  CompleteAttachmentDocument,
  CreateAttachmentDocument,
  DeleteAttachmentDocument,
  type AttachMode,
  type AttachmentFieldsFragment,
  type AttachmentStatus,
  type OperationFieldsFragment,
  type TargetKind,
} from '../../client/index.js';
import { cell, renderFields, renderTable } from '../output.js';
import { collectStatus, parsePositiveInt } from './args.js';
import { apiAction, type CliContext } from './context.js';
import { CliError } from './exit-codes.js';
import { listPages, waitable, type WaitOptions } from './shared.js';
import { resolveVolumeId } from './volume-ref.js';
import { waitForOperationEnd } from './wait.js';
import { operationSummary } from './views.js';

/** `flint attachment show` and the mutations' output: one field per line. */
export function attachmentFields(a: AttachmentFieldsFragment, op?: OperationFieldsFragment | null): string {
  const fields: Array<[string, string]> = [
    ['id', a.id],
    ['volume_id', a.volumeId],
    ['instance_id', a.instanceId],
    ['status', a.status],
    ['mode', a.mode],
    ['target', a.targetKind],
    ['initiator', cell(a.connector?.initiator)],
    ['connector_host', cell(a.connector?.host)],
  ];
  const c = a.connectionInfo;
  if (c?.driverVolumeType === 'iscsi') {
    fields.push(
      ['target_iqn', cell(c.data.targetIqn)],
      ['target_portal', cell(c.data.targetPortal)],
      ['target_lun', cell(c.data.targetLun)],
      ['auth_method', cell(c.data.authMethod)],
      ['auth_username', cell(c.data.authUsername)],
      ['auth_password', cell(c.data.authPassword)],
    );
  } else if (c) {
    fields.push(['nbd_uri', cell(c.data.uri)]);
    // The CA's PEM is long: the table says where it is; -o json/yaml prints it.
    if (c.data.tls) fields.push(['nbd_tls', `yes (CA certificate: connectionInfo.data.tlsCaCertificate in -o json${c.data.tlsClientCertificateRequired ? '; a client certificate signed by it is required' : ''})`]);
    else fields.push(['nbd_tls', 'no']);
  }
  if (c) fields.push(['access_mode', c.data.accessMode]);
  fields.push(['version', String(a.version)], ['created_at', a.createdAt], ['updated_at', a.updatedAt]);
  const latest = a.messages[0];
  if (latest) fields.push(['latest_message', `${latest.createdAt} ${latest.event}: ${latest.message}`]);
  if (op) fields.push(['operation', operationSummary(op)]);
  return renderFields(fields);
}

/** `flint attachment list`. */
export function attachmentsTable(attachments: readonly AttachmentFieldsFragment[]): string {
  return renderTable(
    ['ID', 'Volume', 'Instance', 'Status', 'Mode', 'Target', 'Connector host'],
    attachments.map((a) => [a.id, a.volumeId, a.instanceId, a.status, a.mode, a.targetKind, cell(a.connector?.host)]),
  );
}

const failed = (a: AttachmentFieldsFragment) => a.status === 'ERROR_ATTACHING' || a.status === 'ERROR_DETACHING';

/**
 * Prints the attachment; with --wait, once the mutation's operation has ended (an export made
 * or removed), as it is then. Exits 1 when the operation FAILED or the attachment is in an
 * ERROR state.
 */
async function finish(ctx: CliContext, started: { attachment: AttachmentFieldsFragment; operation: OperationFieldsFragment | null }, o: WaitOptions): Promise<void> {
  let { attachment, operation } = started;
  if (o.wait && operation) {
    operation = await waitForOperationEnd(ctx, `attachment ${attachment.id}`, operation, o.waitTimeout * 1000);
    attachment = (await ctx.client.request(AttachmentDocument, { id: attachment.id })).attachment ?? attachment;
  }
  ctx.print({ attachment, operation }, () => attachmentFields(attachment, operation));
  if (!o.wait) return;
  if (failed(attachment)) {
    throw new CliError(operation?.error?.code ?? 'INTERNAL', `Attachment ${attachment.id} is ${attachment.status}: ${attachment.messages[0]?.message ?? operation?.error?.message ?? 'see `flint attachment show`'}`, 1);
  }
  if (operation?.status === 'FAILED') throw new CliError(operation.error?.code ?? 'FAILED', `Operation ${operation.id} (${operation.kind}) failed: ${operation.error?.message ?? 'no message'}`, 1);
}

/** Registers `flint attachment …`. */
export function registerAttachmentCommands(program: Command): void {
  const attachment = program.command('attachment').description('attach volumes to consumers over iSCSI or NBD (like `openstack volume attachment`)');
  attachment.configureHelp({ showGlobalOptions: true });

  waitable(
    attachment
      .command('create')
      .description('attach a volume; with --initiator/--connector-host it is exported at once')
      .argument('<volume>', 'id or name of the volume')
      .requiredOption('--instance <id>', 'id of the consumer (VM, host, …)')
      .option('--connector-host <host>', 'host name of the consumer (gives a connector: export now)')
      .option('--initiator <iqn>', 'iSCSI initiator name of the consumer (required for iSCSI)')
      .option('--ip <address>', 'IP address of the consumer')
      .option('--mode <mode>', 'rw or ro', 'rw')
      .option('--target <kind>', 'iscsi or nbd (default: the pool\'s defaultTarget; nbd for a consumer without --initiator where the pool offers it)')
      .option('--idempotency-key <key>', 'repeat the create safely: the same key returns the same attachment'),
    'attachment',
    'its connection info is ready',
  ).action(
    apiAction<{ instance: string; connectorHost?: string; initiator?: string; ip?: string; mode: string; target?: string; idempotencyKey?: string } & WaitOptions>(
      async (ctx, [ref], o) => {
        const volumeId = await resolveVolumeId(ctx.client, ref!);
        const connector =
          o.connectorHost !== undefined || o.initiator !== undefined
            ? { host: o.connectorHost ?? '', ...(o.initiator !== undefined && { initiator: o.initiator }), ...(o.ip !== undefined && { ip: o.ip }) }
            : undefined;
        const input = {
          volumeId,
          instanceId: o.instance,
          mode: o.mode.toUpperCase() as AttachMode,
          ...(connector && { connector }),
          ...(o.target !== undefined && { targetKind: o.target.toUpperCase() as TargetKind }),
          ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey }),
        };
        const { createAttachment } = await ctx.client.request(CreateAttachmentDocument, { input });
        await finish(ctx, createAttachment, o);
      },
    ),
  );

  attachment
    .command('complete')
    .description('say the consumer is connected: ATTACHED, the volume IN_USE')
    .argument('<id>', 'id of the attachment')
    .action(
      apiAction(async (ctx, [id]) => {
        const { completeAttachment } = await ctx.client.request(CompleteAttachmentDocument, { id: id! });
        ctx.print(completeAttachment, () => attachmentFields(completeAttachment.attachment, completeAttachment.operation));
      }),
    );

  waitable(attachment.command('delete').description('detach: remove the export, release the volume').argument('<id>', 'id of the attachment'), 'attachment', 'it is DETACHED').action(
    apiAction<WaitOptions>(async (ctx, [id], o) => {
      const { deleteAttachment } = await ctx.client.request(DeleteAttachmentDocument, { id: id! });
      await finish(ctx, deleteAttachment, o);
    }),
  );

  attachment
    .command('show')
    .description('show an attachment, with its connection info')
    .argument('<id>', 'id of the attachment')
    .action(
      apiAction(async (ctx, [id]) => {
        const { attachment: a } = await ctx.client.request(AttachmentDocument, { id: id! });
        if (!a) throw new CliError('NOT_FOUND', `No attachment ${id} (or it is not visible to this token).`);
        ctx.print(a, () => attachmentFields(a));
      }),
    );

  attachment
    .command('list')
    .description('list attachments (your project\'s; every project\'s for admins), oldest first; DETACHED ones only with --status')
    .option('--volume <volume>', 'only attachments of this volume (id or name)')
    .option('--instance <id>', 'only attachments of this consumer')
    .option('--status <status...>', 'only these states, e.g. ATTACHED RESERVED (default: all but DETACHED)', collectStatus)
    .option('--limit <n>', 'attachments per page, 1 to 500', parsePositiveInt, 50)
    .option('--all-pages', 'fetch every page, not only the first')
    .action(
      apiAction<{ volume?: string; instance?: string; status?: string[]; limit: number; allPages?: boolean }>(async (ctx, _args, o) => {
        const filter = {
          ...(o.volume !== undefined && { volumeId: await resolveVolumeId(ctx.client, o.volume) }),
          ...(o.instance !== undefined && { instanceId: o.instance }),
          ...(o.status && { status: o.status as AttachmentStatus[] }),
        };
        const rows = await listPages(ctx, 'attachments', o, async (first, after) => (await ctx.client.request(AttachmentsDocument, { first, after, filter })).attachments);
        ctx.print(rows, () => attachmentsTable(rows));
      }),
    );
}
