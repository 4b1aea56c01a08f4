/** What the subscriptions need from the gateway's live fan-out (src/gateway/live/hub.ts implements it). */
import type { LiveAttachment, LiveMessage, LiveOperation, LiveSnapshot, LiveVolume } from '../../bus/index.js';
import type { Operation } from '../../db/index.js';

export interface LivePort {
  listen(accept: (ev: LiveVolume) => boolean, opts?: { first?: LiveVolume; until?: (ev: LiveVolume) => boolean }): AsyncIterableIterator<LiveVolume>;
  /** Snapshots as they are created or change; stale versions are skipped. */
  listenSnapshots(accept: (ev: LiveSnapshot) => boolean, opts?: { first?: LiveSnapshot; until?: (ev: LiveSnapshot) => boolean }): AsyncIterableIterator<LiveSnapshot>;
  /** Operations as they are created or change. */
  listenOperations(accept: (ev: LiveOperation) => boolean): AsyncIterableIterator<LiveOperation>;
  /** One operation: its state as `current` reads it once listening, then each later stage, until it ends. */
  followOperation(id: string, accept: (ev: LiveOperation) => boolean, current: () => Promise<Operation | null>): AsyncIterableIterator<LiveOperation>;
  /** User messages as they are added. */
  listenMessages(accept: (ev: LiveMessage) => boolean): AsyncIterableIterator<LiveMessage>;
  /** Attachments as they are created or change; stale versions are skipped. */
  listenAttachments(accept: (ev: LiveAttachment) => boolean, opts?: { first?: LiveAttachment; until?: (ev: LiveAttachment) => boolean }): AsyncIterableIterator<LiveAttachment>;
}
