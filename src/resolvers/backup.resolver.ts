import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { LiveBackup } from '../bus/index.js';
import { toBackupView, type Backup } from '../db/index.js';
import { requirePrincipal } from '../domain/access.js';
import type { BackupDeleteResult, BackupProgressValue, BackupResult } from './ports/backups.js';
import type { Context } from './context.js';
import {
  BackupConnection,
  BackupFilter,
  BackupPayload,
  DeleteBackupPayload,
  BackupPhaseEnum,
  BackupProgressObject,
  BackupStatusEnum,
  BackupObject,
  CreateBackupInput,
  DeleteBackupInput,
  ImportBackupRecordInput,
  RestoreBackupInput,
  RestoreBackupPayload,
  VerifyBackupInput,
} from './types/backup.js';
import { OperationObject, UserMessageObject } from './types/operation.js';
import { VolumeObject } from './types/volume.js';
import { backwardArgs, connectionOf } from './types/relay.js';

const view = (b: Backup) => BackupObject.from(b, toBackupView);
const payload = (r: BackupResult) => ({ backup: view(r.backup), operation: OperationObject.from(r.operation) });
const deleted = (r: BackupDeleteResult) => ({ backup: view(r.backup), operation: r.operation && OperationObject.from(r.operation), alreadyDeleted: r.alreadyDeleted });

interface SubscribeData<A> {
  args: A;
  context: Context;
}

const ERRORS = 'FORBIDDEN (reader token), UNAUTHENTICATED';

@Resolver(() => BackupObject)
export class BackupResolver {
  @Query(() => BackupObject, {
    nullable: true,
    description: 'A backup by id, or null when it does not exist, is DELETED, or belongs to another project (unless you are an admin). Needs a token (UNAUTHENTICATED otherwise).',
  })
  async backup(@Arg('id', () => ID, { description: 'Id of the backup.' }) id: string, @Ctx() ctx: Context): Promise<BackupObject | null> {
    const b = await ctx.ports.backups.visible(requirePrincipal(ctx.principal), id);
    return b ? view(b) : null;
  }

