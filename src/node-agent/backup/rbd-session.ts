/**
 * The rbd steps of one backup of an RBD image, around the engine's read (decisions in
 * rbd-tracking.ts, `rbd` calls in rbd-cli.ts):
 *
 * 1. `prepare`: with `track` (the volume's current bytes), list the image's snapshots,
 *    choose the parent's `backup-<parentId>` if usable (else say why), remove every other
 *    `backup-*` snapshot (crash leftovers), and create `backup-<backupId>`. The engine
 *    serves and reads that snapshot: one point in time, whatever writes the image meanwhile.
 *    Without `track` (a Flint snapshot, a forced backup) the source is read as given.
 *    Either way the allocated extents come from `rbd diff` (qemu's block status on rbd
 *    says little), so only allocated chunks are read.
 * 2. With a parent snapshot, only the chunks `rbd diff --from-snap` touches are read
 *    (`rbd-diff`); when that fails the engine calls `fallBack` and compares instead.
 * 3. `finish`: after a successful backup the parent's snapshot goes (the new one takes its
 *    place for the next backup); after a failed one the new one goes. A failure to remove is
 *    logged, and the next tracked backup's step 1 removes it.
 */
import type { ImageSource, RbdLocation } from '../drivers/index.js';
import type { ChangeSession } from './change-session.js';
import type { Range } from './chunk-plan.js';
import { createSnapshot, diffExtents, listSnapshots, removeSnapshot } from './rbd-cli.js';
import { allocatedFromDiff, chooseParentSnapshot, rbdBackupSnapshotName, staleRbdSnapshots } from './rbd-tracking.js';
import { rbdFilename } from '../drivers/rbd-cli.js';
import type { BackupLog, BackupManifest, ChangeTracking } from './types.js';

const quiet: BackupLog = { info: () => undefined, warn: () => undefined };

export class RbdSession implements ChangeSession {
  readonly bitmap = undefined;
  /** The parent's snapshot to diff from (undefined: compare, or a full backup). */
  private from: string | undefined;
  private readonly parentSnapshot: string | undefined;

  private constructor(
    private readonly log: BackupLog,
    private readonly fields: Record<string, unknown>,
    private readonly ref: RbdLocation,
    readonly source: ImageSource,
    private readonly hasParent: boolean,
    /** The snapshot this backup created and reads, if any. */
    private readonly created: string | undefined,
    from: string | undefined,
  ) {
    this.from = from;
    this.parentSnapshot = from;
  }

  get tracks(): boolean {
    return this.from !== undefined;
  }

  get mode(): ChangeTracking {
    return this.from !== undefined ? 'rbd-diff' : this.hasParent ? 'compare' : 'full';
  }

  async allocatedExtents(): Promise<Range[] | undefined> {
    return allocatedFromDiff(await diffExtents(this.ref, this.ref.snapshot));
  }

  async changedExtents(): Promise<Range[]> {
    if (this.from === undefined) throw new Error('the session has no parent snapshot');
    // Discarded extents (exists: false) changed too: those chunks now read as zeros.
    return diffExtents(this.ref, this.ref.snapshot, this.from);
  }

  fallBack(reason: string): void {
    if (this.from === undefined) return;
    this.from = undefined;
    this.log.info({ ...this.fields, reason }, `${reason}: reading all allocated chunks`);
  }

  async finish(succeeded: boolean): Promise<void> {
    const name = succeeded ? this.parentSnapshot : this.created;
    if (name === undefined) return;
    try {
      await removeSnapshot(this.ref, name);
    } catch (err) {
      this.log.warn({ ...this.fields, snapshot: name, err }, 'could not remove a backup snapshot from the rbd image; the next backup of the volume removes it');
    }
  }

  /** Step 1, for a source with `rbd` set. */
  static async prepare(req: {
    source: ImageSource & { rbd: RbdLocation };
    backupId: string;
    volumeId: string;
    parent: BackupManifest | null;
    chunkSize: number;
    track: boolean;
    log?: BackupLog;
  }): Promise<RbdSession> {
    const log = req.log ?? quiet;
    const fields = { backupId: req.backupId, volumeId: req.volumeId, parentId: req.parent?.backupId ?? null };
    const hasParent = req.parent !== null;
    const untracked = (reason: string | null): RbdSession => {
      if (reason !== null && hasParent) log.info({ ...fields, reason }, `${reason}: reading all allocated chunks`);
      return new RbdSession(log, fields, req.source.rbd, req.source, hasParent, undefined, undefined);
    };
    if (!req.track) return untracked(null);
    if (req.source.rbd.snapshot !== undefined) return untracked('the backup reads a snapshot, which no backup snapshot precedes');
    try {
      const image: RbdLocation = { ...req.source.rbd };
      const snapshots = await listSnapshots(image);
      const choice = chooseParentSnapshot({ parent: req.parent, volumeId: req.volumeId, sizeBytes: req.source.sizeBytes, chunkSize: req.chunkSize, snapshots });
      const stale = staleRbdSnapshots(snapshots, choice.use);
      for (const name of stale) await removeSnapshot(image, name);
      if (stale.length > 0) log.info({ ...fields, removed: stale }, 'removed stale backup snapshots from the rbd image');
      const created = rbdBackupSnapshotName(req.backupId);
      await createSnapshot(image, created);
      const ref = { ...image, snapshot: created };
      const source: ImageSource = { ...req.source, path: rbdFilename(ref), rbd: ref };
      if (choice.use === null) {
        if (hasParent) log.info({ ...fields, reason: choice.reason }, `${choice.reason}: reading all allocated chunks`);
      } else log.info({ ...fields, snapshot: choice.use }, `reading only the chunks written since parent ${req.parent!.backupId} (rbd diff)`);
      return new RbdSession(log, fields, ref, source, hasParent, created, choice.use ?? undefined);
    } catch (err) {
      log.warn({ ...fields, err }, 'could not set up the rbd backup snapshot');
      return untracked(`the rbd backup snapshot could not be set up (${(err as Error).message})`);
    }
  }
}
