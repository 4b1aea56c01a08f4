/**
 * What take-backup.ts asks of a backup's change tracking, whichever kind: a qcow2 dirty
 * bitmap (bitmap-session.ts) or rbd snapshots and `rbd diff` (rbd-session.ts).
 */
import type { ImageSource } from '../drivers/index.js';
import type { Range } from './chunk-plan.js';
import type { NbdClient } from './nbd-client.js';
import type { ChangeTracking } from './types.js';

export interface ChangeSession {
  /** The image to serve and read (an rbd session reads the snapshot it created). */
  readonly source: ImageSource;
  /** A persistent dirty bitmap to serve with `qemu-nbd -B` (and read with `changedExtents`). */
  readonly bitmap: string | undefined;
  /** Whether `changedExtents` can say what changed since the parent (else every allocated chunk is read). */
  readonly tracks: boolean;
  /** How the backup finds its changes, as things stand. */
  readonly mode: ChangeTracking;
  /** The allocated extents of `source`, when the session knows them without the NBD server; undefined: ask the server. */
  allocatedExtents(): Promise<Range[] | undefined>;
  /** The extents written since the parent (only when `tracks`). */
  changedExtents(client: NbdClient): Promise<Range[]>;
  /** Tracking failed: read every allocated chunk instead. */
  fallBack(reason: string): void;
  /** After the backup: keep what the next backup needs, remove the rest. Never throws. */
  finish(succeeded: boolean): Promise<void>;
}
