/**
 * The subscriptions' side of the gateway: who may follow what, and which live events match a
 * filter. A watch of one resource starts with its current state (NOT_FOUND when the caller
 * may not see it) and ends with its last change; a watch of many sends changes from now on.
 */
import type { LiveMessage, LiveOperation, LiveVolume } from '../../bus/index.js';
import { toAttachmentView, toBackupView, toSnapshotView, toVolumeView, type Principal } from '../../db/index.js';
import { canSee, NotFoundError, requirePrincipal } from '../../domain/index.js';
import type { AttachmentsPort, BackupsPort, LivePort, MessageEventFilter, OperationEventFilter, SnapshotsPort, VolumeEventFilter, VolumesPort, WatchesPort } from '../../resolvers/ports/index.js';

export interface WatchesDeps {
  live: LivePort;
  volumes: Pick<VolumesPort, 'visible' | 'operation'>;
  snapshots: Pick<SnapshotsPort, 'visible'>;
  attachments: Pick<AttachmentsPort, 'visible'>;
  backups: Pick<BackupsPort, 'visible' | 'live'>;
}

/** Whether a volume event matches the filter (by the volume after the change). */
export function volumeEventMatches(filter: VolumeEventFilter | null | undefined, ev: LiveVolume): boolean {
  if (!filter) return true;
  if (filter.status?.length && !filter.status.includes(ev.volume.status)) return false;
  if (filter.name != null && filter.name !== ev.volume.name) return false;
  if (filter.availabilityZone != null && filter.availabilityZone !== ev.volume.availabilityZone) return false;
  if (filter.projectId != null && filter.projectId !== ev.volume.projectId) return false;
  return true;
}

export function operationEventMatches(filter: OperationEventFilter | null | undefined, ev: LiveOperation): boolean {
  if (!filter) return true;
  if (filter.status?.length && !filter.status.includes(ev.operation.status)) return false;
  if (filter.kind != null && filter.kind !== ev.operation.kind) return false;
  if (filter.resourceId != null && filter.resourceId !== ev.operation.resourceId) return false;
  return true;
}

export function messageEventMatches(filter: MessageEventFilter | null | undefined, ev: LiveMessage): boolean {
  if (!filter) return true;
  if (filter.resourceType != null && filter.resourceType !== ev.message.resourceType) return false;
  if (filter.resourceId != null && filter.resourceId !== ev.message.resourceId) return false;
  return true;
}

export class Watches implements WatchesPort {
  constructor(private readonly deps: WatchesDeps) {}

  async volume(principal: Principal | null, id: string) {
    const p = requirePrincipal(principal);
    const v = await this.deps.volumes.visible(p, id);
    if (!v) throw new NotFoundError('Volume', id);
    return this.deps.live.listen((ev) => ev.volume.id === id && canSee(p, ev.volume.projectId), {
      first: { type: 'UPDATED', volume: toVolumeView(v) },
      until: (ev) => ev.type === 'DELETED',
    });
  }

  volumes(principal: Principal | null, filter?: VolumeEventFilter | null) {
    const p = requirePrincipal(principal);
    return this.deps.live.listen((ev) => canSee(p, ev.volume.projectId) && volumeEventMatches(filter, ev));
  }

  async snapshot(principal: Principal | null, id: string) {
    const p = requirePrincipal(principal);
    const s = await this.deps.snapshots.visible(p, id);
    if (!s) throw new NotFoundError('Snapshot', id);
    return this.deps.live.listenSnapshots((ev) => ev.snapshot.id === id && canSee(p, ev.snapshot.projectId), {
      first: { type: 'UPDATED', snapshot: toSnapshotView(s) },
      until: (ev) => ev.type === 'DELETED',
    });
  }

  async attachment(principal: Principal | null, id: string) {
    const p = requirePrincipal(principal);
    const a = await this.deps.attachments.visible(p, id);
    if (!a) throw new NotFoundError('Attachment', id);
    return this.deps.live.listenAttachments((ev) => ev.attachment.id === id && canSee(p, ev.attachment.projectId), {
      first: { type: 'UPDATED', attachment: toAttachmentView(a) },
      until: (ev) => ev.attachment.status === 'detached',
    });
  }

  async backup(principal: Principal | null, id: string) {
    const p = requirePrincipal(principal);
    const b = await this.deps.backups.visible(p, id);
    if (!b) throw new NotFoundError('Backup', id);
    return this.deps.backups.live.listen(id, (ev) => canSee(p, ev.backup.projectId), { type: 'UPDATED', backup: toBackupView(b) });
  }

  async backupProgress(principal: Principal | null, id: string) {
    const p = requirePrincipal(principal);
    const b = await this.deps.backups.visible(p, id);
    if (!b) throw new NotFoundError('Backup', id);
    return this.deps.backups.live.listenProgress(toBackupView(b), (ev) => canSee(p, ev.backup.projectId));
  }

  async operation(principal: Principal | null, id: string) {
    const p = requirePrincipal(principal);
    if (!(await this.deps.volumes.operation(p, id))) throw new NotFoundError('Operation', id);
    // Read again once listening: its first event is its state then, not as it was before.
    return this.deps.live.followOperation(id, (ev) => canSee(p, ev.operation.projectId), () => this.deps.volumes.operation(p, id));
  }

  operations(principal: Principal | null, filter?: OperationEventFilter | null) {
    const p = requirePrincipal(principal);
    return this.deps.live.listenOperations((ev) => canSee(p, ev.operation.projectId) && operationEventMatches(filter, ev));
  }

  messages(principal: Principal | null, filter?: MessageEventFilter | null) {
    const p = requirePrincipal(principal);
    return this.deps.live.listenMessages((ev) => canSee(p, ev.message.projectId) && messageEventMatches(filter, ev));
  }
}
