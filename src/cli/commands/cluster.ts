/** `flint pool list`, `flint service list`, `flint volume-type …` and `flint operation show`. */
import type { Command } from 'commander';
import {
  CreateVolumeTypeDocument,
  DeleteVolumeTypeDocument,
  OperationDocument,
  PoolsDocument,
  ServicesDocument,
  VolumeTypesDocument,
  type FlintClient,
} from '../../client/index.js';
import { collectProperty, parsePositiveInt } from './args.js';
import { apiAction } from './context.js';
import { CliError } from './exit-codes.js';
import { operationFields, poolsTable, servicesTable, volumeTypeFields, volumeTypesTable } from './views.js';

/** Registers the cluster and catalogue commands. */
export function registerClusterCommands(program: Command): void {
  const pool = program.command('pool').description('storage pools (admins)');
  pool.configureHelp({ showGlobalOptions: true });
  pool
    .command('list')
    .description('list the pools the agents report, with capacities')
    .action(
      apiAction(async (ctx) => {
        const { pools } = await ctx.client.request(PoolsDocument);
        ctx.print(pools, () => poolsTable(pools));
      }),
    );

  const service = program.command('service').description('Flint processes (admins)');
  service.configureHelp({ showGlobalOptions: true });
  service
    .command('list')
    .description('list gateways, schedulers and agents with their heartbeats')
    .action(
      apiAction(async (ctx) => {
        const { services } = await ctx.client.request(ServicesDocument);
        ctx.print(services, () => servicesTable(services, Date.now()));
      }),
    );

  registerVolumeTypeCommands(program);

  const operation = program.command('operation').description('asynchronous operations started by mutations');
  operation.configureHelp({ showGlobalOptions: true });
  operation
    .command('show')
    .description('show an operation: its status and, when it failed, why')
    .argument('<id>', 'operation id (printed by the mutations)')
    .action(
      apiAction(async (ctx, [id]) => {
        const op = (await ctx.client.request(OperationDocument, { id: id! })).operation;
        if (!op) throw new CliError('NOT_FOUND', `No operation ${id} (or it is not visible to this token).`);
        ctx.print(op, () => operationFields(op));
      }),
    );
}

/** The id of the volume type `ref` names (id or name); `ref` itself when none matches, for the API to refuse. */
async function resolveVolumeTypeId(client: FlintClient, ref: string): Promise<string> {
  const { volumeTypes } = await client.request(VolumeTypesDocument);
  return (volumeTypes.find((t) => t.id === ref) ?? volumeTypes.find((t) => t.name === ref))?.id ?? ref;
}

function registerVolumeTypeCommands(program: Command): void {
  const type = program.command('volume-type').description('volume types: extra specs that choose pools (create and delete: admins)');
  type.configureHelp({ showGlobalOptions: true });
  type
    .command('list')
    .description('list the volume types you may use (admins see private ones too)')
    .action(
      apiAction(async (ctx) => {
        const { volumeTypes } = await ctx.client.request(VolumeTypesDocument);
        ctx.print(volumeTypes, () => volumeTypesTable(volumeTypes));
      }),
    );

  type
    .command('create')
    .description('define a volume type')
    .argument('<name>', 'name of the type')
    .option('--property <key=value>', 'extra spec, e.g. capabilities:tier=gold; repeat for more', collectProperty)
    .option('--description <text>', 'description')
    .option('--private', 'visible to admins only')
    .option('--encryption-provider <provider>', 'encrypt its volumes at rest: LUKS (Cinder\'s encryption type)')
    .option('--encryption-cipher <cipher>', 'with --encryption-provider: aes-xts-plain64 (default) or aes-cbc-essiv:sha256')
    .option('--encryption-key-size <bits>', 'with --encryption-provider: key size in bits (default 256)', parsePositiveInt)
    .action(
      apiAction<{
        property?: Record<string, string>;
        description?: string;
        private?: boolean;
        encryptionProvider?: string;
        encryptionCipher?: string;
        encryptionKeySize?: number;
      }>(async (ctx, [name], o) => {
        if (!o.encryptionProvider && (o.encryptionCipher !== undefined || o.encryptionKeySize !== undefined)) {
          throw new CliError('BAD_USER_INPUT', '--encryption-cipher and --encryption-key-size need --encryption-provider LUKS');
        }
        if (o.encryptionProvider && o.encryptionProvider.toUpperCase() !== 'LUKS') {
          throw new CliError('BAD_USER_INPUT', `--encryption-provider must be LUKS (got ${o.encryptionProvider})`);
        }
        const input = {
          name: name!,
          isPublic: !o.private,
          ...(o.property && { extraSpecs: o.property }),
          ...(o.description !== undefined && { description: o.description }),
          ...(o.encryptionProvider && {
            encryption: {
              provider: 'LUKS' as const,
              ...(o.encryptionCipher !== undefined && { cipher: o.encryptionCipher }),
              ...(o.encryptionKeySize !== undefined && { keySize: o.encryptionKeySize }),
            },
          }),
        };
        const { createVolumeType } = await ctx.client.request(CreateVolumeTypeDocument, { input });
        ctx.print(createVolumeType, () => volumeTypeFields(createVolumeType));
      }),
    );

  type
    .command('delete')
    .description('delete an unused volume type')
    .argument('<type>', 'id or name')
    .action(
      apiAction(async (ctx, [ref]) => {
        const id = await resolveVolumeTypeId(ctx.client, ref!);
        const data = await ctx.client.request(DeleteVolumeTypeDocument, { input: { id } });
        ctx.print(data, () => `Deleted volume type ${data.deleteVolumeType.id}.\n`);
      }),
    );
}
