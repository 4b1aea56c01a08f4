/**
 * The backup engine's pipeline. Backup: qemu-nbd serves the image read-only, the NBD
 * client lists allocated extents (block status) and reads only those, chunk by chunk on
 * the fixed grid (chunk-plan.ts), into a bounded set of shared-memory slots; workers hash
 * each chunk, drop zero chunks, and compress the chunks the repository lacks; the
 * manifest is written last.
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
 */
import { ProcessGroup } from '../../lifecycle/index.js';
import { availableParallelism } from 'node:os';
import { DriverError } from '../drivers/index.js';
import type { ImageSource } from '../drivers/index.js';
import { BitmapSession } from './bitmap-session.js';
import { planFromBitmap } from './change-tracking.js';
import { planChunks, totalLength, volumeChecksum, zeroRanges, type PlannedChunk } from './chunk-plan.js';
import { BackupAbortedError } from './errors.js';
import type { BackupEngine, BackupManifest, BackupRepository, ManifestEntry, Progress, VerifyResult } from './types.js';
import { openImage, type OpenImage } from './image-io.js';
import { dirtyBitmapContext, type NbdClient } from './nbd-client.js';
import { Pipeline } from './pipeline.js';
import { Lease, liveLeaseHashes } from './lease.js';
import { validateManifest } from './manifest.js';
import { asStore, checkName, LEASE_STALE_MS, type RepoStore } from './repository.js';
import { WorkerPool } from './worker-pool.js';

const DEFAULT_CODEC = 'lz4' as const;

type BackupRequest = Parameters<BackupEngine['backup']>[0];

function checkAbort(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new BackupAbortedError(`${what} was cancelled`, { cause: signal.reason });
}

/** A failure that happened because the operation was cancelled is reported as the cancellation. */
function asAbort(err: unknown, signal: AbortSignal | undefined, what: string): unknown {
  if (signal?.aborted && !(err instanceof BackupAbortedError)) return new BackupAbortedError(`${what} was cancelled`, { cause: err });
  return err;
}

export class BackupEngineImpl implements BackupEngine {
  private readonly store: RepoStore;
  private readonly workers: number;
  private readonly chunkSize: number;
  /** Owns the qemu-nbd processes that serve the images being read or written. */
  private readonly processes: ProcessGroup;

  constructor(
    readonly repository: BackupRepository,
    opts: { chunkSize: number; workers?: number; processes?: ProcessGroup },
  ) {
    this.store = asStore(repository);
    this.chunkSize = opts.chunkSize;
    // Without an owner's group (tests, benchmarks) the engine owns its servers; each is stopped when its operation ends.
    this.processes = opts.processes ?? new ProcessGroup('backup engine');
    this.workers = opts.workers ?? Math.max(1, Math.min(4, availableParallelism()));
  }

  private pool(): WorkerPool {
    return new WorkerPool(this.workers, this.chunkSize, this.workers * 2 + 2);
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
    const tracking = await BitmapSession.prepare({ ...req, chunkSize: this.chunkSize, track: req.trackChanges === true });
    let succeeded = false;
    try {
      const manifest = await this.take(req, tracking, what, started);
      succeeded = true;
      return manifest;
    } finally {
      await tracking.finish(succeeded);
    }
  }

  /** Serves the image, with the parent's bitmap when the session has one (and without it, comparing, when that fails). */
  private async openForBackup(source: ImageSource, tracking: BitmapSession): Promise<OpenImage> {
    const bitmap = tracking.bitmap;
    if (bitmap === undefined) return openImage(source, false, { processes: this.processes });
    try {
      const image = await openImage(source, false, { bitmap, processes: this.processes });
      if (image.client.hasContext(dirtyBitmapContext(bitmap))) return image;
      await image.close();
      tracking.fallBack(`qemu-nbd did not offer the meta context of bitmap ${bitmap}`);
    } catch (err) {
      tracking.fallBack(`qemu-nbd could not serve bitmap ${bitmap} (${(err as Error).message})`);
    }
    return openImage(source, false, { processes: this.processes });
  }

