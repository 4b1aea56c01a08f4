/**
 * Taking one backup: serve the image (with the parent's dirty bitmap when the session has
 * one), decide which chunks to read, read them into the worker pool's slots, hash them,
 * write the chunks the repository lacks, and write the manifest last.
 */
import { DriverError } from '../drivers/index.js';
import type { ChangeSession } from './change-session.js';
import { planFromBitmap } from './change-tracking.js';
import { planChunks, totalLength, volumeChecksum, type PlannedChunk } from './chunk-plan.js';
import type { EngineContext } from './engine-context.js';
import { asAbort, checkAbort } from './errors.js';
import { openImage, type OpenImage } from './image-io.js';
import { Lease } from './lease.js';
import type { NbdClient } from './nbd-client.js';
import { dirtyBitmapContext } from './nbd-protocol.js';
import { Pipeline } from './pipeline.js';
import type { BackupEngine, BackupManifest, ManifestEntry } from './types.js';
import { WorkerPool } from './worker-pool.js';

const DEFAULT_CODEC = 'lz4' as const;

export type BackupRequest = Parameters<BackupEngine['backup']>[0];

/** Serves the session's image, with the parent's bitmap when the session has one (and without it, comparing, when that fails). */
async function openForBackup(ctx: EngineContext, tracking: ChangeSession): Promise<OpenImage> {
  const source = tracking.source;
  const bitmap = tracking.bitmap;
  if (bitmap === undefined) return openImage(source, false, { processes: ctx.processes });
  try {
    const image = await openImage(source, false, { bitmap, processes: ctx.processes });
    if (image.client.hasContext(dirtyBitmapContext(bitmap))) return image;
    await image.close();
    tracking.fallBack(`qemu-nbd did not offer the meta context of bitmap ${bitmap}`);
  } catch (err) {
    tracking.fallBack(`qemu-nbd could not serve bitmap ${bitmap} (${(err as Error).message})`);
  }
  return openImage(source, false, { processes: ctx.processes });
}

/**
 * Which chunks to read. With a bitmap: the dirty ones, plus the clean ones whose parent
 * chunk the repository lost; the other clean ones take the parent's entry (protected by
 * the lease first, then checked: repository.ts), recorded in `entries`/`chunkHashes`.
 */
async function chunksToRead(
  ctx: EngineContext,
  client: NbdClient,
  plan: PlannedChunk[],
  tracking: ChangeSession,
  parent: BackupManifest | null,
  lease: Lease,
  found: { entries: Map<number, ManifestEntry>; chunkHashes: Map<number, string> },
): Promise<{ read: PlannedChunk[]; reusedBytes: number }> {
  if (!tracking.tracks || !parent) return { read: plan, reusedBytes: 0 };
  let bitmapPlan;
  try {
    if (client.size !== parent.sizeBytes) throw new Error(`the export is ${client.size} bytes, the parent ${parent.sizeBytes}`);
    bitmapPlan = planFromBitmap(plan, await tracking.changedExtents(client), parent.entries, client.size, ctx.chunkSize);
  } catch (err) {
    tracking.fallBack(`the changed extents (${tracking.mode}) could not be read (${(err as Error).message})`);
    return { read: plan, reusedBytes: 0 };
  }
  await Promise.all(bitmapPlan.reuse.map((r) => lease.protect(r.entry.hash)));
  const lost: PlannedChunk[] = [];
  let reusedBytes = 0;
  let next = 0;
  const check = async (): Promise<void> => {
    for (let r = bitmapPlan.reuse[next++]; r; r = bitmapPlan.reuse[next++]) {
      if (await ctx.store.hasChunk(r.entry.hash)) {
        found.entries.set(r.entry.offset, r.entry);
        found.chunkHashes.set(r.entry.offset, r.entry.hash);
        reusedBytes += r.entry.length;
      } else lost.push(r.chunk);
    }
  };
  await Promise.all(Array.from({ length: 16 }, check));
  return { read: [...bitmapPlan.read, ...lost].sort((a, b) => a.offset - b.offset), reusedBytes };
}

/** Reads the image and writes the chunks the repository lacks, then the manifest (last). */
export async function takeBackup(ctx: EngineContext, req: BackupRequest, tracking: ChangeSession, what: string, started: number): Promise<BackupManifest> {
  const image = await openForBackup(ctx, tracking);
  const pool = new WorkerPool(ctx.workers, ctx.chunkSize, ctx.workers * 2 + 2);
  const lease = new Lease(ctx.store, req.backupId, req.signal);
  try {
    const { client } = image;
    const sizeBytes = client.size;
    const allocated = planChunks((await tracking.allocatedExtents()) ?? (await client.allocatedExtents()), sizeBytes, ctx.chunkSize);
    const entries = new Map<number, ManifestEntry>();
    const chunkHashes = new Map<number, string>();
    const { read: plan, reusedBytes } = await chunksToRead(ctx, client, allocated, tracking, req.parent, lease, { entries, chunkHashes });
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
                } else if (await ctx.store.hasChunk(hash)) {
                  dedupBytes += chunk.length;
                  writes.set(hash, Promise.resolve());
                } else {
                  write = (async () => {
                    const enc = await pool.encode(slot, chunk.length, DEFAULT_CODEC);
                    checkAbort(req.signal, what);
                    await ctx.store.putChunk(hash, enc.data);
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
    const sha256 = volumeChecksum(sizeBytes, ctx.chunkSize, chunkHashes);
    const list = [...entries.values()].sort((a, b) => a.offset - b.offset);
    await ctx.store.sync();
    const manifest: BackupManifest = {
      format: 'flint-backup/1',
      backupId: req.backupId,
      volumeId: req.volumeId,
      sizeBytes,
      chunkSize: ctx.chunkSize,
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
    await ctx.store.putRecord('manifest', req.backupId, JSON.stringify(manifest));
    return manifest;
  } catch (err) {
    throw asAbort(err, req.signal, what);
  } finally {
    await lease.release();
    await pool.close();
    await image.close();
  }
}
