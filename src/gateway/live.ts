/**
 * Live fan-out. Whoever commits a change publishes it on core NATS
 * (`flint.live.<project>.volume.<id>`, `….snapshot.<id>`, `….operation.<id>`,
 * `….message.<id>`); every
 * gateway follows `flint.live.>` once and hands each event to its in-process GraphQL
 * subscriptions. The database stays the truth: a missed live event is only a missed
 * notification.
 */
import type { Subscription as NatsSubscription } from '@nats-io/transport-node';
import {
  decodeEnvelope,
  decodePayload,
  encode,
  KIND,
  liveMessage,
  liveOperation,
  liveSnapshot,
  liveVolume,
  subjects,
  type Bus,
  type LiveMessage,
  type LiveOperation,
  type LiveSnapshot,
  type LiveVolume,
  type OperationView,
  type UserMessageView,
} from '../bus/index.js';
import { toAttachmentView, toSnapshotView, toVolumeView, type Attachment, type Operation, type Snapshot, type UserMessage, type Volume } from '../db/index.js';
import { ATTACHMENT_KIND, liveAttachment, type LiveAttachment } from '../bus/index.js';

/** Events buffered per slow subscriber before the oldest are dropped. @default 1000 */
export const SUBSCRIBER_BUFFER = 1000;

/** How far an operation has come: a late event of an earlier stage is never shown after a later one. */
const OPERATION_STAGE: Record<OperationView['status'], number> = { pending: 0, running: 1, succeeded: 2, failed: 2 };

type Listeners<T> = Set<(ev: T) => void>;

export class LiveHub {
  private readonly volumes: Listeners<LiveVolume> = new Set();
  private readonly snapshots: Listeners<LiveSnapshot> = new Set();
  private readonly operations: Listeners<LiveOperation> = new Set();
  private readonly messages: Listeners<LiveMessage> = new Set();
  private readonly attachments: Listeners<LiveAttachment> = new Set();
  private sub: NatsSubscription | undefined;

  constructor(private readonly bus: Bus) {}

  start(onError: (err: unknown) => void): void {
    this.sub = this.bus.nc.subscribe(subjects.liveAll, {
      callback: (err, msg) => {
        if (err) return onError(err);
        try {
          const env = decodeEnvelope(msg.data);
          // Kinds this build does not know come from newer gateways: not for our subscribers.
          if (env.kind === KIND.liveVolume) emit(this.volumes, decodePayload(env, liveVolume));
          else if (env.kind === KIND.liveSnapshot) emit(this.snapshots, decodePayload(env, liveSnapshot));
          else if (env.kind === KIND.liveOperation) emit(this.operations, decodePayload(env, liveOperation));
          else if (env.kind === KIND.liveMessage) emit(this.messages, decodePayload(env, liveMessage));
          else if (env.kind === ATTACHMENT_KIND.liveAttachment) emit(this.attachments, decodePayload(env, liveAttachment));
        } catch (e) {
          onError(e);
        }
      },
    });
  }

  publish(type: LiveVolume['type'], volume: Volume): void {
    const view = toVolumeView(volume);
    this.bus.nc.publish(subjects.liveVolume(view.projectId, view.id), encode(KIND.liveVolume, { type, volume: view } satisfies LiveVolume));
  }

  /** Announces a snapshot that was created or changed (call it after the commit). */
  publishSnapshot(type: LiveSnapshot['type'], snapshot: Snapshot): void {
    const view = toSnapshotView(snapshot);
    this.bus.nc.publish(subjects.liveSnapshot(view.projectId, view.id), encode(KIND.liveSnapshot, { type, snapshot: view } satisfies LiveSnapshot));
  }

  /** Announces an operation that was created or changed (call it after the commit). */
  publishOperation(operation: Operation): void {
    const view = toOperationView(operation);
    this.bus.nc.publish(subjects.liveOperation(view.projectId, view.id), encode(KIND.liveOperation, { operation: view } satisfies LiveOperation));
  }

