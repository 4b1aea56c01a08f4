/**
 * The backup engine over one repository: manifests and garbage collection here; taking a
 * backup in take-backup.ts; restore and verify in restore-verify.ts.
 *
 * Backup: qemu-nbd serves the image read-only, the NBD client lists allocated extents
 * (block status) and reads only those, chunk by chunk on the fixed grid (chunk-plan.ts),
 * into a bounded set of shared-memory slots; workers hash each chunk, drop zero chunks,
 * and compress the chunks the repository lacks; the manifest is written last.
 *
 * Finding changes (change-tracking.ts, recorded as the manifest's `changeTracking`):
 * a tracked backup of a qcow2 volume (`trackChanges`: its current bytes, not open
 * elsewhere) adds a persistent dirty bitmap named for itself before the image is served
 * (bitmap-session.ts). When the parent backup left its bitmap, consistent, the image is
 * served with `-B <parent bitmap>`, block status is asked for that bitmap's meta context
 * too, and only chunks with a dirty byte are read (`dirty-bitmap`); clean chunks take the
 * parent's entry, so the manifest and checksum equal a full read's. Otherwise, and for raw
 * images, snapshots and forced backups, every allocated chunk is read and hashed
 * (`compare`, or `full` without a parent) and the parent only spares rewriting unchanged
 * chunks.
 *
 * An RBD image (`source.rbd`) is tracked with rbd snapshots instead (rbd-session.ts): a
 * tracked backup creates `backup-<backupId>` and reads it; when the parent's snapshot is
 * still there, `rbd diff --from-snap` gives the extents written since, and only the chunks
 * they touch are read (`rbd-diff`). The allocated extents come from `rbd diff` too.
 */
import { ProcessGroup } from '../../lifecycle/index.js';
import { availableParallelism } from 'node:os';
import { DriverError } from '../drivers/index.js';
import type { ImageSource } from '../drivers/index.js';
import { BitmapSession } from './bitmap-session.js';
import type { ChangeSession } from './change-session.js';
import { RbdSession } from './rbd-session.js';
import type { EngineContext } from './engine-context.js';
import { checkAbort } from './errors.js';
import type { BackupEngine, BackupManifest, BackupRepository, Progress, VerifyResult } from './types.js';
import { liveLeaseHashes } from './lease.js';
import { validateManifest } from './manifest.js';
import { asStore, checkName, LEASE_STALE_MS, type RepoStore } from './repository.js';
import { restoreBackup, verifyChunks } from './restore-verify.js';
import { takeBackup, type BackupRequest } from './take-backup.js';

export class BackupEngineImpl implements BackupEngine {
  private readonly store: RepoStore;
  /** The store, chunk size, workers and process group the operations share. */
  private readonly ctx: EngineContext;

  constructor(
    readonly repository: BackupRepository,
    opts: { chunkSize: number; workers?: number; processes?: ProcessGroup },
  ) {
    this.store = asStore(repository);
    this.ctx = {
      store: this.store,
      chunkSize: opts.chunkSize,
      // Without an owner's group (tests, benchmarks) the engine owns its servers; each is stopped when its operation ends.
      processes: opts.processes ?? new ProcessGroup('backup engine'),
      workers: opts.workers ?? Math.max(1, Math.min(4, availableParallelism())),
    };
  }

  async backup(req: BackupRequest): Promise<BackupManifest> {
    const started = Date.now();
    checkName(req.backupId);
    const what = `backup ${req.backupId} of volume ${req.volumeId}`;
    checkAbort(req.signal, what);
    // A repeated command (NATS redelivery, agent restart) finds the finished backup: idempotent.
    const existing = await this.manifest(req.backupId);
    if (existing) {
      if (existing.volumeId === req.volumeId) return existing;
      throw new DriverError(`${what}: the repository ${this.store.spec} already has a backup ${req.backupId} of volume ${existing.volumeId}; use a new backup id`, { retryable: false });
    }
    const session = { ...req, chunkSize: this.ctx.chunkSize, track: req.trackChanges === true };
    const { rbd } = req.source;
    const tracking: ChangeSession = rbd ? await RbdSession.prepare({ ...session, source: { ...req.source, rbd } }) : await BitmapSession.prepare(session);
    let succeeded = false;
    try {
      const manifest = await takeBackup(this.ctx, req, tracking, what, started);
      succeeded = true;
      return manifest;
    } finally {
      await tracking.finish(succeeded);
    }
  }

