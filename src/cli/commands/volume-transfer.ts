/** `flint volume transfer create|accept|list|delete`, like `openstack volume transfer request …`. */
import type { Command } from 'commander';
import { AcceptVolumeTransferDocument, CreateVolumeTransferDocument, DeleteVolumeTransferDocument, VolumeTransfersDocument, type VolumeTransferFieldsFragment } from '../../client/index.js';
import { renderFields, renderTable } from '../output.js';
import { apiAction } from './context.js';
import { resolveVolumeId } from './volume-ref.js';

function transferFields(t: VolumeTransferFieldsFragment, extra: Array<[string, string]> = []): string {
  return renderFields([
    ['id', t.id],
    ['name', t.name],
    ['volume', t.volumeId],
    ['status', t.status],
    ...(t.acceptedProjectId ? ([['accepted by', t.acceptedProjectId]] as Array<[string, string]>) : []),
    ['expires', t.expiresAt],
    ...extra,
  ]);
}

/** Registers `flint volume transfer …` on the `volume` command. */
export function registerTransferCommands(volume: Command): void {
  const transfer = volume.command('transfer').description('give a volume to another project (its snapshots go with it)');
  transfer.configureHelp({ showGlobalOptions: true });
  transfer
    .command('create')
    .description('offer a volume: prints the transfer id and its key, this once; give both to the receiving project')
    .argument('<volume>', 'volume id or name (AVAILABLE, without attachments)')
    .option('--name <name>', 'a name for the transfer')
    .action(
      apiAction(async (ctx, [ref], opts: { name?: string }) => {
        const volumeId = await resolveVolumeId(ctx.client, ref!);
        const { createVolumeTransfer: r } = await ctx.client.request(CreateVolumeTransferDocument, { input: { volumeId, ...(opts.name ? { name: opts.name } : {}) } });
        ctx.print(r, () => transferFields(r.transfer, [['auth key', r.authKey]]));
        ctx.stderr.write(`Give the receiving project: flint volume transfer accept ${r.transfer.id} ${r.authKey}\n`);
      }),
    );
  transfer
    .command('accept')
    .description('take a volume another project offered into yours')
    .argument('<transfer-id>', 'the transfer id the giving project got')
    .argument('<auth-key>', 'its key')
    .action(
      apiAction(async (ctx, [transferId, authKey]) => {
        const { acceptVolumeTransfer: r } = await ctx.client.request(AcceptVolumeTransferDocument, { input: { transferId: transferId!, authKey: authKey! } });
        ctx.print(r, () => transferFields(r.transfer, [['volume status', r.volume.status]]));
      }),
    );
  transfer
    .command('list')
    .description("pending transfers of your project (admins: every project's)")
    .action(
      apiAction(async (ctx) => {
        const { volumeTransfers } = await ctx.client.request(VolumeTransfersDocument, { first: 500 });
        const rows = volumeTransfers.edges.map((e) => e.node);
        ctx.print(rows, () => renderTable(['ID', 'Name', 'Volume', 'Expires'], rows.map((t) => [t.id, t.name, t.volumeId, t.expiresAt])));
      }),
    );
  transfer
    .command('delete')
    .description('cancel a pending transfer: the volume is AVAILABLE again')
    .argument('<transfer-id>', 'the transfer id')
    .action(
      apiAction(async (ctx, [id]) => {
        const { deleteVolumeTransfer: r } = await ctx.client.request(DeleteVolumeTransferDocument, { input: { id: id! } });
        ctx.print(r, () => transferFields(r.transfer));
      }),
    );
}
