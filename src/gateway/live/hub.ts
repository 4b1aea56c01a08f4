/**
 * Live fan-out. Whoever commits a change publishes on core NATS which row changed
 * (`flint.live.<project>.volume.<id>`, `….snapshot.<id>`, `….operation.<id>`,
 * `….message.<id>`, `….attachment.<id>`); every gateway follows `flint.live.>` once, reads
 * that row from the database and hands it to its in-process GraphQL subscriptions. The
 * database stays the truth: a missed notice (its gateway died after the commit) is found in the
 * change log a few seconds later by the catch-up (catch-up.ts), and a forged
 * one (only gateways may publish there, src/bus/nats/permissions.ts) can at most make a gateway
 * read the truth again: what a subscriber sees always comes from the database. A gateway
 * with no subscriber of a kind reads nothing.
 */
import type { Subscription as NatsSubscription } from '@nats-io/transport-node';
import {
  decodeEnvelope,
  decodePayload,
  encode,
  KIND,
  liveNotice,
  subjects,
  type LiveNotice,
  type Bus,
  type LiveMessage,
  type LiveOperation,
  type LiveSnapshot,
  type LiveVolume,
  type OperationView,
  type UserMessageView,
} from '../../bus/index.js';
import {
  findAttachment,
  findOperation,
  findSnapshot,
  findVolume,
  latestSeqOf,
  toAttachmentView,
  toSnapshotView,
  toVolumeView,
  UserMessage,
  type Attachment,
  type Db,
  type Operation,
  type Snapshot,
  type Volume,
} from '../../db/index.js';
import { ATTACHMENT_KIND, type LiveAttachment } from '../../bus/index.js';
import { operationEnded } from '../../domain/operations.js';
import type { ListenOptions } from '../../resolvers/ports/index.js';
import { emit, iterate, type Listeners } from './listeners.js';
import { DeliveredVersions } from './catch-up-cursor.js';
import { caughtUpNotice, type CatchUpTarget } from './catch-up.js';

export { SUBSCRIBER_BUFFER } from './listeners.js';

/** Message ids a gateway remembers, so that a notice repeated does not show a message twice. @default 1_000 */
export const SEEN_MESSAGES = 1_000;

/** The event type a subscriber gets: the row decides DELETED; a notice may only say CREATED or UPDATED. */
function eventType(notice: LiveNotice, deleted: boolean): LiveVolume['type'] {
  if (deleted) return 'DELETED';
  return notice.type === 'CREATED' ? 'CREATED' : 'UPDATED';
}

const CATCH_UP_KIND = { volume: KIND.liveVolume, snapshot: KIND.liveSnapshot, attachment: ATTACHMENT_KIND.liveAttachment } as const;

/** How far an operation has come: a late event of an earlier stage is never shown after a later one. */
const OPERATION_STAGE: Record<OperationView['status'], number> = { pending: 0, running: 1, succeeded: 2, failed: 2 };

/**
 * A moved resource as the project it left last saw it: that project's, one version before the
 * move's, at `changeSeq` (the seq of its DELETED in that project's change feed).
 */
export function leftView<T extends { projectId: string; version: number; changeSeq?: number }>(view: T, project: string, changeSeq: number): T {
  return { ...view, projectId: project, version: view.version - 1, changeSeq };
}

