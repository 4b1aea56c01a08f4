/**
 * Reading a backup's chunks back from the repository: a restore writes them into an image,
 * a verify checks that each is there, decodes and has its manifest's length.
 */
import { DriverError, type ImageSource } from '../drivers/index.js';
import { zeroRanges } from './chunk-plan.js';
import type { EngineContext } from './engine-context.js';
import { asAbort, checkAbort } from './errors.js';
import { openImage } from './image-io.js';
import { validateManifest } from './manifest.js';
import { Pipeline } from './pipeline.js';
import type { BackupManifest, Progress, VerifyResult } from './types.js';
import { WorkerPool } from './worker-pool.js';

/** Writes the backup `req.manifest` describes into `req.target`: zeroes where it has no chunk, then every chunk. */
export async function restoreBackup(ctx: EngineContext, req: { manifest: BackupManifest; target: ImageSource; signal?: AbortSignal; onProgress?: (p: Progress) => void }): Promise<void> {
  const checked = validateManifest(req.manifest);
  if (!checked.ok) throw new DriverError(`backup ${String(req.manifest?.backupId)}: invalid manifest (${checked.problem})`, { retryable: false });
  const m = checked.manifest;
  const what = `restore of backup ${m.backupId}`;
  checkAbort(req.signal, what);
  const image = await openImage(req.target, true, { processes: ctx.processes });
  const pool = new WorkerPool(ctx.workers, m.entries.reduce((n, e) => Math.max(n, e.length), ctx.chunkSize), ctx.workers * 2 + 2);
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
              const data = await ctx.store.getChunk(e.hash);
              if (data === null) {
                throw new DriverError(`${what}: chunk ${e.hash} (offset ${e.offset}) is missing from repository ${ctx.store.spec}; the backup cannot be restored: verify it and restore another backup`, { retryable: false });
              }
              const r = await pool.decode(slot, data, e.hash);
              if (!r.ok) throw new DriverError(`${what}: chunk ${e.hash} (offset ${e.offset}) in repository ${ctx.store.spec} is corrupt (${r.reason}); the backup cannot be restored: restore another backup`, { retryable: false });
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

/** Reads back and checks the chunks of manifest `m`, stopping at a problem; reports the problem earliest in the manifest among those found. */
export async function verifyChunks(ctx: EngineContext, m: BackupManifest, backupId: string, signal?: AbortSignal, onProgress?: (p: Progress) => void): Promise<VerifyResult> {
  const pool = new WorkerPool(ctx.workers, m.entries.reduce((n, e) => Math.max(n, e.length), ctx.chunkSize), ctx.workers * 2 + 2);
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
              const data = await ctx.store.getChunk(e.hash);
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
