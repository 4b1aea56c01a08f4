import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { LiveSnapshot, LiveVolume } from '../bus/index.js';
import type { Context } from './context.js';
import { VolumeEventTypeEnum } from './types/enums.js';
import { VolumeEventObject, VolumeFilter, VolumeObject } from './types/volume.js';
import { SnapshotObject } from './types/snapshot.js';

interface SubscribeData<A> {
  args: A;
  context: Context;
}

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
      'Sends no initial state: read `volumes` first. Over graphql-ws, like `volumeChanged`.',
    subscribe: ({ args, context }: SubscribeData<{ filter?: VolumeFilter }>) => context.ports.watches.volumes(context.principal, args.filter),
  })
  volumeEvents(
    @Root() ev: LiveVolume,
    @Arg('filter', () => VolumeFilter, { nullable: true, description: 'Only changes whose volume (after the change) matches all its conditions; default every change.' }) _filter?: VolumeFilter,
  ): VolumeEventObject {
    return { type: ev.type as VolumeEventTypeEnum, volume: VolumeObject.fromView(ev.volume) };
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
