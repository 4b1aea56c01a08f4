import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { LiveSnapshot, LiveVolume } from '../bus/index.js';
import { canSee, NotFoundError, requirePrincipal } from '../domain/index.js';
import { toSnapshotView, toVolumeView } from '../db/index.js';
import type { Context } from './context.js';
import { VolumeEventTypeEnum } from './types/enums.js';
import { VolumeEventObject, VolumeFilter, VolumeObject } from './types/volume.js';
import { SnapshotObject } from './types/snapshot.js';

interface SubscribeData<A> {
  args: A;
  context: Context;
}

function matches(filter: VolumeFilter | undefined, ev: LiveVolume): boolean {
  if (!filter) return true;
  if (filter.status?.length && !(filter.status as string[]).includes(ev.volume.status)) return false;
  if (filter.name !== undefined && filter.name !== ev.volume.name) return false;
  if (filter.availabilityZone !== undefined && filter.availabilityZone !== ev.volume.availabilityZone) return false;
  return true;
}

@Resolver()
export class SubscriptionResolver {
  @Subscription(() => VolumeObject, {
    description:
      'The volume as it is now, then again after every change, until it is DELETED (the last event; then the subscription completes). ' +
      'Over graphql-ws on /graphql with `connectionParams: { authorization: "Bearer <token>" }`. Authorised like `volume`: NOT_FOUND when it is not visible to you.',
    subscribe: async ({ args, context }: SubscribeData<{ id: string }>) => {
      const p = requirePrincipal(context.principal);
      const v = await context.ports.volumes.visible(p, args.id);
      if (!v) throw new NotFoundError('Volume', args.id);
      return context.ports.live.listen((ev) => ev.volume.id === args.id && canSee(p, ev.volume.projectId), {
        first: { type: 'UPDATED', volume: toVolumeView(v) },
        until: (ev) => ev.type === 'DELETED',
      });
    },
  })
  volumeChanged(@Root() ev: LiveVolume, @Arg('id', () => ID, { description: 'Id of the volume to follow.' }) _id: string): VolumeObject {
    return VolumeObject.fromView(ev.volume);
  }

  @Subscription(() => VolumeEventObject, {
    description:
      'Every volume created, changed or deleted from now on that you may see (your project; all for admins) and that matches the filter, for dashboards. ' +
      'Sends no initial state: read `volumes` first. Over graphql-ws, like `volumeChanged`.',
    subscribe: ({ args, context }: SubscribeData<{ filter?: VolumeFilter }>) => {
      const p = requirePrincipal(context.principal);
      return context.ports.live.listen((ev) => canSee(p, ev.volume.projectId) && matches(args.filter, ev));
    },
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
    subscribe: async ({ args, context }: SubscribeData<{ id: string }>) => {
      const p = requirePrincipal(context.principal);
      const s = await context.ports.snapshots.visible(p, args.id);
      if (!s) throw new NotFoundError('Snapshot', args.id);
      return context.ports.live.listenSnapshots((ev) => ev.snapshot.id === args.id && canSee(p, ev.snapshot.projectId), {
        first: { type: 'UPDATED', snapshot: toSnapshotView(s) },
        until: (ev) => ev.type === 'DELETED',
      });
    },
  })
  snapshotChanged(@Root() ev: LiveSnapshot, @Arg('id', () => ID, { description: 'Id of the snapshot to follow.' }) _id: string): SnapshotObject {
    return SnapshotObject.fromView(ev.snapshot);
  }
}
