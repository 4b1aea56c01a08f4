/**
 * The subscriptions' side of the gateway: who may follow what, and which live events match a
 * filter. A watch of one resource starts with its current state (NOT_FOUND when the caller
 * may not see it) and ends with its last change; a watch of many sends changes from now on.
 */
import type { LiveAttachment, LiveBackup, LiveMessage, LiveOperation, LiveSnapshot, LiveVolume } from '../../bus/index.js';
import { Attachment, Backup, Snapshot, toAttachmentView, toBackupView, toSnapshotView, toVolumeView, Volume, type Db, type Principal } from '../../db/index.js';
import { BadInputError, canSee, NotFoundError, requirePrincipal } from '../../domain/index.js';
import type {
  AttachmentEventFilter,
  AttachmentsPort,
  BackupEventFilter,
  BackupsPort,
  LivePort,
  MessageEventFilter,
  OperationEventFilter,
  SnapshotEventFilter,
  SnapshotsPort,
  VolumeEventFilter,
  VolumesPort,
  WatchesPort,
} from '../../resolvers/ports/index.js';
import { leftView } from '../live/hub.js';
import { checkSinceSeq, replayChanges, type ReplayKind } from './change-replay.js';

/** How the change feed's replay reads volumes and makes their events. */
const VOLUME_REPLAY: ReplayKind<Volume, LiveVolume> = {
  type: 'volume',
  read: (em, ids) => em.find(Volume, { id: { $in: ids } }, { disableIdentityMap: true }),
  event: (type, row) => ({ type, volume: toVolumeView(row) }),
  left: (row, projectId, seq) => ({ type: 'DELETED', volume: leftView(toVolumeView(row), projectId, seq) }),
};

const SNAPSHOT_REPLAY: ReplayKind<Snapshot, LiveSnapshot> = {
  type: 'snapshot',
  read: (em, ids) => em.find(Snapshot, { id: { $in: ids } }, { disableIdentityMap: true }),
  event: (type, row) => ({ type, snapshot: toSnapshotView(row) }),
  left: (row, projectId, seq) => ({ type: 'DELETED', snapshot: leftView(toSnapshotView(row), projectId, seq) }),
};

const BACKUP_REPLAY: ReplayKind<Backup, LiveBackup> = {
  type: 'backup',
  read: (em, ids) => em.find(Backup, { id: { $in: ids } }, { disableIdentityMap: true }),
  event: (type, row) => ({ type, backup: toBackupView(row) }),
  left: (row, projectId, seq) => ({ type: 'DELETED', backup: leftView(toBackupView(row), projectId, seq) }),
};

/** An attachment ends DETACHED (as `attachmentChanged` does): its DELETED, in the replay as live. */
const ATTACHMENT_REPLAY: ReplayKind<Attachment, LiveAttachment> = {
  type: 'attachment',
  read: (em, ids) => em.find(Attachment, { id: { $in: ids } }, { disableIdentityMap: true }),
  event: (type, row) => ({ type, attachment: toAttachmentView(row) }),
  left: (row, projectId, seq) => ({ type: 'DELETED', attachment: leftView(toAttachmentView(row), projectId, seq) }),
  ended: (row) => row.status === 'detached',
};