  /** Announces an attachment that was created or changed (call it after the commit); the view carries no CHAP secret. */
  publishAttachment(type: LiveAttachment['type'], attachment: Attachment): void {
    const view = toAttachmentView(attachment);
    this.bus.nc.publish(subjects.liveAttachment(view.projectId, view.id), encode(ATTACHMENT_KIND.liveAttachment, { type, attachment: view } satisfies LiveAttachment));
  }

  /** Attachment events that pass `accept`, like `listen` for volumes (stale versions skipped). */
  listenAttachments(
    accept: (ev: LiveAttachment) => boolean,
    opts: { first?: LiveAttachment; until?: (ev: LiveAttachment) => boolean } = {},
  ): AsyncIterableIterator<LiveAttachment> {
    return iterate(this.attachments, accept, {
      ...opts,
      key: (ev) => ev.attachment.id,
      isStale: (ev, last) => ev.attachment.version <= last.attachment.version,
    });
  }

  /** Announces a user message that was added (call it after the commit). */
  publishMessage(message: UserMessage): void {
    const view = toMessageView(message);
    this.bus.nc.publish(subjects.liveMessage(view.projectId, view.id), encode(KIND.liveMessage, { message: view } satisfies LiveMessage));
  }

  /**
   * Volume events that pass `accept`, as an async iterable; `first` is yielded before them.
   * Breaking out of the loop (or the client leaving) unsubscribes. Stale versions of a
   * volume (arriving after a newer one) are skipped so a subscriber never goes back in time.
   */
  listen(accept: (ev: LiveVolume) => boolean, opts: { first?: LiveVolume; until?: (ev: LiveVolume) => boolean } = {}): AsyncIterableIterator<LiveVolume> {
    return iterate(this.volumes, accept, {
      ...opts,
      key: (ev) => ev.volume.id,
      isStale: (ev, last) => ev.volume.version <= last.volume.version,
    });
  }

  /** Snapshot events that pass `accept`, like `listen` for volumes (stale versions skipped). */
  listenSnapshots(
    accept: (ev: LiveSnapshot) => boolean,
    opts: { first?: LiveSnapshot; until?: (ev: LiveSnapshot) => boolean } = {},
  ): AsyncIterableIterator<LiveSnapshot> {
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

function emit<T>(listeners: Listeners<T>, ev: T): void {
  for (const l of listeners) l(ev);
}

interface IterateOptions<T> {
  first?: T;
  until?: (ev: T) => boolean;
  /** Which object an event is about, to drop stale ones with `isStale`. */
  key?: (ev: T) => string;
  isStale?: (ev: T, last: T) => boolean;
}

/** One subscriber's queue over a listener set: bounded, ends on `return()` or `until`. */
function iterate<T>(listeners: Listeners<T>, accept: (ev: T) => boolean, opts: IterateOptions<T>): AsyncIterableIterator<T> {
  const queue: T[] = [];
  const seen = new Map<string, T>();
  let wake: (() => void) | undefined;
  let done = false;
  const push = (ev: T): void => {
    if (done) return;
    if (opts.key) {
      const k = opts.key(ev);
      const last = seen.get(k);
      if (last !== undefined && opts.isStale?.(ev, last)) return;
      seen.set(k, ev);
    }
    queue.push(ev);
    if (queue.length > SUBSCRIBER_BUFFER) queue.shift();
    wake?.();
  };
  const listener = (ev: T): void => {
    if (accept(ev)) push(ev);
  };
  listeners.add(listener);
  if (opts.first) push(opts.first);
  const finish = (): void => {
    done = true;
    listeners.delete(listener);
    wake?.();
  };
  const iterator: AsyncIterableIterator<T> = {
    next: async () => {
      while (queue.length === 0 && !done) await new Promise<void>((r) => (wake = r));
      const ev = queue.shift();
      if (ev === undefined) return { done: true, value: undefined };
      if (opts.until?.(ev)) finish();
      return { done: false, value: ev };
    },
    return: async () => {
      finish();
      queue.length = 0;
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
