import { Arg, Float, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { LiveAttachment, LiveBackup, LiveSnapshot, LiveVolume } from '../bus/index.js';
import type { Context } from './context.js';
import { AttachmentEventTypeEnum, BackupEventTypeEnum, SnapshotEventTypeEnum, VolumeEventTypeEnum } from './types/enums.js';
import { AttachmentEventObject, AttachmentFilter, AttachmentObject } from './types/attachment.js';
import { BackupEventObject, BackupFilter, BackupObject } from './types/backup.js';
import { VolumeEventObject, VolumeFilter, VolumeObject } from './types/volume.js';
import { SnapshotEventObject, SnapshotFilter, SnapshotObject } from './types/snapshot.js';

interface SubscribeData<A> {
  args: A;
  context: Context;
}

/** The description of `sinceSeq`, the same on every event subscription of the change feed; `list` names the list query. */
const sinceSeqDescription = (list: string, many: string) =>
  `Start from the change feed instead of from now: first the current state of each ${many.slice(0, -1)} of the project changed after this seq, once per ${many.slice(0, -1)} (its latest state, not every step), ` +
  `in the order of those changes; then the live events, with no gap between. Pass the \`changeSeq\` of \`${list}\` (list, then subscribe). To resume after a disconnect, a seq somewhat below the last event's \`changeSeq\` is safe: live events of different ${many} may arrive out of seq order, and a repeat is harmless. ` +
  'Events may repeat what the list showed: keep the higher `version`. The feed is per project: an admin must give `filter.projectId`. ' +
  'RESYNC_REQUIRED when the feed no longer keeps the changes after it (FLINT_CHANGE_RETENTION_SECONDS, one day by default), when it is ahead of the project\'s feed, or when more than 1000 changed: list again and subscribe with the new `changeSeq`.';

@Resolver()
export class SubscriptionResolver {
  @Subscription(() => VolumeObject, {
    description:
      'The volume as it is now, then again after every change, until it is DELETED (the last event; then the subscription completes). ' +
      'Over graphql-ws on /graphql with `connectionParams: { authorization: "Bearer <token>" }`. Authorised like `volume`: NOT_FOUND when it is not visible to you.',
    subscribe: ({ args, context }: SubscribeData<{ id: string }>) => context.ports.watches.volume(context.principal, args.id),
  })
  volumeChanged(@Root() ev: LiveVolume, @Arg('id', () => ID, { description: 'Id of the volume to follow.' }) _id: string): VolumeObject {
    return VolumeObject.fromView(ev.volume);
  }

  @Subscription(() => VolumeEventObject, {
    description:
      'Every volume created, changed or deleted from now on that you may see (your project; all for admins) and that matches the filter, for dashboards. ' +
      'Sends no initial state: read `volumes` first, then subscribe with `sinceSeq` set to its `changeSeq` to miss nothing in between. Over graphql-ws, like `volumeChanged`.',
    subscribe: ({ args, context }: SubscribeData<{ filter?: VolumeFilter; sinceSeq?: number | null }>) => context.ports.watches.volumes(context.principal, args.filter, args.sinceSeq),
  })
  volumeEvents(
    @Root() ev: LiveVolume,
    @Arg('filter', () => VolumeFilter, { nullable: true, description: 'Only changes whose volume (after the change) matches all its conditions; default every change.' }) _filter?: VolumeFilter,
    @Arg('sinceSeq', () => Float, { nullable: true, description: sinceSeqDescription('volumes', 'volumes') }) _sinceSeq?: number,
  ): VolumeEventObject {
    return { type: ev.type as VolumeEventTypeEnum, volume: VolumeObject.fromView(ev.volume) };
  }

  @Subscription(() => SnapshotEventObject, {
    description:
      'Every snapshot created, changed or deleted from now on that you may see (your project; all for admins) and that matches the filter. ' +
      'Sends no initial state: read `snapshots` first, then subscribe with `sinceSeq` set to its `changeSeq`. Over graphql-ws, like `volumeChanged`.',
    subscribe: ({ args, context }: SubscribeData<{ filter?: SnapshotFilter; sinceSeq?: number | null }>) => context.ports.watches.snapshots(context.principal, args.filter, args.sinceSeq),
  })
  snapshotEvents(
    @Root() ev: LiveSnapshot,
    @Arg('filter', () => SnapshotFilter, { nullable: true, description: 'Only changes whose snapshot (after the change) matches all its conditions; default every change.' }) _filter?: SnapshotFilter,
    @Arg('sinceSeq', () => Float, { nullable: true, description: sinceSeqDescription('snapshots', 'snapshots') }) _sinceSeq?: number,
  ): SnapshotEventObject {
    return { type: ev.type as SnapshotEventTypeEnum, snapshot: SnapshotObject.fromView(ev.snapshot) };
  }

  @Subscription(() => BackupEventObject, {
    description:
      'Every backup created, changed or deleted from now on that you may see (your project; all for admins) and that matches the filter. ' +
      'Sends no initial state: read `backups` first, then subscribe with `sinceSeq` set to its `changeSeq`. Over graphql-ws, like `volumeChanged`; `backupChanged` follows one backup, `backupProgress` its running work.',
    subscribe: ({ args, context }: SubscribeData<{ filter?: BackupFilter; sinceSeq?: number | null }>) => context.ports.watches.backups(context.principal, args.filter, args.sinceSeq),
  })
  backupEvents(
    @Root() ev: LiveBackup,
    @Arg('filter', () => BackupFilter, { nullable: true, description: 'Only changes whose backup (after the change) matches all its conditions; default every change.' }) _filter?: BackupFilter,
    @Arg('sinceSeq', () => Float, { nullable: true, description: sinceSeqDescription('backups', 'backups') }) _sinceSeq?: number,
  ): BackupEventObject {
    return { type: ev.type as BackupEventTypeEnum, backup: BackupObject.fromView(ev.backup) };
  }

  @Subscription(() => AttachmentEventObject, {
    description:
      'Every attachment created, changed or detached from now on that you may see (your project; all for admins) and that matches the filter; DELETED when one became DETACHED (attachments end DETACHED, they are never removed). ' +
      'Sends no initial state: read `attachments` first, then subscribe with `sinceSeq` set to its `changeSeq`. Over graphql-ws, like `volumeChanged`.',
    subscribe: ({ args, context }: SubscribeData<{ filter?: AttachmentFilter; sinceSeq?: number | null }>) => context.ports.watches.attachments(context.principal, args.filter, args.sinceSeq),
  })
  attachmentEvents(
    @Root() ev: LiveAttachment,
    @Arg('filter', () => AttachmentFilter, { nullable: true, description: 'Only changes whose attachment (after the change) matches all its conditions; default every change.' }) _filter?: AttachmentFilter,
    @Arg('sinceSeq', () => Float, { nullable: true, description: sinceSeqDescription('attachments', 'attachments') }) _sinceSeq?: number,
  ): AttachmentEventObject {
    return { type: ev.type as AttachmentEventTypeEnum, attachment: AttachmentObject.fromView(ev.attachment) };
  }

  @Subscription(() => SnapshotObject, {
    description:
      'The snapshot as it is now, then again after every change, until it is DELETED (the last event; then the subscription completes). ' +
      'Over graphql-ws, like `volumeChanged`. Authorised like `snapshot`: NOT_FOUND when it is not visible to you.',
    subscribe: ({ args, context }: SubscribeData<{ id: string }>) => context.ports.watches.snapshot(context.principal, args.id),
  })
  snapshotChanged(@Root() ev: LiveSnapshot, @Arg('id', () => ID, { description: 'Id of the snapshot to follow.' }) _id: string): SnapshotObject {
    return SnapshotObject.fromView(ev.snapshot);
  }
}