export interface WatchesDeps {
  /** The change feed's log, for the replays of `sinceSeq`. */
  db: Db;
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

/** Whether a snapshot event matches the filter (by the snapshot after the change). */
export function snapshotEventMatches(filter: SnapshotEventFilter | null | undefined, ev: LiveSnapshot): boolean {
  if (!filter) return true;
  if (filter.status?.length && !filter.status.includes(ev.snapshot.status)) return false;
  if (filter.volumeId != null && filter.volumeId !== ev.snapshot.volumeId) return false;
  if (filter.name != null && filter.name !== ev.snapshot.name) return false;
  if (filter.projectId != null && filter.projectId !== ev.snapshot.projectId) return false;
  return true;
}

/** Whether a backup event matches the filter (by the backup after the change). */
export function backupEventMatches(filter: BackupEventFilter | null | undefined, ev: LiveBackup): boolean {
  if (!filter) return true;
  if (filter.status?.length && !filter.status.includes(ev.backup.status)) return false;
  if (filter.volumeId != null && filter.volumeId !== ev.backup.volumeId) return false;
  if (filter.name != null && filter.name !== ev.backup.name) return false;
  if (filter.projectId != null && filter.projectId !== ev.backup.projectId) return false;
  return true;
}

/** Whether an attachment event matches the filter (by the attachment after the change). */
export function attachmentEventMatches(filter: AttachmentEventFilter | null | undefined, ev: LiveAttachment): boolean {
  if (!filter) return true;
  if (filter.status?.length && !filter.status.includes(ev.attachment.status)) return false;
  if (filter.volumeId != null && filter.volumeId !== ev.attachment.volumeId) return false;
  if (filter.instanceId != null && filter.instanceId !== ev.attachment.instanceId) return false;
  if (filter.projectId != null && filter.projectId !== ev.attachment.projectId) return false;
  return true;
}

/**
 * The project whose change feed a `sinceSeq` is in: the caller's own, or for an admin (who
 * otherwise follows every project) the one `filter.projectId` names.
 */
function feedProject(p: Principal, filterProjectId: string | null | undefined, subscription: string): string {
  if (p.role !== 'admin') return p.projectId;
  if (!filterProjectId) throw new BadInputError([`an admin's ${subscription}(sinceSeq:) needs filter.projectId: the change feed and its seq are per project`]);
  return filterProjectId;
}

/**
 * A listener started with a replay: `listen` is in place before `read` reads the log, and
 * holds the live events that arrive meanwhile behind the replay. A failed read (RESYNC_REQUIRED)
 * ends the listener and is the subscription's error.
 */
async function withReplay<T>(listen: (replay: Promise<readonly T[]>) => AsyncIterableIterator<T>, read: () => Promise<T[]>): Promise<AsyncIterableIterator<T>> {
  let settle!: { resolve: (evs: readonly T[]) => void; reject: (err: unknown) => void };
  const replay = new Promise<readonly T[]>((resolve, reject) => (settle = { resolve, reject }));
  replay.catch(() => undefined);
  const it = listen(replay);
  try {
    settle.resolve(await read());
  } catch (err) {
    settle.reject(err);
    await it.return?.();
    throw err;
  }
  return it;
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

  async volumes(principal: Principal | null, filter?: VolumeEventFilter | null, sinceSeq?: number | null) {
    const p = requirePrincipal(principal);
    const accept = (ev: LiveVolume) => canSee(p, ev.volume.projectId) && volumeEventMatches(filter, ev);
    if (sinceSeq === undefined || sinceSeq === null) return this.deps.live.listen(accept);
    checkSinceSeq(sinceSeq);
    const project = feedProject(p, filter?.projectId, 'volumeEvents');
    // Live events of that project only, and none the client had at its seq.
    const live = (ev: LiveVolume) => accept(ev) && ev.volume.projectId === project && (ev.volume.changeSeq ?? Infinity) > sinceSeq;
    return withReplay(
      (replay) => this.deps.live.listen(live, { replay }),
      () => replayChanges(this.deps.db, project, sinceSeq, VOLUME_REPLAY),
    );
  }

  async snapshots(principal: Principal | null, filter?: SnapshotEventFilter | null, sinceSeq?: number | null) {
    const p = requirePrincipal(principal);
    const accept = (ev: LiveSnapshot) => canSee(p, ev.snapshot.projectId) && snapshotEventMatches(filter, ev);
    if (sinceSeq === undefined || sinceSeq === null) return this.deps.live.listenSnapshots(accept);
    checkSinceSeq(sinceSeq);
    const project = feedProject(p, filter?.projectId, 'snapshotEvents');
    const live = (ev: LiveSnapshot) => accept(ev) && ev.snapshot.projectId === project && (ev.snapshot.changeSeq ?? Infinity) > sinceSeq;
    return withReplay(
      (replay) => this.deps.live.listenSnapshots(live, { replay }),
      () => replayChanges(this.deps.db, project, sinceSeq, SNAPSHOT_REPLAY),
    );
  }

  async backups(principal: Principal | null, filter?: BackupEventFilter | null, sinceSeq?: number | null) {
    const p = requirePrincipal(principal);
    const accept = (ev: LiveBackup) => canSee(p, ev.backup.projectId) && backupEventMatches(filter, ev);
    if (sinceSeq === undefined || sinceSeq === null) return this.deps.backups.live.listenAll(accept);
    checkSinceSeq(sinceSeq);
    const project = feedProject(p, filter?.projectId, 'backupEvents');
    const live = (ev: LiveBackup) => accept(ev) && ev.backup.projectId === project && (ev.backup.changeSeq ?? Infinity) > sinceSeq;
    return withReplay(
      (replay) => this.deps.backups.live.listenAll(live, { replay }),
      () => replayChanges(this.deps.db, project, sinceSeq, BACKUP_REPLAY),
    );
  }

  async attachments(principal: Principal | null, filter?: AttachmentEventFilter | null, sinceSeq?: number | null) {
    const p = requirePrincipal(principal);
    const accept = (ev: LiveAttachment) => canSee(p, ev.attachment.projectId) && attachmentEventMatches(filter, ev);
    if (sinceSeq === undefined || sinceSeq === null) return this.deps.live.listenAttachments(accept);
    checkSinceSeq(sinceSeq);
    const project = feedProject(p, filter?.projectId, 'attachmentEvents');
    const live = (ev: LiveAttachment) => accept(ev) && ev.attachment.projectId === project && (ev.attachment.changeSeq ?? Infinity) > sinceSeq;
    return withReplay(
      (replay) => this.deps.live.listenAttachments(live, { replay }),
      () => replayChanges(this.deps.db, project, sinceSeq, ATTACHMENT_REPLAY),
    );
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