  restore(req: { manifest: BackupManifest; target: ImageSource; signal?: AbortSignal; onProgress?: (p: Progress) => void }): Promise<void> {
    return restoreBackup(this.ctx, req);
  }

  async verify(backupId: string, signal?: AbortSignal, onProgress?: (p: Progress) => void): Promise<VerifyResult> {
    const m = await this.manifest(backupId);
    if (!m) throw new DriverError(`backup ${backupId} has no manifest in repository ${this.store.spec}; it was deleted or never finished`, { retryable: false });
    return verifyChunks(this.ctx, m, backupId, signal, onProgress);
  }

  async manifest(backupId: string): Promise<BackupManifest | null> {
    checkName(backupId);
    const text = await this.store.getRecord('manifest', backupId);
    if (text === null) return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new DriverError(`backup ${backupId}: its manifest in repository ${this.store.spec} is not JSON; the record is damaged`, { retryable: false });
    }
    const checked = validateManifest(value);
    if (!checked.ok) throw new DriverError(`backup ${backupId}: its manifest in repository ${this.store.spec} is invalid (${checked.problem})`, { retryable: false });
    return checked.manifest;
  }

  async putManifest(manifest: BackupManifest): Promise<void> {
    const checked = validateManifest(manifest);
    if (!checked.ok) throw new DriverError(`backup record ${String(manifest?.backupId)} is invalid (${checked.problem}); export it again from its source`, { retryable: false });
    const m = checked.manifest;
    const existing = await this.store.getRecord('manifest', m.backupId);
    if (existing !== null) {
      const same = JSON.stringify(JSON.parse(existing)) === JSON.stringify(m);
      if (same) return;
      throw new DriverError(`backup ${m.backupId} already exists in repository ${this.store.spec} with other contents; import it under another id`, { retryable: false });
    }
    await this.store.putRecord('manifest', m.backupId, JSON.stringify(m));
  }

  async deleteManifest(backupId: string): Promise<void> {
    checkName(backupId);
    await this.store.deleteRecord('manifest', backupId);
  }

  async collectGarbage(opts?: { graceMs?: number }): Promise<{ deletedChunks: number; freedBytes: number; keptChunks: number }> {
    const graceMs = opts?.graceMs ?? 0;
    const marker = `gc-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
    // Marker first, then read leases (see repository.ts).
    await this.store.putRecord('gc', marker, JSON.stringify({ startedAt: new Date().toISOString() }));
    try {
      const now = Date.now();
      const segments = [];
      for (const r of await this.store.listRecords('lease')) segments.push({ ...r, text: await this.store.getRecord('lease', r.name) });
      const { hashes: referenced, stale } = liveLeaseHashes(segments, now, LEASE_STALE_MS);
      for (const name of stale) await this.store.deleteRecord('lease', name);
      for (const r of await this.store.listRecords('manifest')) {
        const m = await this.manifest(r.name);
        for (const e of m?.entries ?? []) referenced.add(e.hash);
      }
      let deletedChunks = 0;
      let freedBytes = 0;
      let keptChunks = 0;
      for (const c of await this.store.listChunks()) {
        if (referenced.has(c.hash) || now - c.mtimeMs < graceMs) {
          keptChunks++;
          continue;
        }
        const freed = await this.store.deleteChunk(c.hash);
        if (freed > 0) {
          deletedChunks++;
          freedBytes += freed;
        }
      }
      return { deletedChunks, freedBytes, keptChunks };
    } finally {
      await this.store.deleteRecord('gc', marker);
    }
  }
}
