/** What the subscriptions need from the gateway's live fan-out (src/gateway/live/hub.ts implements it). */
import type { LiveAttachment, LiveMessage, LiveOperation, LiveSnapshot, LiveVolume } from '../../bus/index.js';
import type { Operation } from '../../db/index.js';

/**
 * `first`: yielded before any event; `until`: the event after which the listener ends;
 * `replay`: events the caller is still reading, yielded before the live ones that arrive
 * meanwhile (a change feed's replay); its rejection ends the listener.
 */
export interface ListenOptions<T> {
  first?: T;
  until?: (ev: T) => boolean;
  replay?: Promise<readonly T[]>;
}

export interface LivePort {
  /** Volumes as they are created or change; stale versions are skipped. */
  listen(accept: (ev: LiveVolume) => boolean, opts?: ListenOptions<LiveVolume>): AsyncIterableIterator<LiveVolume>;
  /** Snapshots as they are created or change; stale versions are skipped. */
  listenSnapshots(accept: (ev: LiveSnapshot) => boolean, opts?: ListenOptions<LiveSnapshot>): AsyncIterableIterator<LiveSnapshot>;
  /** Operations as they are created or change. */
  listenOperations(accept: (ev: LiveOperation) => boolean): AsyncIterableIterator<LiveOperation>;
  /** One operation: its state as `current` reads it once listening, then each later stage, until it ends. */
  followOperation(id: string, accept: (ev: LiveOperation) => boolean, current: () => Promise<Operation | null>): AsyncIterableIterator<LiveOperation>;
  /** User messages as they are added. */
  listenMessages(accept: (ev: LiveMessage) => boolean): AsyncIterableIterator<LiveMessage>;
  /** Attachments as they are created or change; stale versions are skipped. */
  listenAttachments(accept: (ev: LiveAttachment) => boolean, opts?: ListenOptions<LiveAttachment>): AsyncIterableIterator<LiveAttachment>;
}