  /**
   * Which chunks to read. With a bitmap: the dirty ones, plus the clean ones whose parent
   * chunk the repository lost; the other clean ones take the parent's entry (protected by
   * the lease first, then checked: repository.ts), recorded in `entries`/`chunkHashes`.
   */
  private async chunksToRead(
    client: NbdClient,
    plan: PlannedChunk[],
    tracking: BitmapSession,
    parent: BackupManifest | null,
    lease: Lease,
    found: { entries: Map<number, ManifestEntry>; chunkHashes: Map<number, string> },
  ): Promise<{ read: PlannedChunk[]; reusedBytes: number }> {
    const bitmap = tracking.bitmap;
    if (bitmap === undefined || !parent) return { read: plan, reusedBytes: 0 };
    let bitmapPlan;
    try {
      if (client.size !== parent.sizeBytes) throw new Error(`the export is ${client.size} bytes, the parent ${parent.sizeBytes}`);
      bitmapPlan = planFromBitmap(plan, await client.dirtyExtents(bitmap), parent.entries, client.size, this.chunkSize);
    } catch (err) {
      tracking.fallBack(`the dirty extents of bitmap ${bitmap} could not be read (${(err as Error).message})`);
      return { read: plan, reusedBytes: 0 };
    }
    await Promise.all(bitmapPlan.reuse.map((r) => lease.protect(r.entry.hash)));
    const lost: PlannedChunk[] = [];
    let reusedBytes = 0;
    let next = 0;
    const check = async (): Promise<void> => {
      for (let r = bitmapPlan.reuse[next++]; r; r = bitmapPlan.reuse[next++]) {
        if (await this.store.hasChunk(r.entry.hash)) {
          found.entries.set(r.entry.offset, r.entry);
          found.chunkHashes.set(r.entry.offset, r.entry.hash);
          reusedBytes += r.entry.length;
        } else lost.push(r.chunk);
      }
    };
    await Promise.all(Array.from({ length: 16 }, check));
    return { read: [...bitmapPlan.read, ...lost].sort((a, b) => a.offset - b.offset), reusedBytes };
  }

  private async take(req: BackupRequest, tracking: BitmapSession, what: string, started: number): Promise<BackupManifest> {
    const image = await this.openForBackup(req.source, tracking);
    const pool = this.pool();
    const lease = new Lease(this.store, req.backupId, req.signal);
    try {
      const { client } = image;
      const sizeBytes = client.size;
      const allocated = planChunks(await client.allocatedExtents(), sizeBytes, this.chunkSize);
      const entries = new Map<number, ManifestEntry>();
      const chunkHashes = new Map<number, string>();
      const { read: plan, reusedBytes } = await this.chunksToRead(client, allocated, tracking, req.parent, lease, { entries, chunkHashes });
      const totalBytes = plan.reduce((n, c) => n + totalLength(c.reads), 0);
      const writes = new Map<string, Promise<void>>();
      let storedBytes = 0;
      let dedupBytes = reusedBytes;
      let doneBytes = 0;
      const pipeline = new Pipeline();

      await pipeline.runAll(async () => {
        for (const chunk of plan) {
          checkAbort(req.signal, what);
          if (pipeline.failed) break;
          const slot = await pool.acquire();
          const view = pool.view(slot, chunk.length);
          try {
            view.fill(0);
            await Promise.all(chunk.reads.map((r) => client.read(r.offset, view.subarray(r.offset - chunk.offset, r.offset - chunk.offset + r.length))));
          } catch (err) {
            pool.release(slot);
            throw new DriverError(`${what}: cannot read ${req.source.path} at offset ${chunk.offset} (${(err as Error).message})`, { cause: err });
          }
          const readBytes = totalLength(chunk.reads);
          pipeline.add(
            (async () => {
              try {
                const { hash, zero } = await pool.hash(slot, chunk.length);
                chunkHashes.set(chunk.offset, hash);
                if (!zero) {
                  // Protect first (lease), then look: see repository.ts.
                  await lease.protect(hash);
                  let write = writes.get(hash);
                  if (write) {
                    dedupBytes += chunk.length;
                  } else if (await this.store.hasChunk(hash)) {
                    dedupBytes += chunk.length;
                    writes.set(hash, Promise.resolve());
                  } else {
                    write = (async () => {
                      const enc = await pool.encode(slot, chunk.length, DEFAULT_CODEC);
                      checkAbort(req.signal, what);
                      await this.store.putChunk(hash, enc.data);
                      storedBytes += enc.data.length;
                    })();
                    writes.set(hash, write);
                  }
                  await write;
                  entries.set(chunk.offset, { offset: chunk.offset, length: chunk.length, hash });
                }
              } finally {
                pool.release(slot);
              }
              doneBytes += readBytes;
              req.onProgress?.({ doneBytes, totalBytes });
            })(),
          );
        }
      });
      checkAbort(req.signal, what);
      const sha256 = volumeChecksum(sizeBytes, this.chunkSize, chunkHashes);
      const list = [...entries.values()].sort((a, b) => a.offset - b.offset);
      await this.store.sync();
      const manifest: BackupManifest = {
        format: 'flint-backup/1',
        backupId: req.backupId,
        volumeId: req.volumeId,
        sizeBytes,
        chunkSize: this.chunkSize,
        entries: list,
        sha256,
        parentId: req.parent?.backupId ?? null,
        codec: DEFAULT_CODEC,
        createdAt: new Date().toISOString(),
        dataBytes: totalLength(list),
        storedBytes,
        dedupBytes,
        durationMs: Date.now() - started,
        readBytes: client.bytesRead,
        changeTracking: tracking.mode,
      };
      checkAbort(req.signal, what);
      await this.store.putRecord('manifest', req.backupId, JSON.stringify(manifest));
      return manifest;
    } catch (err) {
      throw asAbort(err, req.signal, what);
    } finally {
      await lease.release();
      await pool.close();
      await image.close();
    }
  }

