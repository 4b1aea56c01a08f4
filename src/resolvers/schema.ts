/** Builds the GraphQL schema from the resolvers; `flint schema` prints it for schema/schema.graphql. */
import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { DashboardResolver } from './dashboard.resolver.js';
import { SubscriptionResolver } from './subscription.resolver.js';
import { SystemResolver } from './system.resolver.js';
import { OperationResolver } from './operation.resolver.js';
import { VolumeResolver } from './volume.resolver.js';
import { SnapshotResolver } from './snapshot.resolver.js';
import { AdminResolver } from './admin.resolver.js';
import { MigrationResolver } from './migration.resolver.js';
import { BackupResolver, BackupSubscriptionResolver, VolumeBackupsResolver } from './backup.resolver.js';
import { BackupObject } from './types/backup.js';
import { VolumeTypeResolver } from './volume-type.resolver.js';
import { AttachmentResolver, VolumeAttachmentsResolver } from './attachment.resolver.js';
import { ManageResolver } from './manage.resolver.js';
import { TokenResolver } from './token.resolver.js';
import { QuotaResolver, ViewerQuotaResolver } from './quota.resolver.js';
import { TransferResolver } from './transfer.resolver.js';
import { SnapshotObject } from './types/snapshot.js';
import { OperationObject } from './types/operation.js';
import { VolumeObject } from './types/volume.js';
import { VolumeTypeObject } from './types/system.js';
import { AttachmentObject } from './types/attachment.js';
import { guardInputs } from './input-hygiene.js';

export async function buildFlintSchema(): Promise<GraphQLSchema> {
  // Every argument is checked at the edge, for every transport (src/resolvers/input-hygiene.ts).
  const schema = await buildSchema({
    resolvers: [
      VolumeResolver,
      SnapshotResolver,
      SubscriptionResolver,
      SystemResolver,
      OperationResolver,
      DashboardResolver,
      AdminResolver,
      VolumeTypeResolver,
      MigrationResolver,
      BackupResolver,
      VolumeBackupsResolver,
      BackupSubscriptionResolver,
      AttachmentResolver,
      VolumeAttachmentsResolver,
      ManageResolver,
      TokenResolver,
      QuotaResolver,
      ViewerQuotaResolver,
      TransferResolver,
    ],
    orphanedTypes: [VolumeObject, SnapshotObject, OperationObject, VolumeTypeObject, BackupObject, AttachmentObject],
    validate: false,
    // Every subscription brings its own `subscribe` (src/gateway/live/hub.ts); type-graphql
    // insists on a PubSub all the same, so give it one that is never used.
    pubSub: {
      publish: () => undefined,
      subscribe: () => {
        throw new Error('topic subscriptions are not used; subscriptions define subscribe()');
      },
    },
    emitSchemaFile: false,
  });
  return guardInputs(schema);
}

export async function printFlintSchema(): Promise<string> {
  return printSchema(lexicographicSortSchema(await buildFlintSchema())) + '\n';
}