export class LiveHub {
  private readonly volumes: Listeners<LiveVolume> = new Set();
  private readonly snapshots: Listeners<LiveSnapshot> = new Set();
  private readonly operations: Listeners<LiveOperation> = new Set();
  private readonly messages: Listeners<LiveMessage> = new Set();
  private readonly attachments: Listeners<LiveAttachment> = new Set();
  private readonly seenMessages = new Set<string>();
  private readonly delivered = new DeliveredVersions();
  private sub: NatsSubscription | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly db: Db,
  ) {}

  start(onError: (err: unknown) => void): void {
    this.sub = this.bus.nc.subscribe(subjects.liveAll, {
      callback: (err, msg) => {
        if (err) return onError(err);
        try {
          const env = decodeEnvelope(msg.data);
          const notice = decodePayload(env, liveNotice);
          this.deliver(env.kind, notice).catch(onError);
        } catch (e) {
          onError(e);
        }
      },
    });
  }

  /** Reads the row a notice names and hands it to the subscribers of its kind (none: nothing is read). */
  private async deliver(kind: string, notice: LiveNotice): Promise<void> {
    const em = () => this.db.fork();
    // A notice of the project a row left; the catch-up names the project of every DELETED it finds, moved or not.
    const left = (row: { projectId: string }) => notice.leftProject !== undefined && notice.leftProject !== row.projectId;
    // Kinds this build does not know come from newer gateways: not for our subscribers.
    if (kind === KIND.liveVolume && this.volumes.size > 0) {
      const v = await findVolume(em(), notice.id);
      if (v && left(v)) emit(this.volumes, { type: 'DELETED', volume: leftView(toVolumeView(v), notice.leftProject!, await latestSeqOf(em(), notice.leftProject!, v.id)) });
      else if (v) emit(this.volumes, { type: eventType(notice, v.status === 'deleted'), volume: toVolumeView(v) });
      if (v) this.delivered.note(left(v) ? notice.leftProject! : v.projectId, v.id, v.version);
    } else if (kind === KIND.liveSnapshot && this.snapshots.size > 0) {
      const s = await findSnapshot(em(), notice.id);
      if (s && left(s)) emit(this.snapshots, { type: 'DELETED', snapshot: leftView(toSnapshotView(s), notice.leftProject!, await latestSeqOf(em(), notice.leftProject!, s.id)) });
      else if (s) emit(this.snapshots, { type: eventType(notice, s.status === 'deleted'), snapshot: toSnapshotView(s) });
      if (s) this.delivered.note(left(s) ? notice.leftProject! : s.projectId, s.id, s.version);
    } else if (kind === KIND.liveOperation && this.operations.size > 0) {
      const o = await findOperation(em(), notice.id);
      if (o) emit(this.operations, { operation: toOperationView(o) });
    } else if (kind === KIND.liveMessage && this.messages.size > 0 && !this.seenMessages.has(notice.id)) {
      const m = await em().findOne(UserMessage, { id: notice.id }, { disableIdentityMap: true });
      if (!m || this.seenMessages.has(m.id)) return;
      this.seenMessages.add(m.id);
      if (this.seenMessages.size > SEEN_MESSAGES) this.seenMessages.delete(this.seenMessages.values().next().value!);
      emit(this.messages, { message: toMessageView(m) });
    } else if (kind === ATTACHMENT_KIND.liveAttachment && this.attachments.size > 0) {
      const a = await findAttachment(em(), notice.id);
      // An attachment ends DETACHED (rows are never deleted): that is its DELETED.
      if (a) emit(this.attachments, { type: eventType(notice, a.status === 'detached'), attachment: toAttachmentView(a) });
      if (a) this.delivered.note(a.projectId, a.id, a.version);
    }
  }

  /** The catch-up's view of this hub's volume, snapshot and attachment subscribers (catch-up.ts). */
  readonly catchUp: CatchUpTarget = {
    listening: (type) => (type === 'volume' ? this.volumes.size > 0 : type === 'snapshot' ? this.snapshots.size > 0 : type === 'attachment' ? this.attachments.size > 0 : false),
    delivered: (_type, projectId, id, version) => this.delivered.has(projectId, id, version),
    deliver: (type, projectId, change) => this.deliver(CATCH_UP_KIND[type as 'volume' | 'snapshot' | 'attachment'], caughtUpNotice(projectId, change)),
  };

  private notify(subject: string, kind: string, notice: LiveNotice): void {
    this.bus.nc.publish(subject, encode(kind, notice));
  }

  /** Announces a volume that was created or changed (call it after the commit). */
  publish(type: LiveVolume['type'], volume: Volume): void {
    this.notify(subjects.liveVolume(volume.projectId, volume.id), KIND.liveVolume, { id: volume.id, type });
  }

  /**
   * Announces a volume and its snapshots that moved to another project (an accepted
   * transfer, which bumps their versions by two): DELETED to the project they left, at the
   * version before last, then CREATED to the one they joined.
   */
  publishMove(volume: Volume, snapshots: readonly Snapshot[], from: string): void {
    this.notify(subjects.liveVolume(from, volume.id), KIND.liveVolume, { id: volume.id, type: 'DELETED', leftProject: from });
    for (const s of snapshots) this.notify(subjects.liveSnapshot(from, s.id), KIND.liveSnapshot, { id: s.id, type: 'DELETED', leftProject: from });
    this.publish('CREATED', volume);
    for (const s of snapshots) this.publishSnapshot('CREATED', s);
  }

  /** Announces a snapshot that was created or changed (call it after the commit). */
  publishSnapshot(type: LiveSnapshot['type'], snapshot: Snapshot): void {
    this.notify(subjects.liveSnapshot(snapshot.projectId, snapshot.id), KIND.liveSnapshot, { id: snapshot.id, type });
  }

  /** Announces an operation that was created or changed (call it after the commit). */
  publishOperation(operation: Operation): void {
    this.notify(subjects.liveOperation(operation.projectId, operation.id), KIND.liveOperation, { id: operation.id });
  }

  /** Announces an attachment that was created or changed (call it after the commit). */
  publishAttachment(type: LiveAttachment['type'], attachment: Attachment): void {
    this.notify(subjects.liveAttachment(attachment.projectId, attachment.id), ATTACHMENT_KIND.liveAttachment, { id: attachment.id, type });
  }

  /** Attachment events that pass `accept`, like `listen` for volumes (stale versions skipped); DELETED when it became DETACHED. */
  listenAttachments(accept: (ev: LiveAttachment) => boolean, opts: ListenOptions<LiveAttachment> = {}): AsyncIterableIterator<LiveAttachment> {
    return iterate(this.attachments, accept, {
      ...opts,
      key: (ev) => ev.attachment.id,
      isStale: (ev, last) => ev.attachment.version <= last.attachment.version,
    });
  }

  /** Announces a user message that was added (call it after the commit). */
  publishMessage(message: UserMessage): void {
    this.notify(subjects.liveMessage(message.projectId, message.id), KIND.liveMessage, { id: message.id });
  }

  /**
   * Volume events that pass `accept`, as an async iterable; `first` is yielded before them.
   * Breaking out of the loop (or the client leaving) unsubscribes. Stale versions of a
   * volume (arriving after a newer one) are skipped so a subscriber never goes back in time.
   */
  listen(accept: (ev: LiveVolume) => boolean, opts: ListenOptions<LiveVolume> = {}): AsyncIterableIterator<LiveVolume> {
    return iterate(this.volumes, accept, {
      ...opts,
      key: (ev) => ev.volume.id,
      isStale: (ev, last) => ev.volume.version <= last.volume.version,
    });
  }

  /** Snapshot events that pass `accept`, like `listen` for volumes (stale versions skipped). */
  listenSnapshots(accept: (ev: LiveSnapshot) => boolean, opts: ListenOptions<LiveSnapshot> = {}): AsyncIterableIterator<LiveSnapshot> {
    return iterate(this.snapshots, accept, {
      ...opts,
      key: (ev) => ev.snapshot.id,
      isStale: (ev, last) => ev.snapshot.version <= last.snapshot.version,
    });
  }

  /** Operation events that pass `accept`; an operation never goes back to an earlier stage. */
  listenOperations(accept: (ev: LiveOperation) => boolean): AsyncIterableIterator<LiveOperation> {
    return iterate(this.operations, accept, {
      key: (ev) => ev.operation.id,
      isStale: (ev, last) => OPERATION_STAGE[ev.operation.status] < OPERATION_STAGE[last.operation.status],
    });
  }

  /**
   * One operation, until it ends: its state read by `current` once listening (so a change made
   * between the caller's read and now is not lost), then each later stage; a stage already
   * seen is not sent again. Ends after SUCCEEDED or FAILED.
   */
  followOperation(id: string, accept: (ev: LiveOperation) => boolean, current: () => Promise<Operation | null>): AsyncIterableIterator<LiveOperation> {
    return iterate(this.operations, (ev) => ev.operation.id === id && accept(ev), {
      key: (ev) => ev.operation.id,
      isStale: (ev, last) => OPERATION_STAGE[ev.operation.status] <= OPERATION_STAGE[last.operation.status],
      until: (ev) => operationEnded(ev.operation.status),
      refresh: async () => {
        const o = await current();
        return o ? { operation: toOperationView(o) } : null;
      },
    });
  }

  /** User messages, as they are added, that pass `accept`. */
  listenMessages(accept: (ev: LiveMessage) => boolean): AsyncIterableIterator<LiveMessage> {
    return iterate(this.messages, accept, {});
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.volumes.clear();
    this.snapshots.clear();
    this.operations.clear();
    this.messages.clear();
    this.attachments.clear();
    this.seenMessages.clear();
  }
}

export function toOperationView(o: Operation): OperationView {
  return {
    id: o.id,
    projectId: o.projectId,
    kind: o.kind,
    resourceType: o.resourceType,
    resourceId: o.resourceId,
    status: o.status,
    errorCode: o.errorCode,
    errorMessage: o.errorMessage,
    deadlineAt: o.deadlineAt ? new Date(o.deadlineAt).toISOString() : null,
    createdAt: new Date(o.createdAt).toISOString(),
    finishedAt: o.finishedAt ? new Date(o.finishedAt).toISOString() : null,
  };
}

export function toMessageView(m: UserMessage): UserMessageView {
  return {
    id: m.id,
    projectId: m.projectId,
    resourceType: m.resourceType,
    resourceId: m.resourceId,
    event: m.event,
    message: m.message,
    level: m.level,
    createdAt: new Date(m.createdAt).toISOString(),
    expiresAt: new Date(m.expiresAt).toISOString(),
  };
}