  async restore(req: { manifest: BackupManifest; target: ImageSource; signal?: AbortSignal; onProgress?: (p: Progress) => void }): Promise<void> {
    const checked = validateManifest(req.manifest);
    if (!checked.ok) throw new DriverError(`backup ${String(req.manifest?.backupId)}: invalid manifest (${checked.problem})`, { retryable: false });
    const m = checked.manifest;
    const what = `restore of backup ${m.backupId}`;
    checkAbort(req.signal, what);
    const image = await openImage(req.target, true, { processes: this.processes });
    const pool = new WorkerPool(this.workers, m.entries.reduce((n, e) => Math.max(n, e.length), this.chunkSize), this.workers * 2 + 2);
    try {
      const { client } = image;
      if (client.size < m.sizeBytes) {
        throw new DriverError(`${what}: the target image ${req.target.path} has ${client.size} bytes, the backup ${m.sizeBytes}; extend the target first`, { retryable: false });
      }
      const totalBytes = m.dataBytes;
      let doneBytes = 0;
      for (const z of zeroRanges(m.entries, m.sizeBytes)) {
        checkAbort(req.signal, what);
        await client.writeZeroes(z.offset, z.length);
      }
      const pipeline = new Pipeline();
      await pipeline.runAll(async () => {
        for (const e of m.entries) {
          checkAbort(req.signal, what);
          if (pipeline.failed) break;
          const slot = await pool.acquire();
          pipeline.add(
            (async () => {
              try {
                const data = await this.store.getChunk(e.hash);
                if (data === null) {
                  throw new DriverError(`${what}: chunk ${e.hash} (offset ${e.offset}) is missing from repository ${this.store.spec}; the backup cannot be restored: verify it and restore another backup`, { retryable: false });
                }
                const r = await pool.decode(slot, data, e.hash);
                if (!r.ok) throw new DriverError(`${what}: chunk ${e.hash} (offset ${e.offset}) in repository ${this.store.spec} is corrupt (${r.reason}); the backup cannot be restored: restore another backup`, { retryable: false });
                if (r.length !== e.length) throw new DriverError(`${what}: chunk ${e.hash} (offset ${e.offset}) holds ${r.length} bytes, the manifest says ${e.length}; restore another backup`, { retryable: false });
                await client.write(e.offset, pool.view(slot, e.length));
              } finally {
                pool.release(slot);
              }
              doneBytes += e.length;
              req.onProgress?.({ doneBytes, totalBytes });
            })(),
          );
        }
      });
      checkAbort(req.signal, what);
      await client.flush();
    } catch (err) {
      throw asAbort(err, req.signal, what);
    } finally {
      await pool.close();
      await image.close();
    }
  }

  async verify(backupId: string, signal?: AbortSignal, onProgress?: (p: Progress) => void): Promise<VerifyResult> {
    const m = await this.manifest(backupId);
    if (!m) throw new DriverError(`backup ${backupId} has no manifest in repository ${this.store.spec}; it was deleted or never finished`, { retryable: false });
    const pool = new WorkerPool(this.workers, m.entries.reduce((n, e) => Math.max(n, e.length), this.chunkSize), this.workers * 2 + 2);
    const problems: { index: number; hash: string; offset: number; reason: string }[] = [];
    let chunks = 0;
    const totalBytes = m.entries.reduce((n, e) => n + e.length, 0);
    let doneBytes = 0;
    try {
      const pipeline = new Pipeline();
      await pipeline.runAll(async () => {
        for (const [index, e] of m.entries.entries()) {
          checkAbort(signal, `verify of backup ${backupId}`);
          if (problems.length > 0) break;
          const slot = await pool.acquire();
          pipeline.add(
            (async () => {
              try {
                const data = await this.store.getChunk(e.hash);
                if (data === null) {
                  problems.push({ index, hash: e.hash, offset: e.offset, reason: 'missing from the repository' });
                  return;
                }
                const r = await pool.decode(slot, data, e.hash);
                if (!r.ok) problems.push({ index, hash: e.hash, offset: e.offset, reason: `corrupt: ${r.reason}` });
                else if (r.length !== e.length) problems.push({ index, hash: e.hash, offset: e.offset, reason: `holds ${r.length} bytes, the manifest says ${e.length}` });
                else {
                  chunks++;
                  doneBytes += e.length;
                  onProgress?.({ doneBytes, totalBytes });
                }
              } finally {
                pool.release(slot);
              }
            })(),
          );
        }
      });
    } finally {
      await pool.close();
    }
    if (problems.length === 0) return { ok: true, chunks };
    const first = problems.reduce((a, b) => (b.index < a.index ? b : a));
    return { ok: false, chunks, problem: { hash: first.hash, offset: first.offset, reason: first.reason } };
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
