/**
 * The bitmap steps of one tracked backup, around the engine's read (decisions in
 * change-tracking.ts, qemu-img calls in drivers/qcow2-bitmaps.ts):
 *
 * 1. `prepare`, before the image is served: list the image's bitmaps, choose the parent's
 *    if usable (else say why), remove every other `flint-backup-*` bitmap (crash
 *    leftovers, unusable ones), and add `flint-backup-<backupId>`, enabled, so it records
 *    every write after exactly the bytes this backup reads. The volume is not open
 *    elsewhere (AVAILABLE → BACKING_UP), so nothing writes between the add and the read;
 *    the add needs the image's write lock, so it fails rather than track an image another
 *    process writes.
 * 2. The engine serves the image with `-B <parent bitmap>` and reads only dirty chunks;
 *    when anything about the bitmap fails it calls `fallBack` and compares instead.
 * 3. `finish`: after a successful backup the parent's bitmap goes (the new one takes its
 *    place); after a failed or cancelled one the new one goes (the parent's stays, for the
 *    next try). A failure to remove is logged, and the next tracked backup's step 1 removes it.
 */
import { qcow2Bitmaps, type ImageSource } from '../drivers/index.js';
import type { ChangeSession } from './change-session.js';
import { chooseParentBitmap, staleBitmaps } from './change-tracking.js';
import type { Range } from './chunk-plan.js';
import type { NbdClient } from './nbd-client.js';
import type { BackupLog, BackupManifest, ChangeTracking } from './types.js';

const quiet: BackupLog = { info: () => undefined, warn: () => undefined };

export class BitmapSession implements ChangeSession {
  /** The parent's bitmap to serve and read (undefined: compare, or a full backup). */
  private serving: string | undefined;
  /** The parent's bitmap kept in the image by `prepare` (removed after a success). */
  private readonly parentBitmap: string | undefined;
  /** This backup's bitmap, once added. */
  private readonly added: string | undefined;

  private constructor(
    private readonly log: BackupLog,
    private readonly fields: Record<string, unknown>,
    readonly source: ImageSource,
    private readonly hasParent: boolean,
    state: { serving?: string; added?: string },
    /** The image's key, when encrypted. */
    private readonly keyed: { key: string | undefined },
  ) {
    this.serving = state.serving;
    this.parentBitmap = state.serving;
    this.added = state.added;
  }

  /** The bitmap to serve with `qemu-nbd -B` and read, if any. */
  get bitmap(): string | undefined {
    return this.serving;
  }

  get tracks(): boolean {
    return this.serving !== undefined;
  }

  /** qemu-nbd's block status answers for the allocated extents. */
  allocatedExtents(): Promise<Range[] | undefined> {
    return Promise.resolve(undefined);
  }

  changedExtents(client: NbdClient): Promise<Range[]> {
    if (this.serving === undefined) return Promise.reject(new Error('the session serves no bitmap'));
    return client.dirtyExtents(this.serving);
  }

  /** How the backup finds its changes, as things stand. */
  get mode(): ChangeTracking {
    return this.serving ? 'dirty-bitmap' : this.hasParent ? 'compare' : 'full';
  }

  /**
   * Step 1. With `track` false (a snapshot, a forced backup of an IN_USE volume), a raw
   * image or any failure, the session tracks nothing and the backup reads every allocated chunk.
   */
  static async prepare(req: {
    source: ImageSource;
    backupId: string;
    volumeId: string;
    parent: BackupManifest | null;
    chunkSize: number;
    track: boolean;
    log?: BackupLog;
  }): Promise<BitmapSession> {
    const log = req.log ?? quiet;
    const keyed = { key: req.source.key };
    const fields = { backupId: req.backupId, volumeId: req.volumeId, parentId: req.parent?.backupId ?? null };
    const none = (reason: string | null): BitmapSession => {
      if (reason !== null && req.parent) log.info({ ...fields, reason }, `${reason}: reading all allocated chunks`);
      return new BitmapSession(log, fields, req.source, req.parent !== null, {}, keyed);
    };
    if (!req.track) return none(null);
    if (req.source.format !== 'qcow2') return none(`a ${req.source.format} image keeps no dirty bitmap`);
    if (req.source.snapshotName !== undefined) return none('the backup reads a snapshot, which no bitmap describes');
    const path = req.source.path;
    try {
      // An encrypted image opens (to change its bitmaps) only with its key.
      const bitmaps = await qcow2Bitmaps.listBitmaps(path);
      const choice = chooseParentBitmap({ parent: req.parent, volumeId: req.volumeId, sizeBytes: req.source.sizeBytes, chunkSize: req.chunkSize, bitmaps });
      const stale = staleBitmaps(bitmaps, choice.use);
      for (const name of stale) await qcow2Bitmaps.removeBitmap(path, name, keyed);
      if (stale.length > 0) log.info({ ...fields, removed: stale }, 'removed stale backup bitmaps from the image');
      const added = qcow2Bitmaps.backupBitmapName(req.backupId);
      await qcow2Bitmaps.addBitmap(path, added, keyed);
      const session = new BitmapSession(log, fields, req.source, req.parent !== null, { serving: choice.use ?? undefined, added }, keyed);
      if (choice.use === null) {
        if (req.parent) log.info({ ...fields, reason: choice.reason }, `${choice.reason}: reading all allocated chunks`);
      } else log.info({ ...fields, bitmap: choice.use }, `reading only the chunks written since parent ${req.parent!.backupId} (dirty bitmap)`);
      return session;
    } catch (err) {
      log.warn({ ...fields, err }, 'could not set up the dirty bitmap of the backup');
      return none(`the image's dirty bitmaps could not be set up (${(err as Error).message})`);
    }
  }

  /** Step 2 failed: read every allocated chunk instead (the new bitmap stays: it is right whatever this backup reads). */
  fallBack(reason: string): void {
    if (!this.serving) return;
    this.serving = undefined;
    this.log.info({ ...this.fields, reason }, `${reason}: reading all allocated chunks`);
  }

  /** Step 3. Never throws. */
  async finish(succeeded: boolean): Promise<void> {
    const name = succeeded ? this.parentBitmap : this.added;
    if (name === undefined) return;
    try {
      await qcow2Bitmaps.removeBitmap(this.source.path, name, this.keyed);
    } catch (err) {
      this.log.warn({ ...this.fields, bitmap: name, err }, 'could not remove a backup bitmap from the image; the next backup of the volume removes it');
    }
  }
}