  @Query(() => BackupConnection, {
    description:
      'Your project\'s backups (every project\'s for admins), oldest first, one page at a time (Relay): pass `pageInfo.endCursor` as `after` for the next page, or `pageInfo.startCursor` as `before` (with `last`) for the one before. ' +
      'DELETED backups are left out unless the filter asks for them. A bad `first`, `after`, `last` or `before`, or both directions at once (`first` with `last`), is BAD_USER_INPUT.',
  })
  async backups(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size: how many backups to return, 0 to 500 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: '`pageInfo.endCursor` of the previous page; omit for the first page.' }) after?: string,
    @Arg('last', () => Int, { nullable: true, description: backwardArgs.last('backups') }) last?: number,
    @Arg('before', () => String, { nullable: true, description: backwardArgs.before }) before?: string,
    @Arg('filter', () => BackupFilter, { nullable: true, description: 'Only backups matching all its conditions; default every backup but DELETED ones.' }) filter?: BackupFilter,
  ): Promise<BackupConnection> {
    const page = await ctx.ports.reads.backups(ctx.principal, {
      first,
      after,
      last,
      before,
      filter: { status: filter?.status as Backup['status'][] | undefined, volumeId: filter?.volumeId, name: filter?.name, projectId: filter?.projectId },
    });
    return connectionOf(page, view);
  }

  @Query(() => String, {
    description:
      'The record of an AVAILABLE backup as an opaque string (base64 of its database record and manifest summary), for `importBackupRecord` in another Flint whose agents use the same repository. ' +
      `Admins only. Errors: NOT_FOUND, INVALID_STATE (not AVAILABLE), FORBIDDEN (not an admin), UNAUTHENTICATED.`,
  })
  async exportBackupRecord(@Arg('id', () => ID, { description: 'Id of the backup.' }) id: string, @Ctx() ctx: Context): Promise<string> {
    return ctx.ports.backups.exportRecord(ctx.principal, id);
  }

  @Mutation(() => BackupPayload, {
    description:
      'Starts backing up a volume (or one of its snapshots) into the backup repository of the agent holding it and returns at once with the backup CREATING and its operation. ' +
      'The volume goes BACKING_UP (an IN_USE volume, with `force`, keeps its status and is read through a temporary snapshot) and back to AVAILABLE when the backup ends AVAILABLE or ERROR. ' +
      '`incremental` stores only the chunks the volume\'s latest AVAILABLE backup lacks. Follow it with `backupProgress`. ' +
      `Errors: NOT_FOUND (volume, snapshot), INVALID_STATE (the volume is not AVAILABLE, or IN_USE without force; the snapshot is not AVAILABLE), BAD_USER_INPUT, CONFLICT (idempotencyKey reused with other parameters or its resource deleted, or the volume changed meanwhile), ${ERRORS}.`,
  })
  async createBackup(@Arg('input', () => CreateBackupInput, { description: 'The backup to take.' }) input: CreateBackupInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.backups.create(ctx.principal, input));
  }

  @Mutation(() => RestoreBackupPayload, {
    description:
      'Writes an AVAILABLE backup into a volume: into an existing AVAILABLE volume of the backup\'s project of at least its size (`volumeId`), or into a new volume created for it (omit `volumeId`). ' +
      'The backup goes RESTORING and the volume RESTORING_BACKUP, then AVAILABLE; when the restore fails (e.g. a damaged chunk) the volume is ERROR_RESTORING with a message, never AVAILABLE. ' +
      `Errors: NOT_FOUND (backup, volume), INVALID_STATE (backup or volume state), BAD_USER_INPUT (volume too small, other project, name with volumeId), CONFLICT, ${ERRORS}.`,
  })
  async restoreBackup(@Arg('input', () => RestoreBackupInput, { description: 'The backup and where to restore it.' }) input: RestoreBackupInput, @Ctx() ctx: Context) {
    const r = await ctx.ports.backups.restore(ctx.principal, input);
    return { backup: view(r.backup), volume: VolumeObject.from(r.volume), operation: OperationObject.from(r.operation) };
  }

  @Mutation(() => DeleteBackupPayload, {
    description:
      'Deletes a backup that is AVAILABLE, ERROR or ERROR_DELETING, or cancels one being taken (CREATING): it goes DELETING, then DELETED; the chunks no other backup uses are collected. ' +
      'Other backups of the volume, older or newer, stay restorable. ' +
      `Errors: NOT_FOUND, INVALID_STATE (says the current state), CONFLICT (expectedVersion is stale), SERVICE_UNAVAILABLE (no agent can reach the repository), ${ERRORS}.`,
  })
  async deleteBackup(@Arg('input', () => DeleteBackupInput, { description: 'The backup to delete.' }) input: DeleteBackupInput, @Ctx() ctx: Context) {
    return deleted(await ctx.ports.backups.delete(ctx.principal, input));
  }

  @Mutation(() => BackupPayload, {
    description:
      'Re-reads every chunk of an AVAILABLE backup and checks its hash. The backup\'s status does not change; the operation ends SUCCEEDED, or FAILED with the first bad chunk (hash and volume offset) in `error.message` ' +
      `and a message in \`Backup.messages\`. Errors: NOT_FOUND, INVALID_STATE (not AVAILABLE), ${ERRORS}.`,
  })
  async verifyBackup(@Arg('input', () => VerifyBackupInput, { description: 'The backup to verify.' }) input: VerifyBackupInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.backups.verify(ctx.principal, input));
  }

  @Mutation(() => BackupPayload, {
    description:
      'Adds a backup exported from another Flint (`exportBackupRecord`) whose agents share this Flint\'s backup repository: it is CREATING while an agent checks the repository holds its manifest and every chunk, ' +
      'then AVAILABLE, or ERROR with the reason. Admins only. Errors: BAD_USER_INPUT (not a record), CONFLICT (already known here), SERVICE_UNAVAILABLE (no agent UP), FORBIDDEN, UNAUTHENTICATED.',
  })
  async importBackupRecord(@Arg('input', () => ImportBackupRecordInput, { description: 'The exported record.' }) input: ImportBackupRecordInput, @Ctx() ctx: Context) {
    return payload(await ctx.ports.backups.importRecord(ctx.principal, input));
  }

  @FieldResolver(() => BackupObject, { nullable: true, description: 'The backup it was compared with (incremental); null for a full backup, or when that backup is DELETED.' })
  async parent(@Root() b: BackupObject, @Ctx() ctx: Context): Promise<BackupObject | null> {
    if (!b.parentId) return null;
    const p = await ctx.loaders.visibleBackup(requirePrincipal(ctx.principal), b.parentId);
    return p ? view(p) : null;
  }

  @FieldResolver(() => VolumeObject, { nullable: true, description: 'The volume it is a backup of; null when that volume is DELETED or not visible to you.' })
  async volume(@Root() b: BackupObject, @Ctx() ctx: Context): Promise<VolumeObject | null> {
    const v = await ctx.loaders.visibleVolume(requirePrincipal(ctx.principal), b.volumeId);
    return v ? VolumeObject.from(v) : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Storage host whose agent took it (admins only; null for others).' })
  host(@Root() b: BackupObject, @Ctx() ctx: Context): string | null {
    return ctx.principal?.role === 'admin' ? b.hostValue : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Pool of the volume when it was taken (admins only; null for others).' })
  pool(@Root() b: BackupObject, @Ctx() ctx: Context): string | null {
    return ctx.principal?.role === 'admin' ? b.poolValue : null;
  }

  @FieldResolver(() => [UserMessageObject], { description: 'Messages about failures of work on this backup (what failed, why, what to do), newest first; kept 30 days.' })
  async messages(@Root() b: BackupObject, @Ctx() ctx: Context): Promise<UserMessageObject[]> {
    return (await ctx.loaders.messagesOf('backup', b.id)).map(UserMessageObject.from);
  }
}

@Resolver(() => VolumeObject)
export class VolumeBackupsResolver {
  @FieldResolver(() => [BackupObject], { description: 'Its backups that are not DELETED, oldest first (they outlive the volume: list them with `backups(filter: {volumeId})` after it is deleted).' })
  async backups(@Root() v: VolumeObject, @Ctx() ctx: Context): Promise<BackupObject[]> {
    return (await ctx.loaders.backupsOf(v.id)).map(view);
  }
}

@Resolver()
export class BackupSubscriptionResolver {
  @Subscription(() => BackupObject, {
    description:
      'The backup as it is now, then again after every change, until it is DELETED (the last event; then the subscription completes). ' +
      'Over graphql-ws, like `volumeChanged`. Authorised like `backup`: NOT_FOUND when it is not visible to you.',
    subscribe: ({ args, context }: SubscribeData<{ id: string }>) => context.ports.watches.backup(context.principal, args.id),
  })
  backupChanged(@Root() ev: LiveBackup, @Arg('id', () => ID, { description: 'Id of the backup to follow.' }) _id: string): BackupObject {
    return BackupObject.fromView(ev.backup);
  }

  @Subscription(() => BackupProgressObject, {
    description:
      'How far the backup\'s running work has come (taking it, or restoring it): bytes done and in all, percent and rate, at least once a second while it is CREATING or RESTORING. ' +
      'The last report is the first with another status (AVAILABLE, ERROR, DELETING, …); then the subscription completes. A backup that is not CREATING or RESTORING gets one report and completes. ' +
      'Over graphql-ws; authorised like `backup`: NOT_FOUND when it is not visible to you.',
    subscribe: ({ args, context }: SubscribeData<{ id: string }>) => context.ports.watches.backupProgress(context.principal, args.id),
  })
  backupProgress(@Root() ev: BackupProgressValue, @Arg('id', () => ID, { description: 'Id of the backup to follow.' }) _id: string): BackupProgressObject {
    return {
      backupId: ev.backupId,
      status: ev.status as BackupStatusEnum,
      phase: ev.phase as BackupPhaseEnum,
      doneBytes: ev.doneBytes,
      totalBytes: ev.totalBytes,
      percent: ev.percent,
      bytesPerSecond: ev.bytesPerSecond,
      at: ev.at,
    };
  }
}
