/**
 * A new, empty, unencrypted image made by the agent itself, without a qemu-img process: a
 * create runs on the hot path of every new volume, and a qemu-img spawn cost it ~25 ms and
 * blocked the agent's event loop 7–11 ms. What it writes is what `qemu-img create` writes:
 *
 * - raw, sparse (`preallocation=off`): a file of the size, all holes but its first 4 KiB,
 *   which qemu writes as zeros (file-posix's `allocate_first_block`, so that a later open with
 *   O_DIRECT can probe the alignment);
 * - qcow2: the header, refcount table and block and the empty L1 table of qcow2-image.ts,
 *   every byte of them written (no holes), as qemu does.
 *
 * Anything else (preallocated raw: Node has no fallocate; encryption; a size qcow2-image.ts
 * refuses) is left to qemu-img: `createImageFile` then returns null and writes nothing.
 */
import { promises as fs } from 'node:fs';
import { qcow2Image } from './qcow2-image.js';
import type { ImageFormat, Preallocation } from './qemu-img.js';

/** Zeros written in pieces this large (an L1 table may take up to 32 MiB). */
const ZEROS = Buffer.alloc(1024 * 1024);

/** What qemu writes at the start of a new sparse raw file. */
const RAW_FIRST_BLOCK = 4096;

/** What the caller learns of an image it made: what `qemu-img info` would say of its allocation. */
export interface MadeImage {
  /** Bytes allocated on the host filesystem (st_blocks × 512, qemu's `actual-size`). */
  allocatedBytes: number;
}

/**
 * Creates `path` (which must not exist) as a new image of `sizeBytes`, fsyncs it and returns
 * its allocation; null, having touched nothing, when qemu-img must make it. The caller fsyncs
 * the directory (after its rename into place), and removes `path` when this throws.
 */
export async function createImageFile(path: string, format: ImageFormat, sizeBytes: number, preallocation: Preallocation): Promise<MadeImage | null> {
  if (preallocation !== 'off') return null;
  const qcow2 = format === 'qcow2' ? qcow2Image(sizeBytes) : undefined;
  if (qcow2 === null) return null;
  if (format === 'raw' && !(Number.isSafeInteger(sizeBytes) && sizeBytes > 0)) return null;
  const handle = await fs.open(path, 'wx', 0o644);
  try {
    if (qcow2) {
      // Every byte, zeros too, as qemu-img create writes them: qemu later rewrites these
      // clusters in place (a refcount block flush writes all 64 KiB of it), and on a full disk
      // a write into a hole fails where an overwrite cannot. With holes there, an image lost
      // the refcounts of its bitmap's clusters while its pool was full (the chaos suite found
      // it corrupt: "refcount=0 reference=1").
      const head = Buffer.alloc(Math.min(qcow2.fileSize, qcow2.l1Offset));
      for (const w of qcow2.writes) w.bytes.copy(head, w.offset);
      await writeAll(handle, head, 0);
      for (let at = head.length; at < qcow2.fileSize; at += ZEROS.length) await writeAll(handle, ZEROS.subarray(0, Math.min(ZEROS.length, qcow2.fileSize - at)), at);
    } else {
      await handle.truncate(sizeBytes);
      await writeAll(handle, Buffer.alloc(Math.min(RAW_FIRST_BLOCK, sizeBytes)), 0);
    }
    await handle.sync();
    const st = await handle.stat();
    return { allocatedBytes: st.blocks * 512 };
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: fs.FileHandle, bytes: Buffer, offset: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, offset + done);
    done += bytesWritten;
  }
}
